"""Write a disk image onto an iSCSI LUN with qemu-img, in userspace (libiscsi), and verify it.

Knows files, qemu-img, iscsi-ls and HTTP downloads; nothing of Terraform or the array's REST
API, so the resource can be tested with these functions faked.

Rules:
1. Every subprocess gets an argv list (never a shell), a timeout (the caller's remaining
   time) and a cancel event; on either, the child is killed and waited for.
2. Nothing secret reaches argv or logs: a CHAP secret reaches qemu-img as a 0600 file and
   libiscsi's tools through their environment (``chap_login``), and a URL source is
   downloaded with requests (not curl) and shown with its user info and query string removed.
3. The source is probed before anything is created: format, virtual size, sha256, and no
   backing or external data files (a qcow2 that points at /etc/shadow must not be copied
   onto the array).
4. Verification is `qemu-img compare` of the source (as its format decodes it) against the
   LUN read back over iSCSI with the same initiator: one pass that reads every written byte
   and names the first differing offset. A digest of the raw stream would need an extra full
   pass over the source and the same read-back; the source file's own sha256 is checked
   separately (the user's pin), and the file is required unchanged after the write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from . import chap_login

__all__ = [
    "FORMATS",
    "ImageError",
    "Source",
    "Target",
    "default_initiator_name",
    "display_source",
    "fingerprint",
    "is_url",
    "normalize_portal",
    "parse_iscsi_ls",
    "prepare_source",
    "probe",
    "sha256_file",
    "verify",
    "write",
]

log = logging.getLogger("tfnimble.nimble.imagewrite")

MIB = 1024 * 1024
#: Formats qemu-img reads that make sense for a boot image (qemu-img's own names).
FORMATS = ("raw", "qcow2", "qcow", "vmdk", "vhdx", "vpc", "vdi", "qed", "parallels")
INITIATOR_FILE = "/etc/iscsi/initiatorname.iscsi"
INITIATOR_PREFIX = "iqn.2026-11.io.ito:terraform-"
PROBE_TIMEOUT = 60.0
#: How long a new access control record may take to reach the target (real arrays: < 5 s).
ACL_PROPAGATION = 10.0
#: Attempts at a portal that refuses connections (not an access problem: fail fast).
CONNECT_ATTEMPTS = 3
CHUNK = 4 * MIB
PROGRESS_EVERY = 5.0

Cancel = threading.Event


class ImageError(Exception):
    """Something about the image or the transfer failed; `summary` is a Title Case headline."""

    def __init__(self, summary: str, detail: str) -> None:
        super().__init__(detail)
        self.summary = summary
        self.detail = detail


@dataclass(frozen=True)
class Source:
    """A probed source, ready to be written. `path` is a local file (a download, if a URL)."""

    path: str
    format: str
    virtual_size: int
    sha256: str
    file_size: int
    mtime_ns: int
    downloaded: bool = False

    @property
    def size_mib(self) -> int:
        return -(-self.virtual_size // MIB)


@dataclass(frozen=True)
class Target:
    portal: str
    iqn: str
    lun: int
    initiator: str
    chap: chap_login.Chap | None = None

    def image_opts(self) -> str:
        ip, _, port = self.portal.rpartition(":")
        return ",".join(
            [
                "driver=raw",
                "file.driver=iscsi",
                "file.transport=tcp",
                f"file.portal={_opt(ip)}:{port}",
                f"file.target={_opt(self.iqn)}",
                f"file.lun={self.lun}",
                f"file.initiator-name={_opt(self.initiator)}",
                *chap_login.image_opts(self.chap),
            ]
        )


def _opt(value: str) -> str:
    """Escape a value for qemu's -o/--image-opts syntax (a comma is doubled)."""
    return value.replace(",", ",,")


