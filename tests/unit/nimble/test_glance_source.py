"""The Glance source of nimble_image_master against a small fake glance-api (a real HTTP server
in a thread that answers the v2 images API from a dict): checks before the download, the
verification of the stream against Glance's checksums, and the diagnostics on the resource."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tfnimble.nimble import glance_source as gs
from tfnimble.nimble import image_master_glance as ig
from tfnimble.nimble.provider import NimbleProvider
from tfnimble.plugin.engine import Engine

IMAGE = "3c1b6e4f-8a0e-4d8c-9f6a-2b7e5d1c0a93"
TOKEN = "gAAAAAB-unit-" + "t0ken"
DATA = bytes(range(256)) * 4096  # 1 MiB, raw


def record(data: bytes = DATA, **changes: Any) -> dict[str, Any]:
    doc = {
        "id": IMAGE,
        "name": "unit",
        "status": "active",
        "disk_format": "raw",
        "container_format": "bare",
        "size": len(data),
        "checksum": hashlib.md5(data).hexdigest(),
        "os_hash_algo": "sha512",
        "os_hash_value": hashlib.sha512(data).hexdigest(),
    }
    doc.update(changes)
    return doc


class FakeGlance:
    """GET /v2/images/{id} answers `records[id]`; GET .../file sends `files[id]`, or its first
    `cut` bytes and then closes the connection while promising all of them; GET /versions
    answers as glance-api does unless `is_glance` is false. With `tls` (cert, key) it speaks
    HTTPS."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.is_glance = True
        self.records: dict[str, dict[str, Any]] = {IMAGE: record()}
        self.files: dict[str, bytes] = {IMAGE: DATA}
        self.cut: int | None = None
        self.status: int | None = None
        self.tokens: list[str | None] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.tokens.append(self.headers.get("X-Auth-Token"))
                parts = self.path.strip("/").split("/")
                if parts == ["versions"] and fake.is_glance:
                    self._send(b'{"versions": [{"id": "v2.17", "status": "CURRENT"}]}', "a/json")
                    return
                if fake.status is not None:
                    self.send_response(fake.status)
                    self.send_header("Location", "http://elsewhere.example/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parts[:2] != ["v2", "images"] or parts[2] not in fake.records:
                    self.send_error(404)
                    return
                if len(parts) == 3:
                    self._send(json.dumps(fake.records[parts[2]]).encode(), "application/json")
                    return
                body = fake.files[parts[2]]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if fake.cut is None else body[: fake.cut])
                if fake.cut is not None:
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.endpoint = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def glance(self, image_id: str = IMAGE) -> gs.Glance:
        return gs.Glance(image_id, self.endpoint, TOKEN)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeGlance]:
    f = FakeGlance()
    yield f
    f.close()


def fetch(fake: FakeGlance, workdir: Path) -> tuple[str, str]:
    return fetch_with(fake.glance(), workdir)


def fetch_with(g: gs.Glance, workdir: Path) -> tuple[str, str]:
    info = gs.image_info(g)
    gs.check_ready(g, info)
    return gs.download(g, info, str(workdir))


# --- verification ---------------------------------------------------------------------------


def test_verified_download_sends_the_token_and_returns_sha256(
    fake: FakeGlance, tmp_path: Path
) -> None:
    path, digest = fetch(fake, tmp_path)
    assert Path(path).read_bytes() == DATA
    assert digest == hashlib.sha256(DATA).hexdigest()
    assert fake.tokens == [TOKEN, TOKEN]


