"""`make demo`: ITO on a fresh machine, end to end, with nimble-sim as the array.

    python tools/demo.py up [--clones 20]    # start the simulator, apply examples/ito-fanout
    python tools/demo.py down                # destroy, stop the simulator, remove .demo/

`up` starts nimble-sim (with its real iSCSI data plane when run as root), makes a real
image to write (Debian's GRUB rescue ISO when installed, else a generated disk image),
applies examples/ito-fanout in .demo/work with terraform, and prints a report: time,
logical vs physical bytes, space saved. Terraform's own output goes to .demo/terraform.log.
The iSCSI portal is 127.0.0.1:3260 unless something listens there already (Debian's
tgt.service does once `apt install tgt` has run): then a free port, and the demo says so.
Everything lives under .demo/ in the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
VENV_BIN = ROOT / ".venv/bin"
PASSWORD = "demo-password"
GRUB_ISO = Path("/usr/lib/grub-rescue/grub-rescue-cdrom.iso")
MiB = 1 << 20


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kw)  # type: ignore[call-overload]


def installed_packages() -> set[str]:
    """Installed packages and the virtual packages they provide (Debian 12's `nbdfuse` is one:
    libnbd-bin provides it, so asking dpkg for `nbdfuse` itself always says not installed)."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package}|${Provides}\n"],
        capture_output=True,
        text=True,
    ).stdout
    names: set[str] = set()
    for line in out.splitlines():
        status, _, rest = line.partition("|")
        if not status.startswith("ii"):
            continue
        package, _, provides = rest.partition("|")
        names.add(package)
        names.update(p.strip().split(" ")[0] for p in provides.split(",") if p.strip())
    return names


