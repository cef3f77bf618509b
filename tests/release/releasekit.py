"""The release test bed: a signed release built once per session, served over HTTPS with a
test CA on a loopback address, and a runner-like environment for terraform (new HOME, no
Python anywhere on PATH, no PYTHON* variables, no plugin directory)."""

from __future__ import annotations

import datetime
import functools
import http.server
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


TERRAFORM = shutil.which("terraform") or "terraform"


# --- the build --------------------------------------------------------------------------------


@dataclass
class Release:
    dist: Path
    version: str
    manifest: dict[str, Any]
    key_id: str
    seconds: float

    def h1(self, name: str) -> str:
        return next(str(p["h1"]) for p in self.manifest["packages"] if p["name"] == name)

    def zh(self, name: str) -> str:
        return next(str(p["zh"]) for p in self.manifest["packages"] if p["name"] == name)


def throwaway_key(gnupghome: Path) -> str:
    """A signing key made for this test only, in a private GnuPG home."""
    gnupghome.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(gnupghome)}
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "tfnimble release test <release-test@tfnimble.invalid>",
            "rsa3072",
            "sign",
            "1d",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    out = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return next(line.split(":")[4] for line in out.splitlines() if line.startswith("sec"))


def shared_release(shared: Path) -> Release:
    """The release built once in ``shared`` (a directory every pytest-xdist worker of this
    session sees) and reused by the others: the build (a PyInstaller freeze of each provider)
    costs tens of seconds of CPU, and the release tests read it only. The first worker builds
    under an exclusive lock while the others wait; a failed build leaves nothing, so the next
    worker tries again and fails the same way."""
    import fcntl

    done = shared / "release.json"
    with open(shared / "release.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            base = shared / "release"
            shutil.rmtree(base, ignore_errors=True)  # what a failed build left
            base.mkdir()
            r = build_release(base)
            fields = {"version": r.version, "manifest": r.manifest, "key_id": r.key_id}
            tmp = done.with_suffix(".tmp")
            tmp.write_text(json.dumps({"dist": str(r.dist), **fields, "seconds": r.seconds}))
            tmp.rename(done)
    d = json.loads(done.read_text())
    return Release(Path(d["dist"]), d["version"], d["manifest"], d["key_id"], d["seconds"])


def build_release(base: Path) -> Release:
    gnupghome = base / "gnupg"
    key_id = throwaway_key(gnupghome)
    dist = base / "dist"
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/release/build.py"),
            "--dist",
            str(dist),
            "--work",
            str(base / "work"),
            "--gpg-key",
            key_id,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "GNUPGHOME": str(gnupghome)},
        cwd=ROOT,
    )
    manifest = json.loads((dist / "release.json").read_text())
    # the agent started for the key holds a socket in the temp dir: stop it
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": str(gnupghome)},
        capture_output=True,
    )
    return Release(dist, manifest["version"], manifest, key_id, time.monotonic() - started)


# --- HTTPS with a test CA ---------------------------------------------------------------------


@dataclass
class TestCA:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_ca(directory: Path, ip: str, names: tuple[str, ...]) -> TestCA:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tfnimble release test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip))]
    sans += [x509.DNSName(n) for n in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = TestCA(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    out.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


class _Handler(http.server.SimpleHTTPRequestHandler):
    # the registry's documents have no extension: say JSON (Terraform checks nothing else)
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, "": "application/json"}
    requests: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        self.requests.append(self.path)


@dataclass
class Server:
    """dist/ over HTTPS: the network mirror at https://IP:PORT/mirror/, the registry at the
    root of https://localhost:REGISTRY_PORT/ (dist/registry served under / by a path rewrite;
    both listeners serve both)."""

    ip: str
    port: int
    ca: TestCA
    registry_port: int
    requests: list[str] = field(default_factory=list)
    httpds: list[http.server.ThreadingHTTPServer] = field(default_factory=list)

    @property
    def mirror_url(self) -> str:
        return f"https://{self.ip}:{self.port}/mirror/"

    @property
    def registry_host(self) -> str:
        return f"localhost:{self.registry_port}"

    def stop(self) -> None:
        for httpd in self.httpds:
            httpd.shutdown()
            httpd.server_close()


def serve_https(dist: Path, ip: str, ca: TestCA) -> Server:
    requests: list[str] = []
    mirror_root = dist

    class Handler(_Handler):
        def translate_path(self, path: str) -> str:
            # / -> dist/registry, /mirror/ -> dist/mirror
            if path.startswith("/mirror/"):
                return super().translate_path(path)
            return super().translate_path("/registry" + path)

    Handler.requests = requests
    handler = functools.partial(Handler, directory=str(mirror_root))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.cert_file, ca.key_file)
    httpds = []
    # `ip` for the mirror; 127.0.0.1 (what `localhost` resolves to) for the registry's host name
    for addr in (ip, "127.0.0.1"):
        httpd = http.server.ThreadingHTTPServer((addr, 0), handler)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        httpds.append(httpd)
    ports = [int(h.server_address[1]) for h in httpds]
    return Server(ip, ports[0], ca, ports[1], requests, httpds)