def test_prepare_probes_the_verified_file_with_glances_disk_format(
    fake: FakeGlance, tmp_path: Path
) -> None:
    src = gs.prepare(fake.glance(), None, str(tmp_path))
    assert (src.format, src.virtual_size, src.downloaded) == ("raw", len(DATA), True)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({}, "os_hash_value"),  # both differ: the stronger one is named
        ({"os_hash_value": None, "os_hash_algo": None}, "checksum"),
        ({"checksum": None}, "os_hash_value"),
    ],
)
def test_data_that_differs_from_glances_checksum_is_refused_and_discarded(
    fake: FakeGlance, tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    fake.records[IMAGE] = record(**changes)
    fake.files[IMAGE] = DATA[:-1] + b"\x00"  # same size, the last byte changed
    with pytest.raises(gs.GlanceError) as err:
        fetch(fake, tmp_path)
    assert err.value.summary == "Glance Image Checksum Mismatch"
    assert f"Glance records {field}" in err.value.detail
    assert "Nothing was written to the array" in err.value.detail
    assert err.value.attribute == "image_id"
    assert os.listdir(tmp_path) == []


def test_md5_is_checked_even_when_os_hash_matches(fake: FakeGlance, tmp_path: Path) -> None:
    fake.records[IMAGE] = record(checksum="0" * 32)
    with pytest.raises(gs.GlanceError, match=r"records checksum 0{32}"):
        fetch(fake, tmp_path)


@pytest.mark.parametrize("algo", ["sha3_1024", "crc32"])
def test_an_algorithm_we_cannot_compute_is_refused_before_the_download(
    fake: FakeGlance, tmp_path: Path, algo: str
) -> None:
    fake.records[IMAGE] = record(os_hash_algo=algo)
    g = fake.glance()
    with pytest.raises(gs.GlanceError) as err:
        gs.check_ready(g, gs.image_info(g))
    assert err.value.summary == "Unsupported Glance Hash Algorithm" and algo in err.value.detail
    with pytest.raises(gs.GlanceError) as err:
        gs.Verifier(g, gs.image_info(g))
    assert err.value.summary == "Unsupported Glance Hash Algorithm"
    assert len(fake.tokens) == 2  # two metadata reads; the data was never asked for


def test_a_stream_cut_short_is_refused_and_discarded(fake: FakeGlance, tmp_path: Path) -> None:
    fake.cut = len(DATA) // 2
    with pytest.raises(gs.GlanceError) as err:
        fetch(fake, tmp_path)
    assert (err.value.summary, err.value.attribute) == ("Glance Download Failed", None)
    assert "Nothing was written to the array" in err.value.detail
    assert os.listdir(tmp_path) == []


def test_a_complete_answer_shorter_than_glances_size_is_refused(
    fake: FakeGlance, tmp_path: Path
) -> None:
    half = DATA[: len(DATA) // 2]
    fake.files[IMAGE] = half  # the answer is whole, but Glance's record says 1 MiB
    with pytest.raises(gs.GlanceError) as err:
        fetch(fake, tmp_path)
    assert err.value.summary == "Glance Download Incomplete"
    assert f"is {len(DATA)} bytes, but glance-api sent {len(half)}" in err.value.detail
    assert os.listdir(tmp_path) == []


# --- refused before the download ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ({"status": "queued", "size": None}, "Glance Image Not Active"),
        ({"status": "saving"}, "Glance Image Not Active"),
        ({"status": "deactivated"}, "Glance Image Not Active"),
        ({"size": 0}, "Glance Image Has No Data"),
        ({"disk_format": "ami"}, "Unsupported Glance Disk Format"),
        ({"checksum": None, "os_hash_value": None}, "Glance Image Has No Checksum"),
    ],
)
def test_images_that_cannot_be_read_and_verified_are_refused(
    fake: FakeGlance, changes: dict[str, Any], summary: str
) -> None:
    fake.records[IMAGE] = record(**changes)
    g = fake.glance()
    with pytest.raises(gs.GlanceError) as err:
        gs.check_ready(g, gs.image_info(g))
    assert err.value.summary == summary and err.value.attribute == "image_id"


def test_still_uploading_says_to_wait(fake: FakeGlance) -> None:
    fake.records[IMAGE] = record(status="saving")
    g = fake.glance()
    with pytest.raises(gs.GlanceError, match="upload has not finished"):
        gs.check_ready(g, gs.image_info(g))


@pytest.mark.parametrize(
    ("status", "summary", "attribute"),
    [
        (401, "Glance Refused The Request", "token"),
        (302, "Glance Endpoint Redirects", "endpoint"),
        (500, "Glance Request Failed", "endpoint"),
    ],
)
def test_http_refusals_name_the_attribute(
    fake: FakeGlance, status: int, summary: str, attribute: str
) -> None:
    fake.status = status
    with pytest.raises(gs.GlanceError) as err:
        gs.image_info(fake.glance())
    assert (err.value.summary, err.value.attribute) == (summary, attribute)
    assert TOKEN not in err.value.detail


