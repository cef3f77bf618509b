"""Hostile input through real terraform: crafted IDs never reach another endpoint, out-of-range
settings are attribute diagnostics, and no error prints a password.

The simulator runs with debug logging, so its log lists every request line it received:
that is how these tests prove that nothing reached ``/sim/stats``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Harness
from nimble_fixtures import PROVIDER_BLOCK, Sim, start_sim
from nimble_hcl import config, data, resource

HOSTILE = "../../sim/stats"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """A simulator of its own that logs every request line (--log-level debug)."""
    state = tmp_path_factory.mktemp("nimble-sim-hostile") / "state"
    state.mkdir()
    s = start_sim(state, ("--log-level", "debug"))
    try:
        yield s
    finally:
        s.stop()


class RequestLog:
    """The request lines the simulator logged since ``mark()``."""

    def __init__(self, sim: Sim) -> None:
        state = Path(sim.state_dir)
        self.path = state.parent / f"{state.name}.log"
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def lines(self) -> list[str]:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            text = fh.read().decode(errors="replace")
        # the path only: a query string (name=..%2F..) is an escaped filter value, harmless
        return [r.split("?")[0] for r in re.findall(r'"([A-Z]+ /\S*) HTTP/1\.[01]"', text)]


@pytest.fixture(autouse=True)
def _workdir(tf: Harness) -> None:
    tf.workdir = tf.root / "work"
    tf.workdir.mkdir()


def _provider(sim: Sim, **settings: str) -> str:
    body = "".join(f"\n  {k} = {v}" for k, v in settings.items())
    return PROVIDER_BLOCK.replace('provider "nimble" {}', f'provider "nimble" {{{body}\n}}')


def test_acc_import_of_a_path_traversal_id_sends_nothing_there(tf: Harness, sim: Sim) -> None:
    log = RequestLog(sim)
    tf.write_config(config(resource("nimble_volume", "x", name=sim.unique("hx"), size_mib=1)))
    tf.init(env=sim.env())
    log.mark()
    res = tf.terraform(
        "import", "-no-color", "nimble_volume.x", HOSTILE, env=sim.env(), check=False
    )
    assert res.returncode != 0
    out = res.output
    assert "Volume Not Found" in out, out
    assert "42 hexadecimal" in out and "a name" in out, out
    assert "Unexpected Provider Error" not in out
    seen = log.lines()
    assert seen, "the simulator logged no request lines (debug logging is off?)"
    assert not [r for r in seen if "/sim/" in r or ".." in r], seen
    assert "nimble_volume.x" not in tf.state(env=sim.env())


def test_acc_crafted_id_in_state_is_refused_before_any_request(tf: Harness, sim: Sim) -> None:
    log = RequestLog(sim)
    name = sim.unique("hs")
    tf.write_config(config(resource("nimble_volume", "x", name=name, size_mib=1)))
    tf.init(env=sim.env())
    tf.terraform("apply", "-no-color", "-auto-approve", env=sim.env())
    assert tf.workdir is not None
    state_file = tf.workdir / "terraform.tfstate"
    good = state_file.read_text()
    real_id = tf.state(env=sim.env()).attrs("nimble_volume.x")["id"]
    for crafted in (HOSTILE, f"{real_id}/../../initiator_groups/{real_id}"):
        doc = json.loads(good)
        doc["resources"][0]["instances"][0]["attributes"]["id"] = crafted
        doc["serial"] += 1
        state_file.write_text(json.dumps(doc))
        log.mark()
        for command in (["plan"], ["destroy", "-auto-approve"]):
            res = tf.terraform(*command, "-no-color", env=sim.env(), check=False)
            assert res.returncode != 0
            assert "Invalid Nimble Object ID" in res.output, res.output
            assert "sent nothing to the array" in res.output
        seen = log.lines()
        assert not [r for r in seen if "/sim/" in r or ".." in r or "%2" in r], seen
        assert not [r for r in seen if r.startswith("DELETE /v1/volumes")], seen
    state_file.write_text(good)
    assert sim.volume(name) is not None, "the volume survived the crafted destroy"
    tf.terraform("destroy", "-no-color", "-auto-approve", env=sim.env())
    assert sim.volume(name) is None


POOL = data("nimble_pool", "p", name="default")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"port": "70000"}, r"Invalid Attribute Value.*port must be a whole number"),
        ({"port": "1e999999"}, r"on main\.tf line \d+.*port: number out of range: 1000000 digits"),
        ({"port": "1e300"}, r"Invalid Attribute Value.*port must be a whole number"),
        (
            {"max_concurrency": "1e12"},
            r"Invalid Attribute Value.*max_concurrency must be a whole number.*at most 64",
        ),
        ({"ca_file": '"/nonexistent/ca.pem"'}, r"Cannot Read The CA File.*/nonexistent/ca\.pem"),
        ({"insecure": "true"}, r"Conflicting TLS Settings.*ca_file would be silently ignored"),
    ],
)
def test_acc_bad_provider_settings_are_attribute_diagnostics(
    tf: Harness, sim: Sim, settings: dict[str, str], expected: str
) -> None:
    tf.write_config(_provider(sim, **settings) + POOL)
    tf.init(env=sim.env())
    res = tf.terraform("plan", "-no-color", env=sim.env(), check=False)
    assert res.returncode != 0
    flat = " ".join(res.output.split())
    assert re.search(expected, flat), res.output
    assert "Unexpected Provider Error" not in res.output
    assert "bug in the provider" not in res.output
    attr = next(iter(settings)) if "insecure" not in settings else "ca_file"
    if "insecure" not in settings:
        assert f"{attr} =" in res.output, "the diagnostic points at the attribute"


def test_acc_login_failure_does_not_print_the_password(tf: Harness, sim: Sim) -> None:
    secret = "not-the-password-" + sim.unique("pw")
    env = {k: v for k, v in sim.env().items() if k != "NIMBLE_PASSWORD"}
    tf.write_config(_provider(sim, password=f'"{secret}"') + POOL)
    tf.init(env=env)
    res = tf.terraform("plan", "-no-color", env=env, check=False)
    assert res.returncode != 0
    assert "Nimble Array Login Failed" in res.output, res.output
    assert secret not in res.output, "the diagnostic printed the password line"


def test_acc_insecure_warns_once(tf: Harness, sim: Sim) -> None:
    env = {**sim.env(), "NIMBLE_CA_FILE": ""}
    tf.write_config(_provider(sim, insecure="true") + POOL)
    tf.init(env=env)
    res = tf.terraform("plan", "-no-color", env=env)
    assert res.output.count("TLS Certificate Verification Is Off") == 1, res.output
    assert "read the password" in " ".join(res.output.split())
