"""A Python port of terraform-plugin-testing's resource.Test semantics.

A `Case` is a list of `Step`s run in one working directory against the real
`terraform` binary:

- a config step applies its configuration, then requires an empty plan both with
  and without refresh (with `expect_non_empty_plan`, the refreshing plan must show
  changes), then runs its checks on `terraform show -json`;
- `expect_error` turns the step into "apply must fail with this message";
- an import step imports `resource_name` into a fresh working directory with the
  same configuration, requires an empty plan there, and (import_state_verify)
  compares the imported attributes with the ones in the main state;
- the case always ends with `terraform destroy`, then `check_destroy`.

TF_ACC_PERSIST_WORKING_DIR=1 keeps the working directories for inspection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERRAFORM = shutil.which("terraform") or "terraform"
COMMAND_TIMEOUT = float(os.environ.get("TF_ACC_COMMAND_TIMEOUT", "600"))


class TerraformFailed(AssertionError):
    pass


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class State:
    """The values of `terraform show -json`, indexed by resource address."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.resources: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, Any] = {
            k: v.get("value") for k, v in (doc.get("values", {}).get("outputs") or {}).items()
        }
        self._walk(doc.get("values", {}).get("root_module", {}))

    def _walk(self, module: Mapping[str, Any]) -> None:
        for res in module.get("resources", []) or []:
            self.resources[res["address"]] = res
        for child in module.get("child_modules", []) or []:
            self._walk(child)

    def attrs(self, address: str) -> dict[str, Any]:
        if address not in self.resources:
            raise AssertionError(f"{address} is not in state; have {sorted(self.resources)}")
        return dict(self.resources[address]["values"])

    def __contains__(self, address: str) -> bool:
        return address in self.resources