def loopback_ip() -> str:
    """A 127.0.0.x address of its own (not .1, where the simulators and the demo listen)."""
    for last in range(50, 250):
        ip = f"127.0.0.{last}"
        with socket.socket() as s:
            try:
                s.bind((ip, 0))
                return ip
            except OSError:
                continue
    raise RuntimeError("no 127.0.0.x address can be bound")


# --- a runner -----------------------------------------------------------------------------------


def runner_env(home: Path, cli_config: str, ca_file: Path, **extra: str) -> dict[str, str]:
    """What a CI runner has: terraform on PATH and nothing of this checkout: a new HOME, a PATH
    holding only terraform (no Python, no venv), no PYTHON* or VIRTUAL_ENV variables."""
    home.mkdir(parents=True, exist_ok=True)
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "terraform").unlink(missing_ok=True)
    (bin_dir / "terraform").symlink_to(Path(TERRAFORM).resolve())
    rc = home / ".terraformrc"
    rc.write_text(cli_config)
    env = {
        "HOME": str(home),
        "PATH": str(bin_dir),
        "TF_CLI_CONFIG_FILE": str(rc),
        "SSL_CERT_FILE": str(ca_file),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "LANG": "C.UTF-8",
        **extra,
    }
    assert not any(k.startswith("PYTHON") or k == "VIRTUAL_ENV" for k in env)
    return env


def mirror_runner(home: Path, server: Server, **extra: str) -> dict[str, str]:
    """A runner that installs the ito providers from the release's network mirror."""
    return runner_env(home, mirror_cli_config(server.mirror_url), server.ca.ca_file, **extra)


def mirror_cli_config(url: str) -> str:
    return (
        "provider_installation {\n"
        f'  network_mirror {{\n    url     = "{url}"\n'
        '    include = ["registry.terraform.io/ito/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/ito/*"]\n  }\n}\n'
    )


def tf(
    cwd: Path, env: Mapping[str, str], *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [TERRAFORM, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and res.returncode != 0:
        raise AssertionError(f"terraform {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return res


def lock_hashes(workdir: Path, address: str) -> set[str]:
    text = (workdir / ".terraform.lock.hcl").read_text()
    m = re.search(rf'provider "{re.escape(address)}" {{(.*?)\n}}', text, re.S)
    assert m, f"{address} is not in the lock file:\n{text}"
    return set(re.findall(r'"((?:h1|zh):[^"]+)"', m.group(1)))


# --- which executable serves Terraform --------------------------------------------------------


def children_exes(pid: int) -> set[str]:
    """Executables of PID's children, leaving out children that have not yet called exec.

    Go starts a child with clone(CLONE_VFORK): until the child's execve, its /proc/PID/exe is
    still the parent's executable, so a sample in that window would report terraform itself."""
    out = set()
    try:
        parent_exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return out
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                exe = os.readlink(entry / "exe")
                if exe != parent_exe:
                    out.add(exe)
        except (OSError, ValueError, IndexError):
            continue
    return out


def run_watching_children(
    argv: list[str], cwd: Path, env: Mapping[str, str]
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run terraform and collect the executables of its child processes (the providers) while
    it runs, from /proc/PID/exe."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(children_exes(proc.pid))
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate(timeout=600)
    done.set()
    watcher.join()
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr), seen


def poll(predicate: Callable[[], bool], what: str, timeout: float = 300) -> None:
    """Wait for a condition that must come (a generous bound only against a hang)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def iter_lines(stream: Any) -> Iterator[str]:
    while line := stream.readline():
        yield line