# --- sources ------------------------------------------------------------------------------


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def display_source(source: str) -> str:
    """The source as it may appear in logs and on the array: no password, no query string
    (signed URLs carry their token there)."""
    if not is_url(source):
        return source
    parts = urlsplit(source)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def fingerprint(path: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of a local file, or None if it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def sha256_file(path: str, cancel: Cancel | None = None, deadline: float | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            _check(cancel, deadline, "hashing the image")
    return h.hexdigest()


def download(
    url: str,
    directory: str,
    cancel: Cancel | None = None,
    deadline: float | None = None,
    logger: logging.Logger = log,
    auth: tuple[str, str] | None = None,
) -> tuple[str, str]:
    """Stream `url` into a file in `directory`; return (path, sha256 of the bytes). `auth`
    (username, password) goes in a Basic Authorization header, never into a message; requests
    drops it on a redirect to another host."""
    import requests

    shown = display_source(url)
    path = os.path.join(directory, "image")
    h = hashlib.sha256()
    done, last = 0, time.monotonic()
    try:
        with requests.get(url, stream=True, timeout=(30, 120), auth=auth) as resp:
            if resp.status_code != 200:
                hint = ""
                if resp.status_code in (401, 403):
                    hint = (
                        " The server refused source_username and source_password: check them."
                        if auth
                        else " The server wants credentials: set source_username and "
                        "source_password."
                    )
                raise ImageError(
                    "Image Download Failed",
                    f"GET {shown} answered HTTP {resp.status_code} {resp.reason}.{hint}",
                )
            total = int(resp.headers.get("Content-Length") or 0)
            with open(path, "wb") as f:
                for chunk in resp.iter_content(CHUNK):
                    f.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    _check(cancel, deadline, f"downloading {shown}")
                    if time.monotonic() - last >= PROGRESS_EVERY:
                        last = time.monotonic()
                        of = f" of {total // MIB} MiB" if total else ""
                        logger.info("downloading %s: %d MiB%s", shown, done // MIB, of)
            if total and done != total:
                raise ImageError(
                    "Image Download Failed",
                    f"{shown} ended after {done} of {total} bytes.",
                )
    except requests.RequestException as err:
        raise ImageError(
            "Image Download Failed", f"Could not download {shown}: {type(err).__name__}."
        ) from err
    logger.info("downloaded %s: %d bytes", shown, done)
    return path, h.hexdigest()


def probe(path: str, fmt: str | None = None, timeout: float = PROBE_TIMEOUT) -> tuple[str, int]:
    """(format, virtual size in bytes) from `qemu-img info`; refuses backing/external files."""
    argv = ["qemu-img", "info", "--output=json"]
    if fmt:
        argv += ["-f", fmt]
    proc = run([*argv, path], timeout=min(timeout, PROBE_TIMEOUT), what="reading the image")
    if proc.returncode != 0:
        declared = f" as {fmt}" if fmt else ""
        raise ImageError(
            "Image Not Readable",
            f"qemu-img cannot read {path}{declared}: {last_line(proc.stderr)}. Check that the "
            "file is a disk image and, if source_format is set, that it is the right format.",
        )
    info = json.loads(proc.stdout)
    found = str(info.get("format", ""))
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise ImageError(
            "Image Has A Backing File",
            f"{path} is a {found} overlay on {info.get('backing-filename')!r}. Only "
            "self-contained images are written (a backing file could pull other files of "
            "this host onto the array): flatten it first with qemu-img convert.",
        )
    data = (info.get("format-specific") or {}).get("data") or {}
    external = data.get("data-file")
    extents = [e.get("filename") for e in data.get("extents") or [] if isinstance(e, dict)]
    if external or any(e and os.path.realpath(e) != os.path.realpath(path) for e in extents):
        raise ImageError(
            "Image Refers To Other Files",
            f"{path} stores its data in other files ({external or extents}). Only "
            "self-contained images are written: convert it to a single file first.",
        )
    if found not in FORMATS:
        raise ImageError(
            "Unsupported Image Format",
            f"{path} is a {found!r} image; supported: {', '.join(FORMATS)}.",
        )
    size = int(info.get("virtual-size") or 0)
    if size <= 0:
        raise ImageError("Empty Image", f"{path} has a virtual size of {size} bytes.")
    return found, size


def prepare_source(
    source: str,
    fmt: str | None,
    workdir: str,
    cancel: Cancel | None = None,
    deadline: float | None = None,
    logger: logging.Logger = log,
    auth: tuple[str, str] | None = None,
) -> Source:
    """Download (URL, with `auth` if given) or locate (path) the source, hash and probe it."""
    if is_url(source):
        path, digest = download(source, workdir, cancel, deadline, logger, auth)
        found, size = probe(path, fmt, _remaining(deadline))
        st = os.stat(path)
        return Source(path, found, size, digest, st.st_size, st.st_mtime_ns, downloaded=True)
    if not os.path.isfile(source):
        raise ImageError(
            "Image Source Not Found",
            f"{source} is not a file (relative paths are relative to the directory "
            f"Terraform runs in: {os.getcwd()}).",
        )
    before = fingerprint(source)
    found, size = probe(source, fmt, _remaining(deadline))
    logger.info("hashing %s (%s, %d bytes)", source, found, before[0] if before else 0)
    digest = sha256_file(source, cancel, deadline)
    if fingerprint(source) != before or before is None:
        raise ImageError("Image Changed While Read", f"{source} changed while it was hashed.")
    return Source(source, found, size, digest, before[0], before[1])


# --- the initiator and the target ---------------------------------------------------------


def default_initiator_name(path: str = INITIATOR_FILE) -> str:
    """This host's iSCSI initiator name (open-iscsi's file), else one made from the host name."""
    try:
        for line in Path(path).read_text().splitlines():
            key, _, value = line.strip().partition("=")
            if key.strip() == "InitiatorName" and value.strip():
                return value.strip()
    except OSError:
        pass
    host = re.sub(r"[^a-z0-9.-]", "-", socket.gethostname().lower()).strip("-.") or "host"
    return INITIATOR_PREFIX + host


def normalize_portal(text: str) -> str:
    """`IP` or `IP:PORT` (the array's discovery_ip may carry a port) -> `IP:PORT`."""
    text = text.strip()
    if text.startswith("["):
        return text if "]:" in text else f"{text}:3260"
    return text if text.count(":") == 1 else f"{text}:3260"


_TARGET = re.compile(r"^Target:(\S+)\s+Portal:(\S+)")
_LUN = re.compile(r"^\s*Lun:(\d+)\s+Type:(\S+)(?:\s+\(Size:([\d.]+)([KkMGT]?)\))?")
_UNIT = {"": 1, "K": 1024, "M": MIB, "G": 1024 * MIB, "T": 1024 * 1024 * MIB}


def parse_iscsi_ls(text: str) -> dict[str, list[tuple[int, str, int | None]]]:
    """`iscsi-ls -s` output -> {target: [(lun, type, approximate size in bytes)]}."""
    out: dict[str, list[tuple[int, str, int | None]]] = {}
    current: list[tuple[int, str, int | None]] | None = None
    for line in text.splitlines():
        if m := _TARGET.match(line.strip()):
            current = out.setdefault(m.group(1), [])
        elif (m := _LUN.match(line)) and current is not None:
            size = int(float(m.group(3)) * _UNIT[m.group(4).upper()]) if m.group(3) else None
            current.append((int(m.group(1)), m.group(2), size))
    return out


def reachable(portal: str, timeout: float = 5.0) -> bool:
    host, _, port = portal.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


# --- write and verify ---------------------------------------------------------------------


def write(
    src: Source,
    target: Target,
    cancel: Cancel | None = None,
    deadline: float | None = None,
    logger: logging.Logger = log,
) -> float:
    """qemu-img convert the source onto the LUN (which must exist and be large enough);
    returns the seconds it took. Progress is logged every few seconds."""
    args = ["-p", "-n", "-f", src.format, "--target-image-opts", src.path, target.image_opts()]
    shown = f"{target.iqn} LUN {target.lun} at {target.portal}"
    state = {"pct": -1.0, "at": 0.0}

    def progress(text: str) -> None:
        for m in re.finditer(r"\((\d+(?:\.\d+)?)/100%\)", text):
            pct = float(m.group(1))
            now = time.monotonic()
            if pct >= 100.0 or now - state["at"] >= PROGRESS_EVERY:
                if pct != state["pct"]:
                    logger.info("writing image to %s: %.0f%%", shown, pct)
                state["pct"], state["at"] = pct, now

    logger.info(
        "writing %s (%s, %d MiB) to %s as %s",
        src.path,
        src.format,
        src.size_mib,
        shown,
        target.initiator,
    )
    start = time.monotonic()
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        with chap_login.qemu_secret(target.chap) as secret_args:
            proc = run(
                ["qemu-img", "convert", *secret_args, *args],
                timeout=_remaining(deadline),
                cancel=cancel,
                on_stdout=progress,
                what="writing the image",
            )
        if proc.returncode == 0 or attempt == WRITE_ATTEMPTS or not _transient(proc.stderr):
            break
        # A target whose LUNs change (access records added for other hosts) reports unit
        # attentions to every session; enough of them in a row exhaust qemu's own retries.
        # The write is idempotent (the whole image again) and verified byte for byte after.
        logger.warning(
            "writing to %s: %s; writing again (attempt %d of %d)",
            shown,
            last_line(proc.stderr),
            attempt + 1,
            WRITE_ATTEMPTS,
        )
        _check(cancel, deadline, "writing the image")
        time.sleep(WRITE_RETRY_PAUSE)
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise ImageError(
            "Image Write Failed",
            f"qemu-img convert to {shown} failed: {last_line(proc.stderr)}",
        )
    rate = src.virtual_size / MIB / took if took > 0 else 0.0
    logger.info("wrote %d MiB to %s in %.1f s (%.0f MiB/s)", src.size_mib, shown, took, rate)
    return took


#: qemu-img convert runs at most this often when it fails with an I/O error.
WRITE_ATTEMPTS = 3
WRITE_RETRY_PAUSE = 1.0


def _transient(stderr: str) -> bool:
    """An I/O error on the LUN (EIO), not a refusal: a login, a size or a format problem."""
    return "Input/output error" in stderr


def verify(
    src: Source,
    target: Target,
    cancel: Cancel | None = None,
    deadline: float | None = None,
    logger: logging.Logger = log,
) -> None:
    """Read the LUN back and compare it with the source's contents (see rule 4)."""
    args = [
        "--image-opts",
        f"driver={src.format},file.driver=file,file.filename={_opt(src.path)}",
        target.image_opts(),
    ]
    with chap_login.qemu_secret(target.chap) as secret_args:
        proc = run(
            ["qemu-img", "compare", *secret_args, *args],
            timeout=_remaining(deadline),
            cancel=cancel,
            what="verifying the image",
        )
    if proc.returncode == 1:
        raise ImageError(
            "Image Verification Failed",
            f"The bytes read back from {target.iqn} differ from {src.path}: "
            f"{last_line(proc.stdout)}. No snapshot was taken.",
        )
    if proc.returncode != 0:
        raise ImageError(
            "Image Verification Failed",
            f"qemu-img compare could not read back {target.iqn}: "
            f"{last_line(proc.stderr or proc.stdout)}. No snapshot was taken.",
        )
    logger.info("verified: %s reads back identical to %s", target.iqn, src.path)


# --- running tools ------------------------------------------------------------------------


def run(
    argv: Sequence[str],
    timeout: float | None = None,
    cancel: Cancel | None = None,
    on_stdout: Callable[[str], None] | None = None,
    what: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a tool; kill it when `cancel` is set or `timeout` passes (ImageError then). `env`
    is added to this process's environment (a CHAP login's, never shown)."""
    if shutil.which(argv[0]) is None:
        raise ImageError(
            "Image Tool Missing",
            f"{argv[0]} is not installed on the host running Terraform (Debian: qemu-utils, "
            "qemu-block-extra for iSCSI, libiscsi-bin for iscsi-ls).",
        )
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {}), "LC_ALL": "C"},
    )
    out: list[str] = []
    err: list[str] = []

    def pump(stream: IO[bytes], sink: list[str], cb: Callable[[str], None] | None) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            text = chunk.decode(errors="replace")
            sink.append(text)
            if cb is not None:
                cb(text)

    readers = [
        threading.Thread(target=pump, args=(proc.stdout, out, on_stdout), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, err, None), daemon=True),
    ]
    for t in readers:
        t.start()
    limit = time.monotonic() + timeout if timeout is not None else None
    reason = ""
    while proc.poll() is None:
        if cancel is not None and cancel.is_set():
            reason = "cancelled"
        elif limit is not None and time.monotonic() > limit:
            reason = "timeout"
        if reason:
            proc.kill()
            break
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
    proc.wait()
    for t in readers:
        t.join(timeout=5)
    if reason == "cancelled":
        raise ImageError(
            "Operation Cancelled", f"Terraform asked the provider to stop while {what}."
        )
    if reason == "timeout":
        raise ImageError(
            "Operation Timed Out",
            f"{what} did not finish in time; {argv[0]} was stopped. Raise the limit with "
            'timeouts { create = "..." } if the image is large or the network slow.',
        )
    return subprocess.CompletedProcess(list(argv), proc.returncode, "".join(out), "".join(err))


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in re.split(r"[\r\n]", text or "") if ln.strip()]
    return lines[-1] if lines else "(no output)"


def _remaining(deadline: float | None) -> float:
    return max(0.0, deadline - time.monotonic()) if deadline is not None else 24 * 3600.0


def _check(cancel: Cancel | None, deadline: float | None, what: str) -> None:
    if cancel is not None and cancel.is_set():
        raise ImageError("Operation Cancelled", f"Terraform asked the provider to stop {what}.")
    if deadline is not None and time.monotonic() > deadline:
        raise ImageError("Operation Timed Out", f"{what} did not finish in time.")


def make_workdir() -> str:
    return tempfile.mkdtemp(prefix="tfnimble-image-")
