"""nimble-sim throughput and memory: prints numbers, asserts nothing.

    .venv/bin/python bench/sim_throughput.py [--seconds 5] [--clients 4] [--json]

Runs ``nimble-sim serve`` as a child process (so its memory is its own), then measures
1. GET /v1/volumes/detail requests/s with 1,000 volumes,
2. clone creations/s from one snapshot,
3. resident memory of the simulator with 10,000 volumes (goal: < 300 MB).

With --json the same lines go to stderr and stdout gets one JSON object of the numbers.
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

USER, PASSWORD = "bench", "bench-password"


class Client:
    def __init__(self, url: str, ca: str) -> None:
        self.url, self.ca = url, ca
        self.s = requests.Session()
        self.s.trust_env = False
        r = self.s.post(
            f"{url}/v1/tokens", json={"data": {"username": USER, "password": PASSWORD}}, verify=ca
        )
        r.raise_for_status()
        self.s.headers["X-Auth-Token"] = r.json()["data"]["session_token"]

    def call(self, method: str, path: str, data: Any = None, **params: Any) -> Any:
        r = self.s.request(
            method,
            self.url + path,
            json=None if data is None else {"data": data},
            params=params or None,
            verify=self.ca,
            timeout=120,
        )
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:200]}")
        return r.json()


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def create_volumes(clients: list[Client], start: int, count: int, size: int = 64) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(
            pool.map(
                lambda i: clients[i % len(clients)].call(
                    "POST", "/v1/volumes", {"name": f"bench-{i:05d}", "size": size}
                ),
                range(start, start + count),
            )
        )
    return count / (time.perf_counter() - t0)


def timed(clients: list[Client], seconds: float, fn) -> tuple[int, float]:
    stop = time.perf_counter() + seconds
    counts = [0] * len(clients)

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            fn(clients[i], i, counts[i])
            counts[i] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--json", action="store_true", help="numbers as one JSON line on stdout")
    args = ap.parse_args()
    out: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds}
    out_file = sys.stderr if args.json else sys.stdout

    def print(*a: Any) -> None:  # the human lines: stderr with --json
        builtins.print(*a, file=out_file, flush=True)

    with tempfile.TemporaryDirectory(prefix="sim-bench-") as state:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tfnimble.sim.main",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
                state,
                "--username",
                USER,
                "--password",
                PASSWORD,
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            url, ca, pid = info["url"], info["ca_file"], info["pid"]
            clients = [Client(url, ca) for _ in range(max(args.clients, 8))]
            print(
                f"host: {platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
            )
            out["baseline_rss_mb"] = rss_mb(pid)[0]
            print(f"baseline RSS: {out['baseline_rss_mb']:.1f} MB")

            rate = out["volume_creates_per_s"] = create_volumes(clients, 0, 1000)
            print(f"volume create (8 clients): {rate:.0f} volumes/s")
            body = clients[0].call("GET", "/v1/volumes/detail")
            assert body["totalRows"] == 1000 and len(body["data"]) == 1000
            readers = clients[: args.clients]
            n, dt = timed(
                readers, args.seconds, lambda c, i, k: c.call("GET", "/v1/volumes/detail")
            )
            out["detail_1000_req_per_s"] = n / dt
            print(
                f"GET /v1/volumes/detail, 1,000 volumes, {len(readers)} clients: "
                f"{n / dt:.1f} requests/s ({n / dt * 1000:.0f} volume objects/s)"
            )
            n, dt = timed(
                readers,
                args.seconds,
                lambda c, i, k: c.call("GET", "/v1/volumes/detail", pageSize=10),
            )
            out["detail_page10_req_per_s"] = n / dt
            print(f"GET /v1/volumes/detail?pageSize=10, 1,000 volumes: {n / dt:.1f} requests/s")

            base = clients[0].call("POST", "/v1/volumes", {"name": "image", "size": 10240})
            snap = clients[0].call(
                "POST", "/v1/snapshots", {"name": "golden", "vol_id": base["data"]["id"]}
            )
            snap_id = snap["data"]["id"]
            cloners = clients[:8]
            n, dt = timed(
                cloners,
                args.seconds,
                lambda c, i, k: c.call(
                    "POST",
                    "/v1/volumes",
                    {"name": f"clone-{i}-{k}", "clone": True, "base_snap_id": snap_id},
                ),
            )
            out["clone_creates_per_s"] = n / dt
            print(f"clone create, 8 clients: {n / dt:.1f} clones/s ({n} clones)")

            total = clients[0].call("GET", "/v1/volumes", pageSize=1)["totalRows"]
            create_volumes(clients, 1000, max(0, 10000 - total))
            total = clients[0].call("GET", "/v1/volumes", pageSize=1)["totalRows"]
            t0 = time.perf_counter()
            clients[0].call("GET", "/v1/volumes/detail", startRow=9000)
            page_ms = (time.perf_counter() - t0) * 1000
            rss, peak = rss_mb(pid)
            out.update(volumes=total, rss_mb=rss, peak_rss_mb=peak, page_at_9000_ms=page_ms)
            print(
                f"{total} volumes: RSS {rss:.1f} MB (peak {peak:.1f} MB); "
                f"GET /v1/volumes/detail?startRow=9000 took {page_ms:.0f} ms"
            )
            size = sum(p.stat().st_size for p in Path(state).glob("sim.sqlite3*"))
            out["state_mb"] = size / 1e6
            print(f"state on disk: {size / 1e6:.1f} MB")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if args.json:
        sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
