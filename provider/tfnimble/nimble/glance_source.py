"""An image master's source in Glance: an image fetched through glance-api's image data API
and verified against Glance's own checksums before anything exists on the array.

Knows HTTP and Glance's v2 images API; nothing of Terraform or of the array, like
``imagewrite``, whose probe it shares.

Design (why nothing unverified reaches the array):
1. ``GET /v2/images/{id}`` first: the image must exist, be ``active`` (an image still being
   uploaded is ``queued``, ``saving``, ``uploading`` or ``importing``), have data, a disk
   format qemu-img reads, and a checksum we can compute. Refused otherwise, before any byte
   is fetched (the resource runs the same check at plan time when the endpoint is known).
2. ``GET /v2/images/{id}/file`` streams the data into a private temporary directory, hashing
   while it is written: Glance's ``os_hash_value`` with ``os_hash_algo`` (sha512 by
   default), its md5 ``checksum`` when it has one, and sha256 (our ``image_sha256``). The
   size must be Glance's ``size``. Any difference discards the file: the array was not
   touched yet. Only a file that matched every checksum is probed and written to a new
   volume, which is compared byte for byte with it before the base snapshot is taken. So
   there is never a master snapshot of unverified data, and a bad download never makes a
   volume that then has to be deleted.
3. The token goes in ``X-Auth-Token`` (Keystone's header, which glance-api checks): never in
   a URL, a message or a log line. Redirects are not followed: a custom header would follow
   them to any host.
4. TLS is verified: against ``ca_file`` when given, else the system trust store.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import imagewrite as iw

log = logging.getLogger("tfnimble.nimble.glance_source")

MIB = 1024 * 1024
CHUNK = 4 * MIB
PROGRESS_EVERY = 5.0
#: (connect, read) timeouts of one request to glance-api, in seconds.
TIMEOUT = (15.0, 120.0)
#: attribute -> the environment variable it falls back to (python-glanceclient's names).
ENV = {"endpoint": "OS_IMAGE_URL", "token": "OS_AUTH_TOKEN", "ca_file": "OS_CACERT"}
IMAGE_ID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
#: Glance's disk_format -> qemu-img's name for it (an ISO is read as raw bytes).
QEMU_FORMAT = {
    "raw": "raw",
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vhd": "vpc",
    "vhdx": "vhdx",
    "vdi": "vdi",
    "iso": "raw",
    "ploop": "parallels",
}
#: Statuses of an image whose upload has not finished (Glance's image state machine).
UPLOADING = ("queued", "saving", "uploading", "importing")

Cancel = threading.Event


class GlanceError(Exception):
    """Glance refused or failed; `attribute` is the one of `source_glance` it concerns."""

    def __init__(self, summary: str, detail: str, attribute: str | None = "image_id") -> None:
        super().__init__(detail)
        self.summary, self.detail, self.attribute = summary, detail, attribute


@dataclass(frozen=True)
class Glance:
    """Where the image is: glance-api's base URL (without ``/v2``) and how to get in."""

    image_id: str
    endpoint: str
    token: str | None = None
    ca_file: str | None = None

    def url(self, *tail: str) -> str:
        return "/".join((self.endpoint, "v2", "images", self.image_id, *tail))

    @property
    def shown(self) -> str:
        return f"Glance image {self.image_id}"


@dataclass(frozen=True)
class ImageInfo:
    """What ``GET /v2/images/{id}`` says about the image."""

    id: str
    name: str
    status: str
    disk_format: str | None
    size: int | None
    checksum: str | None
    hash_algo: str | None
    hash_value: str | None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ImageInfo:
        size = doc.get("size")
        return cls(
            id=str(doc.get("id") or ""),
            name=str(doc.get("name") or ""),
            status=str(doc.get("status") or ""),
            disk_format=doc.get("disk_format") or None,
            size=int(size) if isinstance(size, int) else None,
            checksum=doc.get("checksum") or None,
            hash_algo=doc.get("os_hash_algo") or None,
            hash_value=doc.get("os_hash_value") or None,
        )


# --- settings -------------------------------------------------------------------------------