@dataclass
class Step:
    config: str | None = None
    checks: list[Callable[[State], None]] = field(default_factory=list)
    expect_error: str | None = None
    expect_non_empty_plan: bool = False
    #: address -> expected actions, e.g. {"nimble_volume.v": ["update"]} or ["delete","create"]
    expect_actions: dict[str, list[str]] = field(default_factory=dict)
    plan_only: bool = False
    preconfig: Callable[[], None] | None = None
    import_state: bool = False
    resource_name: str | None = None
    import_state_id: str | Callable[[State], str] | None = None
    import_state_verify: bool = False
    import_state_verify_ignore: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Case:
    steps: list[Step]
    check_destroy: Callable[[], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


class Harness:
    def __init__(self, base_env: Mapping[str, str], root: Path) -> None:
        self.base_env = dict(base_env)
        self.root = root
        self.workdir: Path | None = None
        self.log: list[Result] = []

    # --- running terraform ---------------------------------------------------------------

    def terraform(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> Result:
        argv = [TERRAFORM, *args]
        full_env = {**os.environ, **self.base_env, **(env or {})}
        start = time.monotonic()
        proc = subprocess.run(
            argv,
            cwd=cwd or self.workdir,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        res = Result(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
        self.log.append(res)
        if check and proc.returncode != 0:
            raise TerraformFailed(
                f"terraform {' '.join(args)} failed (rc={proc.returncode}) in {cwd or self.workdir}"
                f":\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return res

    def write_config(self, config: str, cwd: Path | None = None) -> None:
        d = cwd or self.workdir
        assert d is not None
        (d / "main.tf").write_text(config)

    def init(self, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self.terraform("init", "-no-color", "-input=false", cwd=cwd, env=env)

    def state(self, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> State:
        res = self.terraform("show", "-json", "-no-color", cwd=cwd, env=env)
        return State(json.loads(res.stdout or "{}"))

    def plan_exitcode(
        self, *extra: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Result:
        res = self.terraform(
            "plan",
            "-no-color",
            "-input=false",
            "-detailed-exitcode",
            *extra,
            env=env,
            cwd=cwd,
            check=False,
        )
        if res.returncode == 1:
            raise TerraformFailed(f"terraform plan failed:\n{res.output[-6000:]}")
        return res

    def planned_actions(self, env: Mapping[str, str]) -> dict[str, list[str]]:
        self.terraform("plan", "-no-color", "-input=false", "-out=tfplan", env=env)
        res = self.terraform("show", "-json", "-no-color", "tfplan", env=env)
        doc = json.loads(res.stdout)
        return {rc["address"]: rc["change"]["actions"] for rc in doc.get("resource_changes", [])}

    # --- the case runner -------------------------------------------------------------------

    def run(self, case: Case) -> None:
        keep = os.environ.get("TF_ACC_PERSIST_WORKING_DIR") not in (None, "", "0")
        self.workdir = Path(tempfile.mkdtemp(prefix="tfacc-", dir=self.root))
        initialised = False
        initialised_for: set[str] = set()
        last_config: str | None = None
        self._last_good_config: str | None = None
        failure: BaseException | None = None
        try:
            for i, step in enumerate(case.steps):
                env = {**case.env, **step.env}
                if step.preconfig:
                    step.preconfig()
                if step.import_state:
                    self._import_step(i, step, last_config, env)
                    continue
                assert step.config is not None, f"step {i} has no config"
                self.write_config(step.config)
                last_config = step.config
                sources = set(re.findall(r'source\s*=\s*"([^"]+)"', step.config))
                if not initialised or sources != initialised_for:
                    self.init(env=env)
                    initialised, initialised_for = True, sources
                self._config_step(i, step, env)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            try:
                if initialised:
                    self._destroy(case.env)
                if case.check_destroy and failure is None:
                    case.check_destroy()
            finally:
                if not keep:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def _destroy(self, env: Mapping[str, str]) -> None:
        assert self.workdir is not None
        state_file = self.workdir / "terraform.tfstate"
        if not state_file.exists() or not json.loads(state_file.read_text()).get("resources"):
            return
        if self._last_good_config is not None:
            # An expect_error step may have left a config that cannot even be planned.
            self.write_config(self._last_good_config)
        self.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)

    def _config_step(self, i: int, step: Step, env: Mapping[str, str]) -> None:
        if step.plan_only:
            res = self.plan_exitcode(env=env)
            if step.expect_error:
                raise AssertionError(f"step {i}: expected an error, plan succeeded")
            self._check_plan(i, step, res, "plan")
            return
        if step.expect_error:
            res = self.terraform(
                "apply", "-auto-approve", "-no-color", "-input=false", env=env, check=False
            )
            if res.returncode == 0:
                raise AssertionError(f"step {i}: expected an error matching {step.expect_error!r}")
            flat = re.sub(r"\s+", " ", res.output.replace("│", " "))
            if not re.search(step.expect_error, flat, re.S):
                raise AssertionError(
                    f"step {i}: error did not match {step.expect_error!r}:\n{res.output[-4000:]}"
                )
            return
        if step.expect_actions:
            actions = self.planned_actions(env)
            for address, expected in step.expect_actions.items():
                got = actions.get(address, ["no-op"])
                if sorted(got) != sorted(expected):
                    raise AssertionError(f"step {i}: {address} planned {got}, expected {expected}")
            self.terraform("apply", "-no-color", "-input=false", "tfplan", env=env)
        else:
            self.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
        self._last_good_config = step.config
        if step.expect_non_empty_plan:
            # plugin-testing's rule: the refreshing plan after apply must show the change.
            self._check_plan(i, step, self.plan_exitcode(env=env), "plan after apply")
        else:
            for extra in ((), ("-refresh=false",)):
                res = self.plan_exitcode(*extra, env=env)
                self._check_plan(i, step, res, f"plan {' '.join(extra)} after apply".strip())
        if step.checks:
            state = self.state(env=env)
            for check in step.checks:
                check(state)

    def _import_step(self, i: int, step: Step, config: str | None, env: Mapping[str, str]) -> None:
        """Forget the resource, import it back by ID, compare, and require an empty plan.

        Done in the main working directory so that the rest of the configuration is
        still in state and the plan after import is meaningful.
        """
        assert step.resource_name and config is not None, "import needs a prior config step"
        before = self.state(env=env)
        want = before.attrs(step.resource_name)
        if callable(step.import_state_id):
            import_id = step.import_state_id(before)
        elif step.import_state_id is not None:
            import_id = step.import_state_id
        else:
            import_id = want["id"]
        self.terraform("state", "rm", "-no-color", step.resource_name, env=env)
        self.terraform(
            "import", "-no-color", "-input=false", step.resource_name, import_id, env=env
        )
        got = self.state(env=env).attrs(step.resource_name)
        if step.import_state_verify:
            diffs = {
                k: (want.get(k), got.get(k))
                for k in set(want) | set(got)
                if k not in step.import_state_verify_ignore and want.get(k) != got.get(k)
            }
            if diffs:
                raise AssertionError(f"step {i}: imported state differs (state, imported): {diffs}")
        res = self.plan_exitcode(env=env)
        self._check_plan(i, step, res, f"plan after importing {step.resource_name}")

    @staticmethod
    def _check_plan(i: int, step: Step, res: Result, what: str) -> None:
        """An empty plan unless the step expects changes; then a non-empty one (exit code 2)."""
        if step.expect_non_empty_plan and res.returncode != 2:
            raise AssertionError(f"step {i}: expected a non-empty {what}, got an empty one")
        if not step.expect_non_empty_plan and res.returncode == 2:
            raise AssertionError(f"step {i}: {what} is not empty:\n{res.stdout[-6000:]}")
