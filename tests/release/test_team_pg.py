"""Team use: two runners' working directories share one state in Terraform's `pg` backend
on a real PostgreSQL server, with the packaged provider from the network mirror.

Concurrent applies serialize on the state lock: while one apply holds it (it is waiting at
its confirmation prompt, so the lock is held for as long as the test needs, with no timing
margin), the other fails with "Error acquiring the state lock" under -lock-timeout=0s, and
with a -lock-timeout waits, then finds the first one's state and has nothing to do."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import pg_tools, require_release_tools
from harness import State
from nimble_fixtures import Sim
from releasekit import TERRAFORM, Release, Server, loopback_ip, mirror_runner, tf
from test_nimble_fanout import assert_array_matches_state, clone_ids, fanout_config
from testbed import caps

PG_USER = "tfstate"


@dataclass
class Postgres:
    ip: str
    port: int
    password: str

    def env(self) -> dict[str, str]:
        # The password reaches lib/pq through PGPASSWORD, never through argv or the config.
        return {
            "PG_CONN_STR": f"postgres://{PG_USER}@{self.ip}:{self.port}/postgres?sslmode=disable",
            "PGPASSWORD": self.password,
        }


def _service_user() -> str:
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    caps.missing("no unprivileged user (postgres or nobody) to run PostgreSQL as")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    require_release_tools("runuser")
    caps.require_root()
    tools = pg_tools()
    user = _service_user()
    base = Path(tempfile.mkdtemp(prefix="tfnimble-pg-"))
    shutil.chown(base, user)
    password = secrets.token_hex(12)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    shutil.chown(pwfile, user)
    (base / "sock").mkdir()
    shutil.chown(base / "sock", user)
    ip = loopback_ip()
    port = caps.free_port(ip)
    as_user = ["runuser", "-u", user, "--"]
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run(
            [
                *as_user,
                tools["initdb"],
                "-D",
                str(base / "data"),
                "-U",
                PG_USER,
                f"--pwfile={pwfile}",
                "-A",
                "scram-sha-256",
                "--no-sync",
            ],
            **run,
        )
        opts = (
            f"-c listen_addresses={ip} -p {port} -c unix_socket_directories={base / 'sock'} "
            "-c fsync=off"
        )
        subprocess.run(
            [
                *as_user,
                tools["pg_ctl"],
                "-D",
                str(base / "data"),
                "-l",
                str(base / "log"),
                "-w",
                "-o",
                opts,
                "start",
            ],
            **run,
        )
        yield Postgres(ip, port, password)
    finally:
        subprocess.run(
            [*as_user, tools["pg_ctl"], "-D", str(base / "data"), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(base, ignore_errors=True)


class Prompted:
    """A terraform command that stops at its "Enter a value:" prompt, holding the state lock
    until `answer` is called."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = b""
        self.prompted = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            self.output += chunk
            if b"Enter a value:" in self.output:
                self.prompted.set()
        self.prompted.set()

    def wait_for_prompt(self) -> None:
        assert self.prompted.wait(300), "terraform never prompted"
        assert b"Enter a value:" in self.output, self.output.decode()

    def answer(self, text: str) -> tuple[int, str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=600)
        self.reader.join()
        return rc, self.output.decode()


def test_two_runners_share_pg_state_and_serialize_on_its_lock(
    release: Release, server: Server, sim: Sim, postgres: Postgres, tmp_path: Path
) -> None:
    prefix = sim.unique("team")
    env = mirror_runner(
        tmp_path / "home",
        server,
        **sim.env(),
        **postgres.env(),
        TF_VAR_name_prefix=prefix,
        TF_VAR_clone_count="20",
        TF_VAR_image_size_mib="1024",
    )
    config = fanout_config() + '\nterraform {\n  backend "pg" {}\n}\n'
    dirs = []
    for runner in ("a", "b"):
        work = tmp_path / runner
        work.mkdir()
        (work / "main.tf").write_text(config)
        init = tf(work, env, "init", "-input=false", "-no-color")
        assert 'Successfully configured the backend "pg"' in init.stdout, init.stdout
        dirs.append(work)
    a, b = dirs
    before = set(sim.volumes())

    holder = Prompted([TERRAFORM, "apply", "-no-color", "-input=true"], a, env)
    holder.wait_for_prompt()
    # While A holds the lock: B fails at once, saying why ...
    loser = tf(
        b,
        env,
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "-lock-timeout=0s",
        check=False,
    )
    assert loser.returncode != 0
    assert "Error acquiring the state lock" in loser.stderr, loser.stdout + loser.stderr
    assert set(sim.volumes()) == before, "the loser changed the array"
    # ... or, given a lock timeout, waits for A and then finds nothing left to do.
    waiter = subprocess.Popen(
        [TERRAFORM, "apply", "-auto-approve", "-no-color", "-input=false", "-lock-timeout=300s"],
        cwd=b,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rc, out = holder.answer("yes")
    assert rc == 0, out
    assert "Resources: 22 added" in out, out  # 20 clones, the master and its snapshot
    w_out, w_err = waiter.communicate(timeout=600)
    assert waiter.returncode == 0, w_out + w_err
    assert "No changes." in w_out, w_out

    # One state, seen the same from both directories, matching the array.
    states = [State(json.loads(tf(d, env, "show", "-json").stdout)) for d in dirs]
    assert states[0].resources.keys() == states[1].resources.keys()
    assert len(clone_ids(states[1])) == 20
    assert_array_matches_state(sim, prefix, states[1])
    plan = tf(a, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", check=False)
    assert plan.returncode == 0, plan.stdout + plan.stderr

    tf(b, env, "destroy", "-auto-approve", "-input=false", "-no-color")
    assert set(sim.volumes()) == before
