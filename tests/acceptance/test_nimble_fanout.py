"""The ITO fan-out's array side at scale (20 -> 25 -> 5 clones), with faults and expiring
sessions.

The configuration is examples/ito-fanout with its image master replaced by the volume and
snapshot it stands for, so that it runs on the plain simulator: these tests are about clone
fan-out under faults, not about writing images (test_ito_e2e applies the example itself,
image write included, against the data-plane simulator).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from harness import Case, Harness, State, Step
from nimble_fixtures import Sim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ito-fanout"


ARRAY_SIDE_MASTER = """
resource "nimble_volume" "master" {
  name        = "${var.name_prefix}-master"
  size_mib    = var.image_size_mib
  description = "Image master for the ${var.name_prefix} instances"
}

resource "nimble_snapshot" "base" {
  name        = "base"
  volume_id   = nimble_volume.master.id
  description = "Clones of this snapshot share all its blocks"
}

variable "image_size_mib" {
  type    = number
  default = 10240
}
"""


def fanout_config() -> str:
    text = "\n".join((EXAMPLE / f).read_text() for f in ("main.tf", "variables.tf", "outputs.tf"))
    start = text.index('resource "nimble_image_master" "image"')
    end = text.index("}\n", start) + 2
    text = text[:start] + ARRAY_SIDE_MASTER + text[end:]
    text = text.replace("nimble_image_master.image.snapshot_id", "nimble_snapshot.base.id")
    return text.replace("nimble_image_master.image.image_sha256", "nimble_snapshot.base.name")


def fanout_env(sim: Sim, prefix: str, count: int) -> dict[str, str]:
    return {
        **sim.env(),
        "TF_VAR_name_prefix": prefix,
        "TF_VAR_clone_count": str(count),
        "TF_VAR_image_size_mib": "1024",
    }


def boot(i: int) -> str:
    return f"nimble_clone_volume.boot[{i}]"


def clone_ids(state: State) -> dict[str, str]:
    return {
        addr: res["values"]["id"]
        for addr, res in state.resources.items()
        if addr.startswith("nimble_clone_volume.boot[")
    }


def assert_array_matches_state(sim: Sim, prefix: str, state: State) -> None:
    """Every volume of this fan-out on the array is in state, and the other way round."""
    on_array = {v.id for n, v in sim.volumes().items() if n.startswith(prefix + "-")}
    in_state = {
        res["values"]["id"]
        for res in state.resources.values()
        if res["type"] in ("nimble_volume", "nimble_clone_volume")
    }
    assert on_array == in_state, (
        f"orphans on the array: {sorted(on_array - in_state)}; "
        f"missing from the array: {sorted(in_state - on_array)}"
    )


def test_acc_fanout_20_then_25_then_5(tf: Harness, scoped_sim: Sim) -> None:
    """In both target scopes: a target per volume, or one group target for all."""
    sim = scoped_sim
    prefix = sim.unique("ito")
    before = sim.inventory()
    first: dict[str, str] = {}
    gst = sim.group_target()

    def twenty(state: State) -> None:
        first.update(clone_ids(state))
        assert len(first) == 20
        names = [a["values"]["target_name"] for a in state.resources.values()]
        if gst is None:  # volume-scoped: a target per volume and per snapshot
            assert len(set(names)) == 22
        else:  # group-scoped: the master, its snapshot and every clone report the group IQN
            assert set(names) == {gst} and len(names) == 22
        assert_array_matches_state(sim, prefix, state)

    def first_twenty_untouched(state: State) -> None:
        ids = clone_ids(state)
        assert len(ids) == 25
        assert {a: ids[a] for a in first} == first

    def first_five_untouched(state: State) -> None:
        ids = clone_ids(state)
        assert ids == {boot(i): first[boot(i)] for i in range(5)}
        assert_array_matches_state(sim, prefix, state)

    config = fanout_config()
    tf.run(
        Case(
            env=fanout_env(sim, prefix, 20),
            steps=[
                Step(config=config, checks=[twenty]),
                Step(
                    config=config,
                    env={"TF_VAR_clone_count": "25"},
                    expect_actions={
                        **{boot(i): ["no-op"] for i in range(20)},
                        **{boot(i): ["create"] for i in range(20, 25)},
                        "nimble_snapshot.base": ["no-op"],
                    },
                    checks=[first_twenty_untouched],
                ),
                Step(
                    config=config,
                    env={"TF_VAR_clone_count": "5"},
                    expect_actions={
                        **{boot(i): ["no-op"] for i in range(5)},
                        **{boot(i): ["delete"] for i in range(5, 25)},
                    },
                    checks=[first_five_untouched],
                ),
            ],
            check_destroy=sim.back_to(before),
        )
    )
    applies = [r for r in tf.log if r.argv[1] == "apply"]
    print(f"\nfan-out apply times: {[round(r.seconds, 2) for r in applies]}")


def _apply_until_done(tf: Harness, env: dict[str, str], attempts: int = 3) -> list[float]:
    times = []
    for _ in range(attempts):
        res = tf.terraform(
            "apply", "-auto-approve", "-no-color", "-input=false", env=env, check=False
        )
        times.append(res.seconds)
        if res.returncode == 0:
            return times
        # Only injected faults may fail an apply; anything else is a real failure.
        assert re.search(
            r"SM_http_service_unavailable|HTTP 503|HTTP 500|cannot reach", res.output
        ), res.output[-4000:]
    raise AssertionError(f"apply did not converge in {attempts} attempts:\n{res.output[-4000:]}")


def _fanout_workdir(
    tf: Harness, sim: Sim, tag: str, workdir: str
) -> tuple[str, dict[str, set[str]], dict[str, str]]:
    """An initialised working directory of 20 clones: (prefix, the array before, env)."""
    prefix = sim.unique(tag)
    before = sim.inventory()
    env = fanout_env(sim, prefix, 20)
    tf.workdir = Path(tf.root) / workdir
    tf.workdir.mkdir()
    tf.write_config(fanout_config())
    tf.init(env=env)
    return prefix, before, env


def test_acc_fanout_converges_with_10_percent_failures(tf: Harness, sim: Sim) -> None:
    prefix, before, env = _fanout_workdir(tf, sim, "itof", "fanout-faults")
    try:
        sim.set_faults(
            [{"path": "^/v1/", "error_rate": 0.1, "error_status": 503, "drop_rate": 0.05}],
            seed=7,
        )
        times = _apply_until_done(tf, env)
        injected = sim.faults()["injected"]
        print(f"\nfaulted fan-out: apply times {[round(t, 2) for t in times]}, {injected}")
        assert injected["error"] > 0
        res = tf.plan_exitcode(env=env)
        assert res.returncode == 0, res.stdout[-4000:]
        sim.clear_faults()
        state = tf.state(env=env)
        assert len(clone_ids(state)) == 20
        assert_array_matches_state(sim, prefix, state)
    finally:
        sim.clear_faults()
        tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
    sim.back_to(before)()


def test_acc_fanout_survives_expired_sessions(tf: Harness, sim: Sim) -> None:
    """Every session on the array expires twice while the clones are being created."""
    prefix = sim.unique("itoe")
    before = sim.inventory()
    expired: list[int] = []
    done = threading.Event()

    def expire_mid_apply() -> None:
        for threshold in (3, 6):
            while not done.is_set():
                clones = [n for n in sim.volumes() if n.startswith(f"{prefix}-vm-")]
                if len(clones) >= threshold:
                    expired.append(sim.expire_sessions())
                    break
                time.sleep(0.05)

    watcher = threading.Thread(target=expire_mid_apply, daemon=True)

    def expired_and_done(state: State) -> None:
        assert len(expired) == 2 and all(expired), expired
        assert len(clone_ids(state)) == 12
        assert_array_matches_state(sim, prefix, state)

    try:
        tf.run(
            Case(
                env=fanout_env(sim, prefix, 12),
                steps=[
                    Step(
                        config=fanout_config(),
                        preconfig=watcher.start,
                        checks=[expired_and_done],
                    )
                ],
                check_destroy=sim.back_to(before),
            )
        )
    finally:
        done.set()
        watcher.join(timeout=5)


def _volume_requests(sim: Sim) -> dict[str, int]:
    reqs = sim.admin("GET", "stats")["requests"]
    return {k: n for k, n in reqs.items() if k.startswith("GET /v1/volumes")}


def test_acc_refresh_of_20_clones_is_one_listing_and_still_sees_drift(
    tf: Harness, sim: Sim
) -> None:
    """A refresh of 20 clones of one snapshot asks the array with one list query (the
    clones) and one GET (the master), not 21 GETs; a clone deleted out of band is still
    found gone, by its own GET after the listing lacked it, and planned again."""
    _, before, env = _fanout_workdir(tf, sim, "itor", "fanout-refresh")
    try:
        tf.terraform("apply", "-auto-approve", "-no-color", "-input=false", env=env)
        ids = clone_ids(tf.state(env=env))
        sim.admin("DELETE", "stats")
        assert tf.plan_exitcode(env=env).returncode == 0
        refresh = _volume_requests(sim)
        assert refresh == {"GET /v1/volumes/detail": 1, "GET /v1/volumes/{id}": 1}, refresh
        assert sum(sim.admin("GET", "stats")["requests"].values()) <= 8

        from tfnimble.nimble.client import volumes

        volumes.offline_and_delete_volume(sim.client, ids[boot(7)])
        sim.admin("DELETE", "stats")
        res = tf.plan_exitcode(env=env)
        assert res.returncode == 2 and f"{boot(7)} will be created" in res.stdout, res.stdout
        assert re.search(r"Plan: 1 to add, 0 to change, 0 to destroy", res.stdout)
        drift = _volume_requests(sim)
        assert drift == {"GET /v1/volumes/detail": 1, "GET /v1/volumes/{id}": 2}, drift
    finally:
        tf.terraform("destroy", "-auto-approve", "-no-color", "-input=false", env=env)
    sim.back_to(before)()