def test_missing_image_unreachable_and_wrong_endpoints(fake: FakeGlance) -> None:
    with pytest.raises(gs.GlanceError) as err:
        gs.image_info(fake.glance("00000000-0000-0000-0000-000000000000"))
    assert (err.value.summary, err.value.attribute) == ("Glance Image Not Found", "image_id")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(gs.GlanceError) as err:
        gs.image_info(gs.Glance(IMAGE, closed, TOKEN))
    assert (err.value.summary, err.value.attribute) == ("Glance Unreachable", "endpoint")
    assert "Connection refused" in err.value.detail
    fake.records[IMAGE] = {"status": "ok"}  # some other JSON service
    with pytest.raises(gs.GlanceError) as err:
        gs.image_info(fake.glance())
    assert (err.value.summary, err.value.attribute) == ("Not A Glance Endpoint", "endpoint")


def test_a_404_from_something_else_is_a_wrong_endpoint(fake: FakeGlance) -> None:
    fake.is_glance = False
    with pytest.raises(gs.GlanceError) as err:
        gs.image_info(fake.glance("00000000-0000-0000-0000-000000000000"))
    assert (err.value.summary, err.value.attribute) == ("Not A Glance Endpoint", "endpoint")


def test_tls_is_verified_by_default_and_ca_file_trusts_glance(tmp_path: Path) -> None:
    from tfnimble.sim.tls import ensure_certificates

    ca, cert, key = ensure_certificates(tmp_path / "pki", "127.0.0.1")
    fake = FakeGlance(tls=(cert, key))
    try:
        with pytest.raises(gs.GlanceError) as err:
            gs.image_info(gs.Glance(IMAGE, fake.endpoint, TOKEN))
        assert (err.value.summary, err.value.attribute) == (
            "Glance TLS Certificate Not Trusted",
            "ca_file",
        )
        assert "CERTIFICATE_VERIFY_FAILED" in err.value.detail
        assert fake.tokens == []  # the token was never sent to an unverified server
        g = gs.Glance(IMAGE, fake.endpoint, TOKEN, str(ca))
        assert Path(fetch_with(g, tmp_path)[0]).read_bytes() == DATA
    finally:
        fake.close()


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    g = gs.Glance(IMAGE, "https://glance.example:9292", None, str(tmp_path / "nope.pem"))
    with pytest.raises(gs.GlanceError) as err:
        gs.image_info(g)
    assert err.value.attribute == "ca_file"


def test_settings_fall_back_to_the_openstack_environment() -> None:
    env = {"OS_IMAGE_URL": "https://c:9292/v2/", "OS_AUTH_TOKEN": "t", "OS_CACERT": "/ca.pem"}
    g = gs.resolve(IMAGE, None, None, None, env)
    assert (g.endpoint, g.token, g.ca_file) == ("https://c:9292", "t", "/ca.pem")
    assert g.url("file") == f"https://c:9292/v2/images/{IMAGE}/file"
    assert gs.resolve(IMAGE, "http://x:9292", "mine", None, env).token == "mine"
    with pytest.raises(gs.GlanceError) as err:
        gs.resolve(IMAGE, None, None, None, {})
    assert (err.value.summary, err.value.attribute) == ("Missing Glance Endpoint", "endpoint")


# --- on the resource ------------------------------------------------------------------------

TYPE = "nimble_image_master"


def config(**values: Any) -> dict[str, Any]:
    from tfnimble.nimble.resource_image_master import ImageMasterModel

    cfg: dict[str, Any] = dict.fromkeys(ImageMasterModel.__dataclass_fields__)
    cfg.update(name="from-glance", glance_image_id=IMAGE)
    cfg.update(values)
    return cfg


@pytest.mark.parametrize(
    ("values", "summary", "attribute"),
    [
        ({"source": "disk.qcow2"}, "Two Image Sources", "glance_image_id"),
        ({"glance_image_id": None}, "Missing Image Source", "source"),
        (
            {"glance_image_id": None, "source": "d.img", "glance_endpoint": "http://g:9292"},
            "Glance Setting Without A Glance Image",
            "glance_endpoint",
        ),
        ({"source_username": "u"}, "Download Credentials For A Glance Image", "source_username"),
        ({"glance_image_id": "cirros"}, "Invalid Attribute Value", "glance_image_id"),
        ({"glance_endpoint": "ftp://g/"}, "Invalid Glance Endpoint", "glance_endpoint"),
        ({"glance_endpoint": "http://u:p@g/"}, "Invalid Glance Endpoint", "glance_endpoint"),
    ],
)
def test_validation_names_the_attribute(
    values: dict[str, Any], summary: str, attribute: str
) -> None:
    diags = Engine(NimbleProvider()).validate_resource_config(TYPE, config(**values))
    errors = [d for d in diags if d.severity.name == "ERROR"]
    assert [(e.summary, str(e.path).split(".")[-1]) for e in errors][:1] == [
        (summary, attribute)
    ], [(e.summary, e.detail) for e in errors]


