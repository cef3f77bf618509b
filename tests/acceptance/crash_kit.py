"""Interrupting a real `terraform apply` of a clone fan-out (kill -9 of terraform's process
group, of the provider process alone, or every array response dropped for a while), then
checking that the next apply converges: what test_crash_recovery and bench/crash_recovery use.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import TERRAFORM, Harness
from nimble_fixtures import PROVIDER_BLOCK, Sim


def master_hcl(name_prefix: str) -> str:
    """The provider block, a 1 GiB master volume `<name_prefix>-master` and its snapshot."""
    return (
        PROVIDER_BLOCK
        + f"""
resource "nimble_volume" "master" {{
  name     = "{name_prefix}-master"
  size_mib = 1024
}}

resource "nimble_snapshot" "base" {{
  name      = "base"
  volume_id = nimble_volume.master.id
}}
"""
    )


FANOUT = (
    master_hcl("${var.prefix}")
    + """
terraform {
  backend "http" {}
}

variable "prefix" { type = string }
variable "clones" { type = number }

resource "nimble_clone_volume" "c" {
  count       = var.clones
  name        = "${var.prefix}-c-${count.index}"
  snapshot_id = nimble_snapshot.base.id
}
"""
)


class StateServer:
    """Terraform's "http" backend: each POST replaces the whole state at once (as remote
    backends do). The local backend rewrites terraform.tfstate in place, and kill -9 of
    terraform mid-apply leaves it empty most of the time (measured: 4 of 5 kills), which no
    provider can recover from; with a remote backend the last persisted state survives."""

    def __init__(self) -> None:
        import http.server
        import threading

        states: dict[str, bytes] = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = states.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                if body is not None:
                    self.wfile.write(body)

            def do_POST(self) -> None:
                states[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.end_headers()

            def do_DELETE(self) -> None:
                states.pop(self.path, None)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


#: Seconds an outage (every /v1 response dropped) lasts in the "unreachable" interruption.
OUTAGE = 10.0


@dataclass
class Trial:
    how: str
    created_before_interrupt: int
    applies_to_converge: int
    orphans: int
    duplicates: int
    in_state: int
    plan_empty: bool


def clones_on_array(sim: Sim, prefix: str) -> list[Any]:
    return [v for n, v in sim.volumes().items() if n.startswith(f"{prefix}-c-")]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
            kids.append(int(entry))
    return kids


def provider_pid(terraform_pid: int) -> int | None:
    """The terraform-provider-nimble child of terraform (the launcher execs Python)."""
    for kid in _children(terraform_pid):
        try:
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace")
        except OSError:
            continue
        if "nimble" in argv and "example" not in argv:
            return kid
    return None


def start_apply(tf: Harness, env: dict[str, str]) -> subprocess.Popen[bytes]:
    assert tf.workdir is not None
    return subprocess.Popen(
        [TERRAFORM, "apply", "-auto-approve", "-no-color", "-input=false"],
        cwd=tf.workdir,
        env={**os.environ, **tf.base_env, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for(cond: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    """Poll until `cond()`; an apply that ends first is a failure of the test set-up."""
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"terraform apply ended (rc={proc.returncode}) before {what}")
        time.sleep(0.05)


def interrupt(how: str, tf: Harness, sim: Sim, env: dict[str, str], prefix: str, at: int) -> int:
    """Start the fan-out apply, interrupt it once `at` clones exist; clones made by then."""
    proc = start_apply(tf, env)
    try:
        wait_for(lambda: len(clones_on_array(sim, prefix)) >= at, proc, f"{at} clones existed")
        if how == "kill-terraform":
            os.killpg(proc.pid, signal.SIGKILL)
        elif how == "kill-provider":
            pid = provider_pid(proc.pid)
            assert pid is not None, "no terraform-provider-nimble child of terraform"
            os.kill(pid, signal.SIGKILL)
        elif how == "unreachable":
            sim.set_faults([{"path": "^/v1/", "drop_rate": 1.0}])
            time.sleep(OUTAGE)
            sim.clear_faults()
        else:
            raise ValueError(how)
        created = len(clones_on_array(sim, prefix))
        proc.wait(timeout=600)
    finally:
        sim.clear_faults()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return created


def run_trial(how: str, tf: Harness, sim: Sim, prefix: str, clones: int, at: int) -> Trial:
    """One trial in `tf.workdir` (holding master and snapshot already): interrupt, re-apply
    until it succeeds (at most 3 applies), then measure. Leaves the clones in place."""
    env = {**sim.env(), "TF_VAR_prefix": prefix, "TF_VAR_clones": str(clones)}
    created = interrupt(how, tf, sim, env, prefix, at)
    applies = 0
    for applies in range(1, 4):  # noqa: B007
        res = tf.terraform(
            "apply", "-auto-approve", "-no-color", "-input=false", env=env, check=False
        )
        if res.returncode == 0:
            break
    else:
        raise AssertionError(f"{how}: no convergence in 3 applies:\n{res.output[-4000:]}")
    state = tf.state(env=env)
    in_state = {
        r["values"]["id"]: r["values"]["name"]
        for a, r in state.resources.items()
        if a.startswith("nimble_clone_volume.c[")
    }
    on_array = clones_on_array(sim, prefix)
    names = [v.name for v in on_array]
    plan = tf.plan_exitcode(env=env)
    return Trial(
        how=how,
        created_before_interrupt=created,
        applies_to_converge=applies,
        orphans=len({v.id for v in on_array} - set(in_state)),
        duplicates=len(names) - len(set(names)),
        in_state=len(in_state),
        plan_empty=plan.returncode == 0,
    )


def reset(tf: Harness, sim: Sim, prefix: str, env: dict[str, str]) -> None:
    """Back to master + snapshot only: clones deleted on the array and dropped from state."""
    from tfnimble.nimble.client import volumes

    for v in clones_on_array(sim, prefix):
        volumes.offline_and_delete_volume(sim.client, v.id, force=True)
    state = tf.state(env=env)
    if any(a.startswith("nimble_clone_volume.c[") for a in state.resources):
        tf.terraform("state", "rm", "-no-color", "nimble_clone_volume.c", env=env)


def prepare(tf: Harness, root: Path, sim: Sim, prefix: str, backend: StateServer) -> dict[str, str]:
    """A working directory with the fan-out configuration (state in `backend`), master and
    snapshot applied."""
    tf.workdir = root / f"crash-{prefix}"
    tf.workdir.mkdir()
    tf.write_config(FANOUT)
    env = {**sim.env(), "TF_VAR_prefix": prefix, "TF_VAR_clones": "0"}
    tf.terraform(
        "init",
        "-no-color",
        "-input=false",
        f"-backend-config=address={backend.url}/state/{prefix}",
        env=env,
    )
    tf.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
    return env