def endpoint_problem(endpoint: str) -> str | None:
    """What is wrong with the form of an endpoint URL (the sentence), or None. Never repeats
    the URL: it might hold user info."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return (
            "must be glance-api's http:// or https:// URL, e.g. https://controller:9292 "
            "(openstack endpoint list --service image)"
        )
    if not parts.hostname:
        return "must name glance-api's host, as in https://controller:9292"
    if parts.username is not None or parts.password is not None:
        return "must not hold user info (USER:PASSWORD@): the token goes in token"
    if parts.query or parts.fragment:
        return "must not have a query string or fragment"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has a port that is not a number from 1 to 65535"
    return None


def base_url(endpoint: str) -> str:
    """glance-api's base URL: the catalog's image endpoint, with or without ``/v2``."""
    url = endpoint.strip().rstrip("/")
    return url[: -len("/v2")] if url.endswith("/v2") else url


def resolve(
    image_id: str,
    endpoint: str | None,
    token: str | None,
    ca_file: str | None,
    environ: Mapping[str, str] = os.environ,
) -> Glance:
    """The configured values, each falling back to its environment variable (``ENV``)."""
    endpoint = endpoint or environ.get(ENV["endpoint"]) or None
    if endpoint is None:
        raise GlanceError(
            "Missing Glance Endpoint",
            "source_glance needs glance-api's URL: set endpoint (e.g. https://controller:9292; "
            "openstack endpoint list --service image shows it) or OS_IMAGE_URL.",
            "endpoint",
        )
    problem = endpoint_problem(endpoint)
    if problem is not None:
        raise GlanceError("Invalid Glance Endpoint", f"endpoint {problem}.", "endpoint")
    return Glance(
        image_id=image_id.strip(),
        endpoint=base_url(endpoint),
        token=token or environ.get(ENV["token"]) or None,
        ca_file=ca_file or environ.get(ENV["ca_file"]) or None,
    )


# --- talking to glance-api ------------------------------------------------------------------


def _get(g: Glance, url: str, stream: bool = False) -> Any:
    """One GET to glance-api; connection and TLS failures become GlanceError."""
    import requests

    headers = {"Accept": "application/json" if not stream else "application/octet-stream"}
    if g.token:
        headers["X-Auth-Token"] = g.token
    if g.ca_file is not None and not os.path.isfile(g.ca_file):
        raise GlanceError(
            "Cannot Read The Glance CA File",
            f"ca_file is {g.ca_file!r}, which is not a file. Set it to a PEM file with the CA "
            "certificate that signed glance-api's certificate.",
            "ca_file",
        )
    try:
        return requests.get(
            url,
            headers=headers,
            stream=stream,
            timeout=TIMEOUT,
            verify=g.ca_file or True,
            allow_redirects=False,
        )
    except requests.exceptions.SSLError as err:
        raise GlanceError(
            "Glance TLS Certificate Not Trusted",
            f"The TLS connection to glance-api at {g.endpoint} failed: {_reason(err)}. Set "
            "ca_file (or OS_CACERT) to the CA certificate that signed glance-api's certificate.",
            "ca_file",
        ) from err
    except requests.RequestException as err:
        raise GlanceError(
            "Glance Unreachable",
            f"Could not reach glance-api at {g.endpoint}: {_reason(err)}. Check endpoint (or "
            "OS_IMAGE_URL): it must be glance-api's URL as this host reaches it, e.g. "
            "https://controller:9292. Nothing was created on the array.",
            "endpoint",
        ) from err


def _reason(err: BaseException) -> str:
    """A short cause without the request (which names no secret, but is long)."""
    text = str(err)
    for pattern in (r"\[Errno -?\d+\] [^'\")\]]+", r"\[SSL[^\]]*\][^'\")\]]*", r"timed out"):
        m = re.search(pattern, text)
        if m:
            return m.group(0).strip()
    return type(err).__name__


def _not_glance(g: Glance, why: str) -> GlanceError:
    return GlanceError(
        "Not A Glance Endpoint",
        f"{g.endpoint} {why}. Set endpoint to glance-api's URL as the catalog lists it "
        "(openstack endpoint list --service image), e.g. https://controller:9292. Nothing was "
        "created on the array.",
        "endpoint",
    )


def _is_glance(g: Glance) -> bool:
    """Whether the endpoint answers ``GET /versions`` as glance-api does (a 404 for the image
    then means the image is missing, not that the endpoint is wrong)."""
    try:
        with _get(g, f"{g.endpoint}/versions") as resp:
            doc = resp.json() if resp.status_code in (200, 300) else None
    except (GlanceError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("versions"), list)


def _refused(g: Glance, resp: Any, what: str) -> GlanceError:
    code = resp.status_code
    if code == 404 and not _is_glance(g):
        return _not_glance(g, f"answered HTTP 404 to {what} and is not glance-api's root URL")
    if code == 300:
        return _not_glance(g, f"answered {what} with a list of API versions (HTTP 300)")
    if code == 404:
        return GlanceError(
            "Glance Image Not Found",
            f"glance-api at {g.endpoint} has no image {g.image_id} (HTTP 404 on {what}). Check "
            "image_id (openstack image list), and that endpoint is the Glance that holds it. "
            "Nothing was created on the array.",
            "image_id",
        )
    if code in (401, 403):
        hint = "set token (or OS_AUTH_TOKEN): openstack token issue -f value -c id"
        if g.token:
            hint = "the token may have expired or lack access to the image: issue a new one"
        return GlanceError(
            "Glance Refused The Request",
            f"glance-api at {g.endpoint} answered HTTP {code} to {what}: {hint}.",
            "token",
        )
    if 300 <= code < 400:
        return GlanceError(
            "Glance Endpoint Redirects",
            f"glance-api at {g.endpoint} answered HTTP {code} (a redirect) to {what}; "
            "redirects are not followed, so the token is never sent to another address. Set "
            "endpoint to the URL glance-api answers at.",
            "endpoint",
        )
    return GlanceError(
        "Glance Request Failed",
        f"glance-api at {g.endpoint} answered HTTP {code} {resp.reason} to {what}. Check "
        "endpoint (it must be glance-api's URL) and the glance-api log.",
        "endpoint",
    )


def image_info(g: Glance) -> ImageInfo:
    """``GET /v2/images/{id}``: the image's status, format, size and checksums."""
    with _get(g, g.url()) as resp:
        if resp.status_code != 200:
            raise _refused(g, resp, "GET /v2/images/{id}")
        try:
            doc = resp.json()
        except ValueError:
            doc = None
    if not isinstance(doc, dict) or "status" not in doc or "disk_format" not in doc:
        raise _not_glance(g, "answered GET /v2/images/{id}, but not with a Glance image record")
    return ImageInfo.from_json(doc)


