"""A CI runner installs the packaged provider from the release and applies with it.

Once from the network mirror (dist/mirror) and once through the provider registry protocol
(dist/registry), both served over HTTPS with a test CA. The registry host is `localhost:PORT`:
a hostname that already resolves to loopback, so no /etc/hosts entry is added; the server
certificate names it."""

from __future__ import annotations

import os
from pathlib import Path

import layout
from harness import State
from nimble_fixtures import Sim
from releasekit import (
    TERRAFORM,
    Release,
    Server,
    lock_hashes,
    mirror_runner,
    run_watching_children,
    runner_env,
    tf,
)
from test_nimble_fanout import assert_array_matches_state, clone_ids, fanout_config

ADDRESS = "registry.terraform.io/ito/nimble"


def fanout_env(sim: Sim, prefix: str) -> dict[str, str]:
    return {
        **sim.env(),
        "TF_VAR_name_prefix": prefix,
        "TF_VAR_clone_count": "20",
        "TF_VAR_image_size_mib": "1024",
    }


def show(work: Path, env: dict[str, str]) -> State:
    import json

    return State(json.loads(tf(work, env, "show", "-json").stdout))


def test_network_mirror_install_and_apply_20_clones(
    release: Release, server: Server, sim: Sim, tmp_path: Path
) -> None:
    prefix = sim.unique("rel")
    env = mirror_runner(
        tmp_path / "home",
        server,
        **fanout_env(sim, prefix),
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.tf").write_text(fanout_config())
    init = tf(work, env, "init", "-input=false", "-no-color")
    assert "Installed ito/nimble v" in init.stdout, init.stdout
    assert any("/mirror/registry.terraform.io/ito/nimble/" in r for r in server.requests)

    # The lock file holds the mirror's h1:, which is also the hash of what Terraform unpacked.
    h1 = release.h1("nimble")
    assert lock_hashes(work, ADDRESS) == {h1}
    cache = work / ".terraform/providers" / ADDRESS / release.version / "linux_amd64"
    assert layout.h1_of_dir(cache) == h1
    # ... and `terraform providers lock` computes the same from the mirror.
    lockdir = tmp_path / "lock"
    lockdir.mkdir()
    (lockdir / "main.tf").write_text(fanout_config())
    tf(
        lockdir,
        env,
        "providers",
        "lock",
        "-platform=linux_amd64",
        f"-net-mirror={server.mirror_url}",
    )
    assert lock_hashes(lockdir, ADDRESS) == {h1}

    before = sim.volumes()
    res, exes = run_watching_children(
        [TERRAFORM, "apply", "-auto-approve", "-input=false", "-no-color"], work, env
    )
    assert res.returncode == 0, res.stdout + res.stderr
    # The provider that ran is the packaged executable in Terraform's provider cache: no
    # external interpreter (a venv launcher would show up as .../bin/python3.x).
    launcher = os.path.realpath(cache / layout.executable_name("nimble", release.version))
    assert exes == {launcher}, f"terraform's children ran {exes}, expected only {launcher}"

    state = show(work, env)
    assert len(clone_ids(state)) == 20
    assert_array_matches_state(sim, prefix, state)
    plan = tf(work, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", check=False)
    assert plan.returncode == 0, plan.stdout + plan.stderr

    tf(work, env, "destroy", "-auto-approve", "-input=false", "-no-color")
    assert set(sim.volumes()) == set(before)


def test_registry_protocol_install(
    release: Release, server: Server, sim: Sim, tmp_path: Path
) -> None:
    source = f"{server.registry_host}/ito/nimble"
    env = runner_env(
        tmp_path / "home",
        "provider_installation {\n  direct {}\n}\n",
        server.ca.ca_file,
        **fanout_env(sim, sim.unique("reg")),
    )
    config = fanout_config().replace('source = "ito/nimble"', f'source = "{source}"')
    assert source in config
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.tf").write_text(config)
    init = tf(work, env, "init", "-input=false", "-no-color")
    # Terraform checked the signature of SHA256SUMS with the key the registry published
    # ("self-signed": a key of our own, not one of HashiCorp's partner keys).
    assert f"(self-signed, key ID {release.key_id.upper()})" in init.stdout, init.stdout
    assert any(r == "/.well-known/terraform.json" for r in server.requests)

    # h1: of the unpacked package, zh: of the zip from the signed SHA256SUMS
    hashes = lock_hashes(work, source)
    assert hashes == {release.h1("nimble"), release.zh("nimble")}, hashes
    lockdir = tmp_path / "lock"
    lockdir.mkdir()
    (lockdir / "main.tf").write_text(config)
    tf(lockdir, env, "providers", "lock", "-platform=linux_amd64")
    assert lock_hashes(lockdir, source) == hashes

    res, exes = run_watching_children([TERRAFORM, "plan", "-input=false", "-no-color"], work, env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Plan: 22 to add" in res.stdout, res.stdout  # 20 clones, the master and its snapshot
    cache = work / ".terraform/providers" / source / release.version / "linux_amd64"
    assert exes == {os.path.realpath(cache / layout.executable_name("nimble", release.version))}


def test_each_zip_is_a_complete_provider(release: Release, tmp_path: Path) -> None:
    """Both zips run on their own, in a runner's environment, and answer as their provider."""
    import subprocess
    import zipfile

    env = runner_env(tmp_path / "home", "", tmp_path / "none.pem")
    for name in ("nimble", "glance"):
        dest = tmp_path / name
        with zipfile.ZipFile(
            release.dist / layout.zip_name(name, release.version, "linux_amd64")
        ) as zf:
            for info in zf.infolist():
                Path(zf.extract(info, dest)).chmod((info.external_attr >> 16) & 0o777)
        exe = dest / layout.executable_name(name, release.version)
        out = subprocess.run([exe, "--version"], env=env, capture_output=True, text=True)
        assert out.stdout.strip() == f"terraform-provider-{name} {release.version}", out
        # started by Terraform's rules but without its cookie: refuses, naming itself
        out = subprocess.run([exe], env=env, capture_output=True, text=True)
        assert out.returncode != 0 and f"terraform-provider-{name}" in out.stderr, out
    renamed = tmp_path / "nimble" / "some-tool"
    (tmp_path / "nimble" / layout.executable_name("nimble", release.version)).rename(renamed)
    out = subprocess.run([renamed], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "run it under one of those names" in out.stderr, out


def test_make_install_tree_locks_to_the_runners_hash(
    release: Release, server: Server, tmp_path: Path
) -> None:
    """`make install` unpacks the same zips: a developer's lock file (filesystem mirror)
    holds the h1: that runners get from the network mirror."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    from install_plugin import install_release

    plugins = tmp_path / "plugins"
    install_release(plugins, release.dist, release.version)
    rc = f'provider_installation {{\n  filesystem_mirror {{\n    path = "{plugins}"\n  }}\n}}\n'
    env = runner_env(tmp_path / "home", rc, server.ca.ca_file)
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.tf").write_text(fanout_config())
    tf(work, env, "init", "-input=false", "-no-color")
    assert lock_hashes(work, ADDRESS) == {release.h1("nimble")}
