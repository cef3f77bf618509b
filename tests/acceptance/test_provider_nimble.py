"""The nimble provider's configuration: environment fallbacks and one clear error per problem."""

from __future__ import annotations

import socket

from harness import Case, Harness, Step
from nimble_fixtures import PROVIDER_BLOCK, Sim
from nimble_hcl import config, data, expect, resource

POOL = config(data("nimble_pool", "p", name="default"))
# several data sources: a refused login must still be one error, on the provider block
POOLS = config('data "nimble_pool" "p" {\n  count = 5\n  name = "default"\n}\n')


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_acc_provider_configured_from_arguments(tf: Harness, sim: Sim) -> None:
    explicit = PROVIDER_BLOCK.replace(
        'provider "nimble" {}',
        f'provider "nimble" {{\n  host = "{sim.host}"\n  port = {sim.port}\n'
        f'  username = "{sim.username}"\n  password = "{sim.password}"\n'
        f'  ca_file = "{sim.ca_file}"\n  max_concurrency = 2\n}}',
    ) + data("nimble_pool", "p", name="default")
    tf.run(Case(steps=[Step(config=explicit, checks=[])]))


def test_acc_provider_configuration_errors(tf: Harness, sim: Sim) -> None:
    env = sim.env()
    no_host = {k: v for k, v in env.items() if k != "NIMBLE_HOST"}
    no_password = {k: v for k, v in env.items() if k != "NIMBLE_PASSWORD"}
    unknown_host = config(
        resource("terraform_data", "h", input=sim.host),
        resource("nimble_volume", "v", name=sim.unique("unk"), size_mib=1),
    ).replace('provider "nimble" {}', 'provider "nimble" {\n  host = terraform_data.h.output\n}')
    tf.run(
        Case(
            steps=[
                Step(
                    config=POOL, env=no_host, expect_error=r"Missing Nimble Host.*host.*NIMBLE_HOST"
                ),
                Step(
                    config=POOL,
                    env=no_password,
                    expect_error=r"Missing Nimble Password.*NIMBLE_PASSWORD",
                ),
                Step(
                    config=POOLS,
                    env={**env, "NIMBLE_PASSWORD": "wrong-password"},
                    expect_error=r'Nimble Array Login Failed.*refused the login of user "admin"',
                ),
                Step(
                    config=POOL,
                    env={**env, "NIMBLE_CA_FILE": ""},
                    expect_error=r"Untrusted Nimble Array Certificate.*ca_file.*NIMBLE_CA_FILE",
                ),
                Step(
                    config=POOL,
                    env={**env, "NIMBLE_PORT": str(closed_port())},
                    expect_error=r"Cannot Reach The Nimble Array.*https://127\.0\.0\.1:\d+",
                ),
                Step(
                    config=POOL,
                    env={**env, "NIMBLE_PORT": "not-a-port"},
                    expect_error=r"Invalid Provider Environment Variable.*NIMBLE_PORT",
                ),
                Step(
                    config=unknown_host,
                    env=env,
                    expect_error=r"Unknown Provider Configuration.*host is not known until apply",
                ),
            ],
        )
    )
    refused = [r.output for r in tf.log if "Nimble Array Login Failed" in r.output]
    assert refused and all(o.count("Error: Nimble Array Login Failed") == 1 for o in refused)
    # The wrong password never shows up, neither in diagnostics nor in debug logs.
    for result in tf.log:
        assert sim.password not in result.output
        assert "wrong-password" not in result.output


def test_acc_provider_password_never_logged(tf: Harness, sim: Sim) -> None:
    tf.run(
        Case(
            env={**sim.env(), "TF_LOG": "DEBUG"},
            steps=[Step(config=POOL, checks=[expect("data.nimble_pool.p", "name", "default")])],
        )
    )
    assert any("nimble" in r.stderr for r in tf.log)
    for result in tf.log:
        assert sim.password not in result.output