def check_ready(g: Glance, info: ImageInfo) -> None:
    """Refuse an image that cannot be fetched and verified now (see the module's rule 1)."""
    if info.status != "active":
        why = (
            "its upload has not finished: wait until openstack image show reports it active, "
            "then apply again"
            if info.status in UPLOADING
            else "only an active image can be read"
        )
        raise GlanceError(
            "Glance Image Not Active",
            f"{g.shown} is {info.status or 'of no status'}; {why}. Nothing was created on "
            "the array.",
        )
    if not info.size:
        raise GlanceError("Glance Image Has No Data", f"{g.shown} is active but has no data.")
    if info.disk_format not in QEMU_FORMAT:
        raise GlanceError(
            "Unsupported Glance Disk Format",
            f"{g.shown} has disk_format {info.disk_format!r}; supported: "
            f"{', '.join(sorted(QEMU_FORMAT))}.",
        )
    if info.hash_value is None and info.checksum is None:
        raise GlanceError(
            "Glance Image Has No Checksum",
            f"{g.shown} has neither os_hash_value nor checksum, so its download cannot be "
            "verified; it is not written. Re-upload it to a Glance that computes checksums.",
        )
    if info.hash_value is not None and _algo(info.hash_algo) is None:
        raise _unsupported_algo(g, info)


def _unsupported_algo(g: Glance, info: ImageInfo) -> GlanceError:
    return GlanceError(
        "Unsupported Glance Hash Algorithm",
        f"{g.shown} has os_hash_algo {info.hash_algo!r}, which this host's Python cannot "
        "compute, so its download cannot be verified; it is not written.",
    )


def _algo(name: str | None) -> str | None:
    """hashlib's name for Glance's os_hash_algo (Glance uses hashlib's names), or None."""
    if not name:
        return None
    name = name.lower()
    return name if name in hashlib.algorithms_available else None


# --- download and verification ----------------------------------------------------------------


