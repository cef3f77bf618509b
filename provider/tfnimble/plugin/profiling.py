"""Where a provider process spends its CPU: off unless asked for, read by bench/profile_plan.py.

``TFNIMBLE_PROFILE_DIR=DIR`` (Terraform passes its environment on to the providers it
starts): every provider process writes ``DIR/<program>-<pid>.json`` when it shuts down, with
the RPCs it answered (count and CPU seconds of each RPC's own work per method: decode,
engine, resource code and encode, in a worker thread or on the event loop, not the gRPC,
HTTP/2 and TLS work around it; the key is still ``worker_cpu_s``), its CPU seconds in all and
since the server was up (imports and the handshake excluded), and its wall time.

``TFNIMBLE_PROFILE=cprofile`` as well: every thread (the event loop and each worker) runs
under :mod:`cProfile`, and the merged statistics go to ``DIR/<program>-<pid>.pstats``
(read them with :mod:`pstats`); times are each thread's CPU time, not wall time. The
profiler slows the process several times over, so take the CPU figures from a run without it.

Nothing here is imported when the variable is unset; the server then pays nothing.
"""

from __future__ import annotations

import cProfile
import json
import marshal
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

ENV_DIR = "TFNIMBLE_PROFILE_DIR"
ENV_MODE = "TFNIMBLE_PROFILE"
T = TypeVar("T")


class Recorder:
    """RPC counts and CPU of one provider process; written to a file at shutdown."""

    def __init__(self, directory: str, program: str, cprofile: bool) -> None:
        self.directory = Path(directory)
        self.program = program
        self.cprofile = cprofile
        self.counts: dict[str, int] = {}
        self.worker_cpu: dict[str, float] = {}
        self._lock = threading.Lock()
        self._profiles: list[cProfile.Profile] = []
        self._wall0 = time.perf_counter()
        self._serving_cpu0 = 0.0
        if cprofile:
            self.profile_this_thread()

    def profile_this_thread(self) -> None:
        """Run the calling thread under cProfile (a ThreadPoolExecutor initializer)."""
        if not self.cprofile:
            return
        # CPU time of this thread: a worker waiting for work or a loop waiting on its
        # sockets costs nothing, and shows as nothing
        prof = cProfile.Profile(time.thread_time)
        with self._lock:
            self._profiles.append(prof)
        prof.enable()

    def serving(self) -> None:
        """The server is up: CPU from here on is the cost of answering RPCs."""
        self._serving_cpu0 = time.process_time()

    def timed(self, name: str, work: Callable[[], T]) -> Callable[[], T]:
        """`work` (one RPC's decode, engine call and encode), counted and its CPU recorded."""

        def run() -> T:
            t0 = time.thread_time()
            try:
                return work()
            finally:
                cpu = time.thread_time() - t0
                with self._lock:
                    self.counts[name] = self.counts.get(name, 0) + 1
                    self.worker_cpu[name] = self.worker_cpu.get(name, 0.0) + cpu

        return run

    def summary(self) -> dict[str, Any]:
        cpu = time.process_time()
        return {
            "program": self.program,
            "pid": os.getpid(),
            "rpcs": dict(self.counts),
            "rpc_total": sum(self.counts.values()),
            "worker_cpu_s": dict(self.worker_cpu),
            "cpu_s": cpu,
            "serving_cpu_s": cpu - self._serving_cpu0 if self._serving_cpu0 else 0.0,
            "wall_s": time.perf_counter() - self._wall0,
            "cprofile": self.cprofile,
        }

    def write(self) -> None:
        """Write the summary (and the merged profile); never raises."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            stem = self.directory / f"{self.program}-{os.getpid()}"
            if self.cprofile:
                stats = _merged_stats(self._profiles)
                stem.with_suffix(".pstats").write_bytes(marshal.dumps(stats))
            stem.with_suffix(".json").write_text(json.dumps(self.summary()))
        except OSError:
            pass


def _merged_stats(profiles: list[cProfile.Profile]) -> dict[Any, Any]:
    """One pstats table from per-thread profiles (the format pstats.Stats reads from a file).
    Each profile is snapshotted where it stands; the threads are idle at shutdown."""
    merged: dict[Any, Any] = {}
    for prof in profiles:
        prof.snapshot_stats()
        table: Mapping[Any, Any] = prof.stats
        for func, (cc, nc, tt, ct, callers) in table.items():
            if func not in merged:
                merged[func] = (cc, nc, tt, ct, dict(callers))
                continue
            mcc, mnc, mtt, mct, mcallers = merged[func]
            for caller, stat in callers.items():
                old = mcallers.get(caller)
                mcallers[caller] = stat if old is None else _add_caller(old, stat)
            merged[func] = (mcc + cc, mnc + nc, mtt + tt, mct + ct, mcallers)
    return merged


def _add_caller(a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return tuple(x + y for x, y in zip(a, b, strict=True))
    return a + b


def from_env(program: str, env: Mapping[str, str]) -> Recorder | None:
    """The recorder the environment asks for, or None (the normal case)."""
    directory = env.get(ENV_DIR)
    if not directory:
        return None
    return Recorder(directory, program, env.get(ENV_MODE, "") == "cprofile")
