"""`terraform plan` of N clones with and without injected array latency: time and REST requests.

    .venv/bin/python bench/read_latency.py [--count 500] [--latency-ms 20] [--repeat 3] [--json]

One `terraform apply` creates one nimble_volume, one nimble_snapshot and N nimble_clone_volume
against nimble-sim; then `terraform plan` (no changes expected, so every plan is a full refresh
of the N clones) runs --repeat times with no latency and --repeat times with --latency-ms of
latency on every /v1 request, interleaved (0, L, 0, L, ...), so that a change in the machine's
load hits both sides alike. The latency is the simulator's own fault rule (`PUT /sim/faults`,
`latency_ms`): the array answers each request that much later. The REST requests of each plan
are counted by the simulator (`/sim/stats`, reset before each plan). Prints medians (and the
fastest runs, less touched by a busy machine), the ratios, the requests per plan and those of
the apply and the destroy around them; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Sim, Terraform, log, machine, median, plugin_env, sim, workspace
from apply_scaling import clones_hcl


def _latency(s: Sim, ms: int) -> None:
    rules = [{"path": "^/v1/", "latency_ms": ms}] if ms else []
    s.admin("PUT", "faults", {"seed": None, "rules": rules})


def _plan(tf: Terraform, s: Sim, ms: int, parallelism: int) -> tuple[float, dict[str, int]]:
    """One plan at `ms` of latency: (wall seconds, {request route: count})."""
    _latency(s, ms)
    s.admin("DELETE", "stats")
    seconds = tf.plan_no_changes(f"-parallelism={parallelism}")
    stats = s.admin("GET", "stats")
    _latency(s, 0)
    return seconds, dict(stats["requests"])


def run(count: int, latency_ms: int = 20, repeat: int = 3, parallelism: int = 10) -> dict[str, Any]:
    with workspace() as base:
        env = plugin_env(base)
        with sim(base / "sim") as s:
            tf = Terraform(base / "clones", {**env, **s.env()})
            tf.write(clones_hcl(count, "rl"))
            tf.init()
            s.admin("DELETE", "stats")
            tf.apply(f"-parallelism={parallelism}")
            applied = s.admin("GET", "stats")["total"]
            times: dict[int, list[float]] = {0: [], latency_ms: []}
            requests: dict[int, dict[str, int]] = {}
            for i in range(repeat):
                for ms in (0, latency_ms):
                    seconds, reqs = _plan(tf, s, ms, parallelism)
                    times[ms].append(seconds)
                    requests[ms] = reqs
                    log(
                        f"read_latency N={count} run {i + 1}: {ms} ms latency -> plan "
                        f"{seconds:.2f} s, {sum(reqs.values())} REST requests"
                    )
            s.admin("DELETE", "stats")
            tf.destroy(f"-parallelism={parallelism}")
            destroyed = s.admin("GET", "stats")["total"]
    plain, slow = median(times[0]), median(times[latency_ms])
    return {
        "count": count,
        "latency_ms": latency_ms,
        "repeat": repeat,
        "parallelism": parallelism,
        "plan_s": {"0": plain, str(latency_ms): slow},
        "runs_s": {"0": times[0], str(latency_ms): times[latency_ms]},
        "requests_per_plan": sum(requests[0].values()),
        "requests_by_route": requests[0],
        "requests_per_plan_with_latency": sum(requests[latency_ms].values()),
        "ratio": slow / plain,
        "best_s": {"0": min(times[0]), str(latency_ms): min(times[latency_ms])},
        "best_ratio": min(times[latency_ms]) / min(times[0]),
        "requests_per_apply": applied,
        "requests_per_destroy": destroyed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parallelism", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    mach = machine()
    r = run(args.count, args.latency_ms, args.repeat, args.parallelism)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{mach['cpu']}, {mach['cores']} cores; Terraform {mach['terraform']}")
    print(
        f"plan of {r['count']} clones: {r['plan_s']['0']:.2f} s with no latency, "
        f"{r['plan_s'][str(r['latency_ms'])]:.2f} s with {r['latency_ms']} ms per request "
        f"(ratio {r['ratio']:.2f}; of the fastest runs {r['best_ratio']:.2f}); "
        f"{r['requests_per_plan']} REST requests per plan"
    )
    for route, n in sorted(r["requests_by_route"].items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {route}")
    print(
        f"the apply that made them: {r['requests_per_apply']} REST requests; "
        f"the destroy: {r['requests_per_destroy']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