class Verifier:
    """Hashes a stream as it passes and checks it against Glance's record."""

    def __init__(self, g: Glance, info: ImageInfo) -> None:
        self.g, self.info, self.size = g, info, 0
        self.hashes: dict[str, Any] = {"sha256": hashlib.sha256()}
        if info.hash_value is not None:
            algo = _algo(info.hash_algo)
            if algo is None:
                raise _unsupported_algo(g, info)
            self.hashes[algo] = hashlib.new(algo)
        if info.checksum is not None:
            self.hashes.setdefault("md5", hashlib.md5(usedforsecurity=False))

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        for h in self.hashes.values():
            h.update(chunk)

    def finish(self) -> str:
        """Check size and every checksum; return the data's sha256."""
        g, info = self.g, self.info
        if info.size is not None and self.size != info.size:
            raise GlanceError(
                "Glance Download Incomplete",
                f"{g.shown} is {info.size} bytes, but glance-api sent {self.size}. Nothing was "
                "written to the array; apply again (check glance-api's log if it repeats).",
            )
        expected: list[tuple[str, str]] = []
        if info.hash_value is not None:
            expected.append((_algo(info.hash_algo) or "", info.hash_value))
        if info.checksum is not None:
            expected.append(("md5", info.checksum))
        for algo, want in expected:
            got = self.hashes[algo].hexdigest()
            if got != want.lower():
                field = "os_hash_value" if algo != "md5" else "checksum"
                raise GlanceError(
                    "Glance Image Checksum Mismatch",
                    f"The data glance-api sent for {g.shown} has {algo} {got}, but Glance "
                    f"records {field} {want.lower()}: the stored image is damaged or was "
                    "changed behind Glance's back. Nothing was written to the array. "
                    "Re-upload the image to Glance (or restore it from a backup).",
                )
        return str(self.hashes["sha256"].hexdigest())


def download(
    g: Glance,
    info: ImageInfo,
    directory: str,
    cancel: Cancel | None = None,
    deadline: float | None = None,
    logger: logging.Logger = log,
) -> tuple[str, str]:
    """Stream the image's data into `directory` and verify it; return (path, sha256). On any
    failure the partial file is removed."""
    import requests

    path = os.path.join(directory, "image")
    verifier = Verifier(g, info)
    last = time.monotonic()
    try:
        with _get(g, g.url("file"), stream=True) as resp:
            if resp.status_code == 204:
                raise GlanceError("Glance Image Has No Data", f"{g.shown} has no data (204).")
            if resp.status_code != 200:
                raise _refused(g, resp, "GET /v2/images/{id}/file")
            with open(path, "wb") as f:
                for chunk in resp.iter_content(CHUNK):
                    f.write(chunk)
                    verifier.update(chunk)
                    _check(cancel, deadline, f"downloading {g.shown}")
                    if time.monotonic() - last >= PROGRESS_EVERY:
                        last = time.monotonic()
                        logger.info(
                            "downloading %s: %d of %d MiB",
                            g.shown,
                            verifier.size // MIB,
                            (info.size or 0) // MIB,
                        )
        digest = verifier.finish()
    except requests.RequestException as err:
        _discard(path)
        raise GlanceError(
            "Glance Download Failed",
            f"Downloading {g.shown} from {g.endpoint} failed after {verifier.size} bytes: "
            f"{_reason(err)}. Nothing was written to the array; apply again.",
            None,  # the transfer broke off: no setting is wrong
        ) from err
    except BaseException:
        _discard(path)
        raise
    logger.info("downloaded %s: %d bytes, checksums match Glance's", g.shown, verifier.size)
    return path, digest


def prepare(
    g: Glance,
    fmt: str | None,
    workdir: str,
    cancel: Cancel | None = None,
    deadline: float | None = None,
    logger: logging.Logger = log,
) -> iw.Source:
    """Check, download, verify and probe the image: an ``imagewrite.Source`` ready to write.
    `fmt` (source_format) wins over Glance's disk_format."""
    info = image_info(g)
    check_ready(g, info)
    path, digest = download(g, info, workdir, cancel, deadline, logger)
    found, size = iw.probe(path, fmt or QEMU_FORMAT[str(info.disk_format)], iw._remaining(deadline))
    st = os.stat(path)
    return iw.Source(path, found, size, digest, st.st_size, st.st_mtime_ns, downloaded=True)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _check(cancel: Cancel | None, deadline: float | None, what: str) -> None:
    try:
        iw._check(cancel, deadline, what)
    except iw.ImageError as err:
        raise GlanceError(err.summary, err.detail, None) from err