def test_a_token_over_http_is_warned_about() -> None:
    cfg = config(glance_endpoint="http://g:9292", glance_token_wo=TOKEN)
    diags = list(
        Engine(NimbleProvider()).validate_resource_config(TYPE, cfg, write_only_allowed=True)
    )
    assert [d.summary for d in diags] == ["Token Sent In Clear Text"]
    assert TOKEN not in diags[0].detail


def plan_new(cfg: dict[str, Any]) -> Any:
    return Engine(NimbleProvider()).plan_resource_change(TYPE, None, dict(cfg), cfg, b"")


@pytest.mark.parametrize(
    ("changes", "image_id", "summary"),
    [
        ({}, "00000000-0000-4000-8000-000000000000", "Glance Image Not Found"),
        ({"status": "queued", "size": None}, IMAGE, "Glance Image Not Active"),
    ],
)
def test_plan_refuses_a_missing_or_unfinished_image_on_glance_image_id(
    fake: FakeGlance, changes: dict[str, Any], image_id: str, summary: str
) -> None:
    fake.records[IMAGE] = record(**changes)
    cfg = config(glance_image_id=image_id, glance_endpoint=fake.endpoint, glance_token_wo=TOKEN)
    diags = list(plan_new(cfg).diagnostics)
    got = [(d.summary, str(d.path).split(".")[-1]) for d in diags]
    assert got == [(summary, "glance_image_id")], [(d.summary, d.detail) for d in diags]
    assert fake.tokens and all(t == TOKEN for t in fake.tokens)


def test_plan_of_a_ready_image_passes_and_an_unknown_endpoint_is_not_asked(
    fake: FakeGlance,
) -> None:
    from tfnimble.plugin import UNKNOWN

    cfg = config(glance_endpoint=fake.endpoint)
    assert not plan_new(cfg).diagnostics.has_error()
    asked = len(fake.tokens)
    assert not plan_new(config(glance_endpoint=UNKNOWN)).diagnostics.has_error()
    assert len(fake.tokens) == asked


def test_glance_rule_matches_the_module_pattern() -> None:
    assert ig.IMAGE_ID_RULE(IMAGE, None) == []


def test_provenance_records_the_image_and_only_a_configured_endpoint() -> None:
    g = gs.Glance(IMAGE, "http://g:9292")
    configured = ig.recorded(SimpleNamespace(glance_endpoint="http://g:9292"), g)
    assert ig.from_provenance(configured) == (None, IMAGE, "http://g:9292")
    from_env = ig.recorded(SimpleNamespace(glance_endpoint=None), g)
    assert from_env == f"glance:{IMAGE}" and ig.from_provenance(from_env) == (None, IMAGE, None)
    assert ig.from_provenance("images/x.qcow2") == ("images/x.qcow2", None, None)


def test_a_glance_master_whose_snapshot_is_gone_is_replaced_through_glance_image_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tfnimble.nimble.client import Volume, snapshots, volumes
    from tfnimble.nimble.resource_image_master import ImageMasterModel, ImageMasterResource
    from tfnimble.plugin import Context

    vol = "06" + "0" * 39 + "1"
    monkeypatch.setattr(volumes, "get_volume", lambda cl, i: Volume(vol, "m", 64, pool_name="p"))
    monkeypatch.setattr(snapshots, "get_snapshot", lambda cl, i: None)
    state = ImageMasterModel(
        id=vol, name="m", glance_image_id=IMAGE, snapshot_id="04" + "0" * 40, snapshot_name="b"
    )
    got = ImageMasterResource().read(Context(provider_data=object()), state)
    assert got is not None and got.source is None and got.snapshot_id is None
    assert str(got.glance_image_id).startswith(f"{IMAGE} [changed since written: the base")


def test_plan_without_an_endpoint_says_where_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OS_IMAGE_URL", raising=False)
    diags = list(plan_new(config()).diagnostics)
    assert [(d.summary, str(d.path).split(".")[-1]) for d in diags] == [
        ("Missing Glance Endpoint", "glance_endpoint")
    ]
    assert "OS_IMAGE_URL" in diags[0].detail
