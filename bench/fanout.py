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
Per phase it also reports the providers' CPU and RPCs, Terraform's own CPU (the command's
children less the providers), and for nimble the REST requests nimble-sim answered (its
/sim/stats) and the simulator's CPU (from /proc): where the gap to the no-op provider goes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import Terraform, log, machine, median, plugin_env, sim, terraform_data_hcl, workspace
from apply_scaling import clones_hcl
from noop import example_hcl

PHASES = ("apply", "plan", "destroy")
KINDS = ("nimble", "noop", "terraform_data")


def provider_cpu(out: Path) -> dict[str, float]:
    """Sum of what every provider process wrote under `out` (none for terraform_data)."""
    tot = {"cpu_s": 0.0, "serving_cpu_s": 0.0, "rpcs": 0.0, "processes": 0.0}
    for p in out.glob("**/*.json"):
        r = json.loads(p.read_text())
        tot["cpu_s"] += r["cpu_s"]
        tot["serving_cpu_s"] += r["serving_cpu_s"]
        tot["rpcs"] += r["rpc_total"]
        tot["processes"] += 1
    return tot


def children_cpu() -> float:
    """CPU seconds of every child this process has reaped (terraform and its providers)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_cycle(
    tf: Terraform, prof: Path | None, s: _common.Sim | None = None
) -> tuple[dict[str, float], dict[str, float], dict[str, dict[str, float]]]:
    """apply -> plan -> destroy: (wall seconds per phase, provider CPU of the three, and per
    phase: provider CPU and RPCs, and with the simulator `s` its CPU and REST requests)."""
    times: dict[str, float] = {}
    phases: dict[str, dict[str, float]] = {}
    run = {"apply": tf.apply, "plan": tf.plan_no_changes, "destroy": tf.destroy}
    for phase in PHASES:
        if prof is not None:
            tf.env["TFNIMBLE_PROFILE_DIR"] = str(prof / phase)
        if s is not None:
            s.admin("DELETE", "stats")
            sim0 = process_cpu(s.pid)
        tree0 = children_cpu()
        times[phase] = run[phase]()
        info: dict[str, float] = {"tree_cpu_s": children_cpu() - tree0}
        if prof is not None:
            c = provider_cpu(prof / phase)
            info.update({"provider_cpu_s": c["cpu_s"], "rpcs": c["rpcs"]})
            info["terraform_cpu_s"] = info["tree_cpu_s"] - c["cpu_s"]
        if s is not None:
            info["sim_cpu_s"] = process_cpu(s.pid) - sim0
            info["rest_requests"] = float(s.admin("GET", "stats")["total"])
        phases[phase] = info
    return times, provider_cpu(prof) if prof is not None else {}, phases


def phase_figures(infos: list[dict[str, float]], n: int) -> dict[str, float]:
    """Medians over the repeats of one phase: provider CPU per RPC, and for nimble the
    simulator's CPU, REST requests per clone and the simulator's CPU per request."""
    out: dict[str, float] = {}
    if infos and "rpcs" in infos[0]:
        out["provider_cpu_s"] = median([i["provider_cpu_s"] for i in infos])
        out["terraform_cpu_s"] = median([i["terraform_cpu_s"] for i in infos])
        out["rpcs"] = median([i["rpcs"] for i in infos])
        out["provider_cpu_ms_per_rpc"] = median(
            [i["provider_cpu_s"] / i["rpcs"] * 1000 for i in infos if i["rpcs"]]
        )
    if infos and "rest_requests" in infos[0]:
        out["sim_cpu_s"] = median([i["sim_cpu_s"] for i in infos])
        out["rest_requests"] = median([i["rest_requests"] for i in infos])
        out["rest_requests_per_clone"] = out["rest_requests"] / n
        out["sim_cpu_ms_per_request"] = median(
            [i["sim_cpu_s"] / i["rest_requests"] * 1000 for i in infos if i["rest_requests"]]
        )
    return out


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
                per_phase: dict[str, dict[str, list[dict[str, float]]]] = {
                    k: {p: [] for p in PHASES} for k in ("nimble", "noop")
                }
                for r in range(repeat):
                    # rotate the order, so no kind always runs right after another
                    order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
                    for kind in order:
                        prof = None if kind == "terraform_data" else base / f"prof-{kind}-{n}-{r}"
                        times, c, phases = one_cycle(
                            tfs[kind], prof, s if kind == "nimble" else None
                        )
                        runs[kind].append(times)
                        for p, info in phases.items():
                            if kind in per_phase:
                                per_phase[kind][p].append(info)
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
                row["phases"] = {
                    k: {p: phase_figures(per_phase[k][p], n) for p in PHASES} for k in per_phase
                }
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
        for p in PHASES:
            nf, of = r["phases"]["nimble"][p], r["phases"]["noop"][p]
            print(
                f"      {p:8s} provider CPU s nimble {nf['provider_cpu_s']:.2f} "
                f"({nf['provider_cpu_ms_per_rpc']:.2f} ms/RPC, {nf['rpcs']:.0f} RPCs) vs noop "
                f"{of['provider_cpu_s']:.2f} ({of['provider_cpu_ms_per_rpc']:.2f} ms/RPC); "
                f"terraform CPU s {nf['terraform_cpu_s']:.2f} vs {of['terraform_cpu_s']:.2f}; "
                f"sim CPU {nf['sim_cpu_s']:.2f} s, {nf['rest_requests']:.0f} REST requests "
                f"({nf['rest_requests_per_clone']:.2f}/clone, "
                f"{nf['sim_cpu_ms_per_request']:.2f} ms sim CPU each)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
