"""A provider start that Terraform kills or fails leaves no process behind.

The AutoMTLS certificate is made by a child the provider forks at start (autotls.py). To
kill the provider while that child is certainly alive, the provider's stdout is a pipe that
is already full: the child blocks writing the handshake line, for ever, unless it dies with
its parent.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_process import COOKIE, EXAMPLE_MAIN, make_client_cert

HANG_GUARD_S = 60  # fails a hung test; nothing here waits for a time to pass


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "children").read_text()
        except FileNotFoundError:  # a thread that has just ended
            continue
        found += [int(c) for c in text.split()]
    return found


def wait_for_exit(pid: int) -> None:
    """Block until `pid` (not our child) has exited: its pidfd turns readable."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable, _, _ = select.select([fd], [], [], HANG_GUARD_S)
        assert readable, f"process {pid} outlived the provider it was forked by"
    finally:
        os.close(fd)


@pytest.fixture
def full_pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    os.set_blocking(w, False)
    size = fcntl.fcntl(w, 1032)  # F_GETPIPE_SZ
    try:
        while True:
            os.write(w, b"\0" * size)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    yield r, w
    os.close(r)
    os.close(w)


def start_blocked(tmp_path: Path, stdout_fd: int) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLUGIN_", "TF_"))}
    env.update(
        {
            "TF_PLUGIN_MAGIC_COOKIE": COOKIE,
            "PLUGIN_PROTOCOL_VERSIONS": "6",
            "PLUGIN_CLIENT_CERT": make_client_cert().cert_pem.decode(),
            "EXAMPLE_STORE_DIR": str(tmp_path),
        }
    )
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE_MAIN)],
        env=env,
        stdout=stdout_fd,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    # the fork comes right after the socket is bound; poll /proc until it has happened
    deadline = time.monotonic() + HANG_GUARD_S
    kids: list[int] = []
    while not kids and proc.poll() is None and time.monotonic() < deadline:
        kids = children_of(proc.pid)
        time.sleep(0.005)
    assert len(kids) == 1, f"expected the certificate child, found {kids}"
    return proc, kids[0]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_start_killed_before_its_handshake_leaves_no_process(
    tmp_path: Path, full_pipe: tuple[int, int], sig: signal.Signals
) -> None:
    _, w = full_pipe
    proc, child = start_blocked(tmp_path, w)
    try:
        proc.send_signal(sig)
        assert proc.wait(timeout=HANG_GUARD_S) == -sig
        wait_for_exit(child)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.stderr is not None
    proc.stderr.close()
