"""Apply / plan / destroy wall time vs clone count, against nimble-sim, with a terraform_data floor.

    .venv/bin/python bench/apply_scaling.py [--counts 20,100,250,500] [--parallelism 10]
                                            [--wide 500] [--repeat 3] [--json] [--plot FILE.png]

For each count N: `terraform apply` of one nimble_volume + one nimble_snapshot + N
nimble_clone_volume, then `terraform plan` (no changes expected), then `terraform destroy`;
and the same three commands for N built-in terraform_data resources (no provider process at
all: the floor is Terraform's own graph walk). One simulator serves every run. With --wide N,
the clone run for count N is repeated with -parallelism=50. Each point is the median
of --repeat apply -> plan -> destroy cycles.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    NIMBLE_PROVIDER,
    Terraform,
    log,
    machine,
    median,
    plugin_env,
    sim,
    terraform_data_hcl,
    workspace,
)

PHASES = ("apply", "plan", "destroy")


def clones_hcl(count: int, prefix: str) -> str:
    return (
        NIMBLE_PROVIDER
        + f"""
resource "nimble_volume" "base" {{
  name     = "{prefix}-base"
  size_mib = 1024
}}

resource "nimble_snapshot" "base" {{
  name      = "{prefix}-snap"
  volume_id = nimble_volume.base.id
}}

resource "nimble_clone_volume" "c" {{
  count       = {count}
  name        = "{prefix}-c${{count.index}}"
  snapshot_id = nimble_snapshot.base.id
}}
"""
    )


def cycle(tf: Terraform, parallelism: int, repeat: int) -> dict[str, float]:
    """Median over `repeat` apply -> plan -> destroy cycles in the same working directory."""
    p = f"-parallelism={parallelism}"
    runs = [
        {"apply": tf.apply(p), "plan": tf.plan_no_changes(p), "destroy": tf.destroy(p)}
        for _ in range(repeat)
    ]
    return {k: median([r[k] for r in runs]) for k in PHASES}


def run(
    counts: list[int], parallelism: int = 10, wide: int | None = None, repeat: int = 3
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with workspace() as base:
        env = plugin_env(base)
        with sim(base / "sim") as s:
            nenv = {**env, **s.env()}
            for n in counts:
                tf = Terraform(base / f"data-{n}", env)
                tf.write(terraform_data_hcl(n))
                tf.init()
                floor = cycle(tf, parallelism, repeat)
                tf = Terraform(base / f"clones-{n}", nenv)
                tf.write(clones_hcl(n, f"b{n}"))
                tf.init()
                nim = cycle(tf, parallelism, repeat)
                row = {
                    "count": n,
                    "parallelism": parallelism,
                    "repeat": repeat,
                    "nimble": nim,
                    "terraform_data": floor,
                }
                log(
                    f"apply_scaling N={n}: "
                    + ", ".join(f"{k} {nim[k]:.1f}s (floor {floor[k]:.1f}s)" for k in PHASES)
                )
                rows.append(row)
            wide_row = None
            if wide:
                tf = Terraform(base / f"clones-{wide}-p50", nenv)
                tf.write(clones_hcl(wide, f"w{wide}"))
                tf.init()
                nim = cycle(tf, 50, repeat)
                tf = Terraform(base / f"data-{wide}-p50", env)
                tf.write(terraform_data_hcl(wide))
                tf.init()
                floor = cycle(tf, 50, repeat)
                wide_row = {
                    "count": wide,
                    "parallelism": 50,
                    "repeat": repeat,
                    "nimble": nim,
                    "terraform_data": floor,
                }
                log(
                    f"apply_scaling N={wide} -parallelism=50: "
                    + ", ".join(f"{k} {nim[k]:.1f}s (floor {floor[k]:.1f}s)" for k in PHASES)
                )
    return {"rows": rows, "wide": wide_row}


def plot(result: dict[str, Any], path: Path, mach: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    xs = [r["count"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=90)
    colors = {"apply": "tab:blue", "plan": "tab:green", "destroy": "tab:red"}
    for ph in PHASES:
        ax.plot(
            xs,
            [r["nimble"][ph] for r in rows],
            "o-",
            color=colors[ph],
            label=f"nimble_clone_volume {ph}",
        )
        ax.plot(
            xs,
            [r["terraform_data"][ph] for r in rows],
            "x--",
            color=colors[ph],
            alpha=0.6,
            label=f"terraform_data {ph}",
        )
    ax.set_xlabel("resources (count)")
    ax.set_ylabel("wall time (s)")
    ax.set_title(
        f"terraform apply/plan/destroy vs count (parallelism {rows[0]['parallelism']})", fontsize=10
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.text(
        0.01,
        0.01,
        f"{mach['cpu']}, {mach['cores']} cores, Terraform {mach['terraform']}, "
        f"Python {mach['python']}, {mach['date']}",
        fontsize=6,
        color="gray",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="20,100,250,500")
    ap.add_argument("--parallelism", type=int, default=10)
    ap.add_argument("--wide", type=int, default=None, help="also run this count at -parallelism=50")
    ap.add_argument("--repeat", type=int, default=3, help="cycles per point (median)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",") if c]
    mach = machine()
    result = run(counts, args.parallelism, args.wide, args.repeat)
    if args.plot:
        plot(result, args.plot, mach)
    if args.json:
        import json

        print(json.dumps(result))
        return 0
    print(f"{mach['cpu']}, {mach['cores']} cores; Terraform {mach['terraform']}")
    print(
        f"{'N':>5} {'par':>4} " + " ".join(f"{p + ' s':>10} {'floor':>7} {'x':>5}" for p in PHASES)
    )
    for r in result["rows"] + ([result["wide"]] if result["wide"] else []):
        cells = " ".join(
            f"{r['nimble'][p]:10.1f} {r['terraform_data'][p]:7.1f} "
            f"{r['nimble'][p] / r['terraform_data'][p]:5.1f}"
            for p in PHASES
        )
        print(f"{r['count']:5d} {r['parallelism']:4d} {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
