"""Clone fan-out against a do-nothing provider and terraform_data, interleaved in one run.

    .venv/bin/python bench/fanout.py [--counts 20,500] [--repeat 3] [--json]

For each count N, three configurations go through `terraform apply` (from empty state),
`terraform plan` (must show no changes) and `terraform destroy`, round-robin, --repeat times:

* nimble: one nimble_volume + one nimble_snapshot + N nimble_clone_volume against nimble-sim
  (--no-fsync, verified TLS);
* noop: N example_thing of the test-only provider (tests/testprovider: built on our own plugin
  layer, a JSON file per object), the plugin layer's own fixed and per-resource cost;
* terraform_data: N of Terraform's built-in resource, no provider process at all (the floor).

Each figure is the median over the repeats (wall seconds); the ratios are nimble / noop (issue
14's goal: at most 1.0) and noop / terraform_data (what the plugin layer costs). Provider CPU per
RPC comes from the providers' own recorder (tfnimble.plugin.profiling): CPU of every provider
process Terraform started, start-ups included, over every RPC they answered, all three phases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Terraform, log, machine, median, plugin_env, sim, terraform_data_hcl, workspace
from apply_scaling import clones_hcl
from noop import example_hcl

PHASES = ("apply", "plan", "destroy")
KINDS = ("nimble", "noop", "terraform_data")


def provider_cpu(out: Path) -> dict[str, float]:
    """Sum of what every provider process wrote into `out` (none for terraform_data)."""
    tot = {"cpu_s": 0.0, "serving_cpu_s": 0.0, "rpcs": 0.0, "processes": 0.0}
    for p in out.glob("*.json"):
        r = json.loads(p.read_text())
        tot["cpu_s"] += r["cpu_s"]
        tot["serving_cpu_s"] += r["serving_cpu_s"]
        tot["rpcs"] += r["rpc_total"]
        tot["processes"] += 1
    return tot


def one_cycle(tf: Terraform, prof: Path | None) -> tuple[dict[str, float], dict[str, float]]:
    """apply -> plan -> destroy: (wall seconds per phase, provider CPU of the three)."""
    if prof is not None:
        tf.env["TFNIMBLE_PROFILE_DIR"] = str(prof)
    times = {"apply": tf.apply(), "plan": tf.plan_no_changes(), "destroy": tf.destroy()}
    return times, provider_cpu(prof) if prof is not None else {}


def run(counts: list[int], repeat: int = 3, baseline: Path | None = None) -> dict[str, Any]:
    """With `baseline` (another checkout of this repository, with its own venv: `make venv`
    there), nimble and noop run a second time in every round with that checkout's providers
    and plugin layer, as kinds "nimble@base" and "noop@base": an A/B in one run."""
    kinds = KINDS + (("nimble@base", "noop@base") if baseline is not None else ())
    rows: list[dict[str, Any]] = []
    loads = [os.getloadavg()[0]]
    with workspace("nimble-fanout-") as base:
        env = plugin_env(base, example=True)
        with sim(base / "sim") as s:
            for n in counts:
                tfs = {
                    "nimble": Terraform(base / f"nimble-{n}", {**env, **s.env()}),
                    "noop": Terraform(base / f"noop-{n}", dict(env)),
                    "terraform_data": Terraform(base / f"data-{n}", dict(env)),
                }
                if baseline is not None:
                    benv = plugin_env(base / "baseline", example=True, checkout=baseline)
                    tfs["nimble@base"] = Terraform(base / f"nb-{n}", {**benv, **s.env()})
                    tfs["noop@base"] = Terraform(base / f"ob-{n}", dict(benv))
                    tfs["nimble@base"].write(clones_hcl(n, f"b{n}"))
                    tfs["noop@base"].write(example_hcl(n, base / f"store-b{n}"))
                tfs["nimble"].write(clones_hcl(n, f"f{n}"))
                tfs["noop"].write(example_hcl(n, base / f"store-{n}"))
                tfs["terraform_data"].write(terraform_data_hcl(n))
                for tf in tfs.values():
                    tf.init()
                runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
                cpu: dict[str, dict[str, float]] = {}
                for r in range(repeat):
                    # rotate the order, so no kind always runs right after another
                    order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
                    for kind in order:
                        prof = None if kind == "terraform_data" else base / f"prof-{kind}-{n}-{r}"
                        times, c = one_cycle(tfs[kind], prof)
                        runs[kind].append(times)
                        for k, v in c.items():
                            cpu.setdefault(kind, {}).setdefault(k, 0.0)
                            cpu[kind][k] += v
                    loads.append(os.getloadavg()[0])
                med = {k: {p: median([x[p] for x in runs[k]]) for p in PHASES} for k in kinds}
                row: dict[str, Any] = {"count": n, "repeat": repeat, "median_s": med, "runs": runs}
                row["ours_over_noop"] = {p: med["nimble"][p] / med["noop"][p] for p in PHASES}
                row["noop_over_floor"] = {
                    p: med["noop"][p] / med["terraform_data"][p] for p in PHASES
                }
                row["cpu_ms_per_rpc"] = {
                    k: c["cpu_s"] / c["rpcs"] * 1000 for k, c in cpu.items() if c["rpcs"]
                }
                row["serving_cpu_ms_per_rpc"] = {
                    k: c["serving_cpu_s"] / c["rpcs"] * 1000 for k, c in cpu.items() if c["rpcs"]
                }
                row["rpcs_per_cycle"] = {k: c["rpcs"] / repeat for k, c in cpu.items()}
                row["processes_per_cycle"] = {k: c["processes"] / repeat for k, c in cpu.items()}
                log(
                    f"fanout N={n}: "
                    + "; ".join(
                        f"{k} " + "/".join(f"{med[k][p]:.2f}" for p in PHASES) for k in kinds
                    )
                    + " s; cpu ms/RPC "
                    + ", ".join(f"{k} {v:.2f}" for k, v in row["cpu_ms_per_rpc"].items())
                )
                rows.append(row)
    return {"rows": rows, "load_min": min(loads), "load_max": max(loads)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="20,500")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout to compare with")
    args = ap.parse_args()
    m = machine()
    result = run([int(c) for c in args.counts.split(",") if c], args.repeat, args.baseline)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{m['cpu']}, {m['cores']} cores; Terraform {m['terraform']}; median of {args.repeat}; "
        f"load average {result['load_min']:.1f}-{result['load_max']:.1f} during the run"
    )
    print("count phase     nimble   noop  tf_data  nimble/noop  noop/tf_data")
    for r in result["rows"]:
        med = r["median_s"]
        for p in PHASES:
            print(
                f"{r['count']:5d} {p:8s} {med['nimble'][p]:7.2f} {med['noop'][p]:6.2f} "
                f"{med['terraform_data'][p]:8.2f} {r['ours_over_noop'][p]:12.2f} "
                f"{r['noop_over_floor'][p]:13.1f}"
            )
        print(
            "      provider CPU per RPC (start-ups included): "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in r["cpu_ms_per_rpc"].items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
