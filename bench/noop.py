"""`terraform apply` of a do-nothing provider, as a ratio to Terraform's built-in terraform_data.

    .venv/bin/python bench/noop.py [--counts 20,100] [--repeat 3] [--json]

The test-only provider (tests/testprovider, resource `example_thing`, a JSON file per object)
does almost no work per resource, so its apply time is what our plugin layer costs: process
start-ups, the gRPC/mTLS channel, schema and cty (de)serialisation. terraform_data runs inside
Terraform with no plugin process, so it is the floor. Each figure is the median of --repeat
applies from empty state (a destroy, untimed, between them); same machine, same run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Terraform, log, machine, median, plugin_env, terraform_data_hcl, workspace


def example_hcl(count: int, store: Path) -> str:
    return f"""terraform {{
  required_providers {{
    example = {{ source = "ito/example" }}
  }}
}}

provider "example" {{
  store_dir = "{store}"
}}

resource "example_thing" "t" {{
  count = {count}
  name  = "thing-${{count.index}}"
}}
"""


def applies(tf: Terraform, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        out.append(tf.apply())
        tf.destroy()
    return out


def run(counts: list[int], repeat: int = 3) -> list[dict[str, Any]]:
    rows = []
    with workspace() as base:
        env = plugin_env(base, example=True)
        for n in counts:
            floor_tf = Terraform(base / f"data-{n}", env)
            floor_tf.write(terraform_data_hcl(n))
            floor_tf.init()
            ex_tf = Terraform(base / f"example-{n}", env)
            ex_tf.write(example_hcl(n, base / f"store-{n}"))
            ex_tf.init()
            # interleave the two so a slow moment of the machine hits both alike
            floor, ex = [], []
            for _ in range(repeat):
                floor += applies(floor_tf, 1)
                ex += applies(ex_tf, 1)
            row = {
                "count": n,
                "repeat": repeat,
                "example_s": median(ex),
                "terraform_data_s": median(floor),
                "example_runs": ex,
                "terraform_data_runs": floor,
            }
            row["ratio"] = row["example_s"] / row["terraform_data_s"]
            log(
                f"noop N={n}: example_thing {row['example_s']:.2f}s, terraform_data "
                f"{row['terraform_data_s']:.2f}s, x{row['ratio']:.1f}"
            )
            rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="20,100")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = run([int(c) for c in args.counts.split(",") if c], args.repeat)
    if args.json:
        print(json.dumps(rows))
        return 0
    m = machine()
    print(f"{m['cpu']}, {m['cores']} cores; Terraform {m['terraform']}; median of {args.repeat}")
    print(f"{'count':>6} {'example_thing s':>16} {'terraform_data s':>17} {'ratio':>6}")
    for r in rows:
        print(
            f"{r['count']:6d} {r['example_s']:16.2f} {r['terraform_data_s']:17.2f} "
            f"{r['ratio']:6.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