def apt_install(packages: list[str]) -> None:
    have = installed_packages()
    missing = [p for p in packages if p not in have]
    if not missing:
        return
    if os.geteuid() != 0:
        say(f"not root: please install {' '.join(missing)} (apt-get install ...)")
        return
    say(f"installing {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )


def make_image(path: Path) -> Path:
    """A real image to write once and clone 20 times."""
    if GRUB_ISO.exists():
        shutil.copyfile(GRUB_ISO, path.with_suffix(".iso"))
        return path.with_suffix(".iso")
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as fh:  # 32 MiB with recognisable content, sparse elsewhere
        for i in range(8):
            fh.seek(i * 4 * MiB)
            fh.write(os.urandom(MiB))
        fh.truncate(32 * MiB)
    out = path.with_suffix(".qcow2")
    run(["qemu-img", "convert", "-q", "-O", "qcow2", str(raw), str(out)])
    raw.unlink()
    return out


def free_portal(preferred: int = 3260) -> str:
    """127.0.0.1:3260 when nothing listens there, else a free port (tgt.service, another
    demo or a test bed may hold 3260)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", preferred))
            return f"127.0.0.1:{preferred}"
        except OSError:
            pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    say(
        f"127.0.0.1:{preferred} is taken (tgt.service?): "
        f"the demo's iSCSI portal is 127.0.0.1:{port}"
    )
    return f"127.0.0.1:{port}"


def start_sim(data_plane: bool) -> dict[str, object]:
    state = DEMO / "sim"
    state.mkdir(parents=True, exist_ok=True)
    out, log = DEMO / "sim.json", DEMO / "sim.log"
    out.unlink(missing_ok=True)
    argv = [
        str(VENV_BIN / "nimble-sim"),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        str(state),
        "--username",
        "admin",
    ]
    if data_plane:
        argv += ["--data-plane", "--iscsi-portal", free_portal()]
    with open(out, "w") as so, open(log, "w") as se:
        proc = subprocess.Popen(
            argv,
            stdout=so,
            stderr=se,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "NIMBLE_SIM_PASSWORD": PASSWORD},
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = out.read_text()
        if text.strip():
            info: dict[str, object] = json.loads(text.splitlines()[0])
            (DEMO / "sim.pid").write_text(str(proc.pid))
            return info
        if proc.poll() is not None:
            sys.exit(f"nimble-sim exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    proc.kill()
    sys.exit("nimble-sim did not start within 60 s; see .demo/sim.log")


def tf_env(info: dict[str, object]) -> dict[str, str]:
    url = str(info["url"])
    host, port = re.match(r"https://([^:/]+):(\d+)", url).groups()  # type: ignore[union-attr]
    rc = DEMO / "terraformrc"
    mirror = Path.home() / ".terraform.d/plugins"
    rc.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/ito/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/ito/*"]\n  }\n}\n'
    )
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "NIMBLE_HOST": host,
        "NIMBLE_PORT": port,
        "NIMBLE_USERNAME": "admin",
        "NIMBLE_PASSWORD": PASSWORD,
        "NIMBLE_CA_FILE": str(info["ca_file"]),
    }


def example_vars(example: Path, image: Path | None, clones: int) -> list[str]:
    text = "".join(p.read_text() for p in example.glob("*.tf"))
    declared = set(re.findall(r'variable\s+"([^"]+)"', text))
    args = []
    if "clone_count" in declared:
        args += ["-var", f"clone_count={clones}"]
    for name in ("image_source", "image_path", "source"):
        if name in declared and image is not None:
            args += ["-var", f"{name}={image}"]
            break
    return args


def pool_usage(env: dict[str, str]) -> int:
    sys.path.insert(0, str(ROOT / "provider"))
    from tfnimble.nimble.client import NimbleClient, pools

    with NimbleClient(
        env["NIMBLE_HOST"],
        port=int(env["NIMBLE_PORT"]),
        username="admin",
        password=PASSWORD,
        ca_file=env["NIMBLE_CA_FILE"],
    ) as client:
        return sum(p.usage for p in pools.list_pools(client))


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def logged(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    """Run terraform with its output appended to `log`; on failure show the end of it."""
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        rc = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        sys.exit(f"{argv[0]} {argv[1]} failed (exit {rc}); the end of {log}:\n{tail}")


def up(clones: int) -> None:
    if (DEMO / "sim.pid").exists():
        sys.exit("a demo is already up; run `make demo-destroy` first")
    DEMO.mkdir(exist_ok=True)
    packages = [
        line.strip()
        for line in (ROOT / ".ci/apt-packages.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    apt_install([*packages, "grub-rescue-pc"])
    data_plane = os.geteuid() == 0 and shutil.which("tgtd") is not None
    say(f"starting nimble-sim ({'with' if data_plane else 'without'} the iSCSI data plane)")
    info = start_sim(data_plane)
    env = tf_env(info)
    work = DEMO / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "examples/ito-fanout", work)
    image = make_image(DEMO / "image") if data_plane else None
    if image is not None:
        say(f"image: {image.name} ({human(image.stat().st_size)})")
    tf_vars = example_vars(work, image, clones)
    (DEMO / "vars.json").write_text(json.dumps(tf_vars))
    before = pool_usage(env)
    log = DEMO / "terraform.log"
    say(f"terraform init (output in {log.relative_to(ROOT)})")
    logged(["terraform", "init", "-input=false", "-no-color"], work, env, log)
    say(f"terraform apply: image master + {clones} zero-copy clones")
    started = time.monotonic()
    logged(
        [
            "terraform",
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            *example_vars(work, image, clones),
        ],
        work,
        env,
        log,
    )
    elapsed = time.monotonic() - started
    plan = subprocess.run(
        [
            "terraform",
            "plan",
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
            *example_vars(work, image, clones),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    state = json.loads(
        run(["terraform", "show", "-json"], cwd=work, env=env, capture_output=True).stdout
    )
    resources = state["values"]["root_module"]["resources"]
    clone_sizes = [
        r["values"]["size_mib"] * MiB for r in resources if r["type"] == "nimble_clone_volume"
    ]
    after = pool_usage(env)
    logical = sum(clone_sizes)
    physical = after - before
    print()
    print("ITO demo report")
    print("---------------")
    print(f"array                 nimble-sim at {info['url']}")
    print(f"terraform apply       {elapsed:.1f} s for {len(clone_sizes)} clones + the master")
    print(f"plan after apply      {'no changes' if plan.returncode == 0 else 'CHANGES (bug!)'}")
    print(
        f"logical size, clones  {human(logical)} ({len(clone_sizes)} x "
        f"{human(clone_sizes[0]) if clone_sizes else 0})"
    )
    print(f"physical pool growth  {human(physical)} (master included)")
    if logical:
        print(
            f"space saved           {human(max(0, logical - physical))} "
            f"({100 * (1 - physical / logical):.1f} % of the clones' logical size)"
        )
    print(f"terraform's output    {log.relative_to(ROOT)}")
    print()
    print("Tear it down with: make demo-destroy")


def down() -> None:
    pid_file = DEMO / "sim.pid"
    work = DEMO / "work"
    if (DEMO / "sim.json").exists() and pid_file.exists() and (work / "terraform.tfstate").exists():
        info = json.loads((DEMO / "sim.json").read_text().splitlines()[0])
        say("terraform destroy")
        subprocess.run(
            [
                "terraform",
                "destroy",
                "-auto-approve",
                "-input=false",
                "-no-color",
                *example_vars(work, None, 20),
            ],
            cwd=work,
            env=tf_env(info),
            check=False,
        )
    if pid_file.exists():
        pid = int(pid_file.read_text())
        say(f"stopping nimble-sim (pid {pid})")
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass
    shutil.rmtree(DEMO, ignore_errors=True)
    say("demo removed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("action", choices=["up", "down"])
    ap.add_argument("--clones", type=int, default=20)
    args = ap.parse_args()
    if args.action == "up":
        up(args.clones)
    else:
        down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
