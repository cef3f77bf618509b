"""Interrupted clone fan-outs and what the next apply leaves: trials / orphans / duplicates.

    .venv/bin/python bench/crash_recovery.py [--trials 10] [--clones 60]
                                             [--how kill-terraform,kill-provider,unreachable]
                                             [--json]

Each trial (tests/acceptance/crash_kit.py, the same code test_crash_recovery runs 3 times per
kind): `terraform apply` of `count = N` nimble_clone_volume starts; once some clones exist on
nimble-sim it is interrupted (kill -9 of terraform's process group; kill -9 of the provider
process alone; or every array response dropped for 10 s); then `terraform apply` runs again
(at most 3 times) and the trial records the applies needed, the clones on the array that no
state holds (orphans), same-named duplicates, the clones in state, and whether the refreshing
plan is empty. The interruption point moves through the fan-out from trial to trial.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "acceptance"))

from _common import emit, log, machine, plugin_env, workspace  # noqa: E402
from crash_kit import StateServer, prepare, reset, run_trial  # noqa: E402
from harness import Harness  # noqa: E402
from nimble_fixtures import start_sim  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--clones", type=int, default=60)
    ap.add_argument("--how", default="kill-terraform,kill-provider,unreachable")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": machine(), "clones": args.clones, "kinds": {}}
    with workspace("nimble-crash-") as base:
        env_tf = plugin_env(base)
        state = base / "sim"
        state.mkdir()
        sim = start_sim(state)
        backend = StateServer()
        try:
            for how in args.how.split(","):
                tf = Harness(env_tf, base)
                prefix = sim.unique(how[:6])
                env = prepare(tf, base, sim, prefix, backend)
                rows = []
                for i in range(args.trials):
                    at = 2 + (i * 7) % max(1, args.clones - 10)
                    trial = run_trial(how, tf, sim, prefix, args.clones, at)
                    log(f"{how} #{i}: {trial}")
                    rows.append(trial)
                    reset(tf, sim, prefix, env)
                tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
                summary = {
                    "trials": len(rows),
                    "interrupted_with_clones_made": sum(r.created_before_interrupt for r in rows),
                    "orphans": sum(r.orphans for r in rows),
                    "duplicates": sum(r.duplicates for r in rows),
                    "converged": sum(
                        r.in_state == args.clones and r.plan_empty and not r.orphans for r in rows
                    ),
                    "applies_to_converge": [r.applies_to_converge for r in rows],
                }
                results["kinds"][how] = summary
                print(
                    f"{how:15} trials {summary['trials']:3}  converged {summary['converged']:3}  "
                    f"orphans {summary['orphans']}  duplicates {summary['duplicates']}  "
                    f"clones made before the interruption {summary['interrupted_with_clones_made']}"
                    f"  applies {summary['applies_to_converge']}"
                )
        finally:
            backend.stop()
            sim.stop()
    emit(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
