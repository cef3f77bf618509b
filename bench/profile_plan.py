"""Where a `terraform plan` of N clones spends its time: per-RPC CPU and the provider's hot spots.

    .venv/bin/python bench/profile_plan.py [--count 200] [--phase plan|apply|destroy]
                                           [--provider nimble|noop]
                                           [--top 30] [--sort cumulative,tottime] [--keep DIR]

Applies one nimble_volume + one nimble_snapshot + `count` nimble_clone_volume against
nimble-sim (untimed), or with --provider noop `count` example_thing of the no-op test
provider (tests/testprovider: the plugin layer alone, no array), then runs the phase twice
with the provider's own recorder switched on (tfnimble.plugin.profiling, through
TFNIMBLE_PROFILE_DIR, which Terraform passes to every provider process it starts):

1. plain: wall time, RPCs answered per method, provider CPU in all and per RPC (every
   provider process Terraform started, imports included), the RPCs' own work (decode,
   engine, encode) against the rest (gRPC, HTTP/2, TLS, thread hand-offs), and Terraform's
   own CPU (children's rusage less the providers');
2. under cProfile (every thread of every provider process, merged): the top functions.

Nothing here asserts a time: it prints where the time goes, so the next person starts
from data. --keep DIR keeps the .json and .pstats files (`python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import json
import pstats
import resource
import shutil
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Terraform, log, machine, plugin_env, sim, workspace
from apply_scaling import clones_hcl
from noop import example_hcl


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def profiled(tf: Terraform, phase: str, out: Path, mode: str) -> tuple[float, float]:
    """Run `phase` with the recorder writing into `out`: (wall s, CPU s of terraform and
    every process it reaped)."""
    out.mkdir(parents=True, exist_ok=True)
    saved = dict(tf.env)
    tf.env.update({"TFNIMBLE_PROFILE_DIR": str(out), "TFNIMBLE_PROFILE": mode})
    try:
        cpu0 = children_cpu()
        if phase == "plan":
            wall = tf.plan_no_changes()
        elif phase == "apply":
            wall = tf.apply()
        else:
            wall = tf.destroy()
        return wall, children_cpu() - cpu0
    finally:
        tf.env.clear()
        tf.env.update(saved)


def summaries(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def cpu_report(runs: list[dict[str, Any]], wall: float, tree_cpu: float) -> dict[str, Any]:
    rpcs: dict[str, int] = {}
    worker: dict[str, float] = {}
    for r in runs:
        for k, v in r["rpcs"].items():
            rpcs[k] = rpcs.get(k, 0) + v
        for k, v in r["worker_cpu_s"].items():
            worker[k] = worker.get(k, 0.0) + v
    total = sum(rpcs.values())
    cpu = sum(r["cpu_s"] for r in runs)
    serving = sum(r["serving_cpu_s"] for r in runs)
    worker_all = sum(worker.values())
    return {
        "wall_s": wall,
        "processes": len(runs),
        "rpcs": rpcs,
        "rpc_total": total,
        "provider_cpu_s": cpu,
        "provider_serving_cpu_s": serving,
        "worker_cpu_s": worker_all,
        "worker_cpu_by_rpc_s": worker,
        "terraform_cpu_s": tree_cpu - cpu,
        "cpu_ms_per_rpc": cpu / total * 1000 if total else 0.0,
        "serving_cpu_ms_per_rpc": serving / total * 1000 if total else 0.0,
        "worker_cpu_ms_per_rpc": worker_all / total * 1000 if total else 0.0,
    }


def print_cpu(c: dict[str, Any]) -> None:
    print(
        f"wall {c['wall_s']:.2f} s; {c['processes']} provider processes answered "
        f"{c['rpc_total']} RPCs"
    )
    print(
        f"provider CPU {c['provider_cpu_s']:.2f} s in all = {c['cpu_ms_per_rpc']:.2f} ms per RPC "
        f"(start-ups included); {c['provider_serving_cpu_s']:.2f} s once serving = "
        f"{c['serving_cpu_ms_per_rpc']:.2f} ms per RPC"
    )
    loop = c["provider_serving_cpu_s"] - c["worker_cpu_s"]
    print(
        f"  the RPCs' own work (decode, engine, resource code, encode): {c['worker_cpu_s']:.2f} s "
        f"= {c['worker_cpu_ms_per_rpc']:.2f} ms per RPC; gRPC, HTTP/2, TLS, hand-offs and "
        f"the rest: {loop:.2f} s"
    )
    print(f"terraform's own CPU (and anything else it ran): {c['terraform_cpu_s']:.2f} s")
    print(f"{'RPC':28s} {'count':>6s} {'own work ms/RPC':>16s}")
    for k in sorted(c["rpcs"], key=lambda k: -c["rpcs"][k]):
        n = c["rpcs"][k]
        ms = c["worker_cpu_by_rpc_s"].get(k, 0.0) / n * 1000
        print(f"{k:28s} {n:6d} {ms:16.3f}")


def merged_pstats(out: Path) -> pstats.Stats | None:
    files = [str(f) for f in sorted(out.glob("*.pstats"))]
    return pstats.Stats(*files) if files else None


def prepare(tf: Terraform, phase: str) -> None:
    """The state the phase starts from: clones applied for a plan or a destroy, none for an
    apply."""
    if phase == "apply":
        tf.destroy()
    else:
        tf.apply()


def run(
    count: int, phase: str, top: int, sort: str, keep: Path | None, provider: str = "nimble"
) -> dict[str, Any]:
    with workspace("nimble-profile-") as base:
        env = plugin_env(base, example=provider == "noop")
        with nullcontext() if provider == "noop" else sim(base / "sim") as s:
            if s is None:
                tf = Terraform(base / "things", dict(env))
                tf.write(example_hcl(count, base / "store"))
            else:
                tf = Terraform(base / "clones", {**env, **s.env()})
                tf.write(clones_hcl(count, "prof"))
            tf.init()
            log(f"preparing the {phase} of {count} clones (untimed)")
            prepare(tf, phase)
            plain = base / "plain"
            wall, tree_cpu = profiled(tf, phase, plain, "stats")
            cpu = cpu_report(summaries(plain), wall, tree_cpu)
            prepare(tf, phase)
            prof = base / "cprofile"
            t0 = time.perf_counter()
            profiled(tf, phase, prof, "cprofile")
            log(f"{phase} under cProfile: {time.perf_counter() - t0:.1f} s")
            tf.destroy()
            print_cpu(cpu)
            stats = merged_pstats(prof)
            if stats is not None:
                for order in sort.split(","):
                    print(f"\ntop {top} functions by {order} CPU time, every provider thread:")
                    stats.sort_stats(order).print_stats(top)
            if keep:
                keep.mkdir(parents=True, exist_ok=True)
                for d in (plain, prof):
                    shutil.copytree(d, keep / d.name, dirs_exist_ok=True)
    return cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--phase", choices=("plan", "apply", "destroy"), default="plan")
    ap.add_argument("--provider", choices=("nimble", "noop"), default="nimble")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument(
        "--sort", default="cumulative,tottime", help="pstats sort orders, comma separated"
    )
    ap.add_argument("--keep", type=Path, default=None, help="keep the profiles in this directory")
    ap.add_argument("--json", action="store_true", help="also print the CPU figures as JSON")
    args = ap.parse_args()
    m = machine()
    print(
        f"{m['cpu']}, {m['cores']} cores, load {m['load1']:.2f}; Terraform {m['terraform']}, "
        f"Python {m['python']}; {args.phase} of {args.count} "
        + ("example_thing (no-op)" if args.provider == "noop" else "clones against nimble-sim")
    )
    cpu = run(args.count, args.phase, args.top, args.sort, args.keep, args.provider)
    if args.json:
        print(json.dumps(cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
