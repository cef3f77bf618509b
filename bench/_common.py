"""Shared helpers for the benchmarks: the machine, a private plugin mirror, terraform, nimble-sim.

Nothing here asserts a time: benchmarks print numbers (and, with --json, one JSON object).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists() else sys.executable


# --- the machine --------------------------------------------------------------------------------


def terraform_version() -> str:
    try:
        out = subprocess.run(
            ["terraform", "version", "-json"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        ).stdout
        return str(json.loads(out)["terraform_version"])
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError):
        return "not found"


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and Terraform versions, date: beside every figure."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = 0.0
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if m:
            ram_gib = int(m.group(1)) / (1 << 20)
    except OSError:
        pass
    os_name = platform.platform()
    try:
        m = re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text())
        if m:
            os_name = f"{m.group(1)} (kernel {platform.release()})"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "ram_gib": round(ram_gib, 1),
        "os": os_name,
        "python": platform.python_version(),
        "terraform": terraform_version(),
        "load1": os.getloadavg()[0],
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def emit(result: dict[str, Any], as_json: bool) -> None:
    """Print the result: one JSON line with --json, otherwise nothing more (callers printed)."""
    if as_json:
        print(json.dumps(result))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- a private plugin mirror and CLI config -----------------------------------------------------


@contextmanager
def workspace(prefix: str = "nimble-bench-") -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def plugin_env(base: Path, example: bool = False, checkout: Path = ROOT) -> dict[str, str]:
    """Install launchers into base/plugins (a filesystem mirror) and return terraform's env.
    The providers are `checkout`'s, run by its own venv's Python (this one by default)."""
    mirror = base / "plugins"
    py = PY if checkout == ROOT else str(checkout / ".venv/bin/python")
    cmd = [
        py,
        str(checkout / "tools/install_plugin.py"),
        "--plugin-dir",
        str(mirror),
        "--python",
        py,
    ]
    if example:
        cmd += ["--extra", f"example={checkout / 'tests/testprovider/main.py'}"]
    subprocess.run(cmd, check=True, capture_output=True)
    rc = base / "terraformrc"
    rc.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/ito/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/ito/*"]\n  }\n}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "NIMBLE_"))}
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(rc),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
    )
    return env


class Terraform:
    """terraform in one working directory; every command is timed (wall seconds)."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.dir = workdir
        self.env = env
        workdir.mkdir(parents=True, exist_ok=True)

    def write(self, hcl: str) -> None:
        (self.dir / "main.tf").write_text(hcl)

    def run(self, *args: str, timeout: float = 1800) -> float:
        t0 = time.perf_counter()
        r = subprocess.run(
            ["terraform", *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        elapsed = time.perf_counter() - t0
        if r.returncode not in (0, 2) or (r.returncode == 2 and "-detailed-exitcode" not in args):
            raise RuntimeError(
                f"terraform {' '.join(args)} failed ({r.returncode}) in {self.dir}:"
                f"\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
            )
        self.last_rc = r.returncode
        return elapsed

    def init(self) -> float:
        return self.run("init", "-no-color")

    def apply(self, *extra: str) -> float:
        return self.run("apply", "-auto-approve", "-no-color", *extra)

    def plan_no_changes(self, *extra: str) -> float:
        t = self.run("plan", "-detailed-exitcode", "-no-color", *extra)
        if self.last_rc != 0:
            raise RuntimeError(f"plan after apply shows changes in {self.dir}")
        return t

    def destroy(self, *extra: str) -> float:
        return self.run("destroy", "-auto-approve", "-no-color", *extra)


def terraform_data_hcl(count: int) -> str:
    return (
        f'resource "terraform_data" "t" {{\n  count = {count}\n'
        '  input = "thing-${count.index}"\n}\n'
    )


# --- nimble-sim -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sim:
    """A nimble-sim child process, its provider env, a token REST session and the admin API."""

    def __init__(self, state_dir: Path, data_plane: bool = False) -> None:
        self.state_dir = state_dir
        self.password = "pw-" + secrets.token_hex(8)
        state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            PY,
            "-m",
            "tfnimble.sim.main",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            str(state_dir),
            "--username",
            "admin",
            "--no-fsync",
            "--log-level",
            "warning",
        ]
        self.portal = ""
        if data_plane:
            # own portal port: never touch a tgtd on 3260 that someone else runs
            self.portal = f"127.0.0.1:{free_port()}"
            cmd += ["--data-plane", "--iscsi-portal", self.portal]
        self.log_path = state_dir.parent / f"{state_dir.name}.log"
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=open(self.log_path, "wb"),  # noqa: SIM115
            env={**os.environ, "NIMBLE_SIM_PASSWORD": self.password},
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"nimble-sim did not start: {self.log_path.read_text()[-2000:]}")
        info = json.loads(line)
        self.url: str = info["url"]
        self.ca_file: str = info["ca_file"]
        self.pid: int = info["pid"]
        self.host, _, port = self.url.removeprefix("https://").rpartition(":")
        self.port = int(port)
        import requests

        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = self.ca_file
        r = self.http.post(
            f"{self.url}/v1/tokens", json={"data": {"username": "admin", "password": self.password}}
        )
        r.raise_for_status()
        self.http.headers["X-Auth-Token"] = r.json()["data"]["session_token"]

    def env(self) -> dict[str, str]:
        return {
            "NIMBLE_HOST": self.host,
            "NIMBLE_PORT": str(self.port),
            "NIMBLE_USERNAME": "admin",
            "NIMBLE_PASSWORD": self.password,
            "NIMBLE_CA_FILE": self.ca_file,
        }

    def call(self, method: str, path: str, data: Any = None, **params: Any) -> Any:
        r = self.http.request(
            method,
            self.url + path,
            json=None if data is None else {"data": data},
            params=params or None,
            timeout=600,
        )
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        auth = base64.b64encode(f"admin:{self.password}".encode()).decode()
        r = self.http.request(
            method,
            f"{self.url}/sim/{path}",
            json=body,
            headers={"Authorization": f"Basic {auth}"},
            timeout=600,
        )
        r.raise_for_status()
        return r.json() if r.content else None

    def pool_usage(self) -> int:
        pools = self.call("GET", "/v1/pools/detail")["data"]
        return sum(int(p.get("usage") or 0) for p in pools)

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def sim(state_dir: Path, data_plane: bool = False) -> Iterator[Sim]:
    s = Sim(state_dir, data_plane=data_plane)
    try:
        yield s
    finally:
        s.stop()


NIMBLE_PROVIDER = """terraform {
  required_providers {
    nimble = { source = "ito/nimble" }
  }
}

provider "nimble" {}
"""


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out
