"""Downloading an image source that needs HTTP Basic credentials, from a real local server:
the credentials work, their absence or a wrong password fail clearly, and the password shows
up in no message, log line or process argument."""

from __future__ import annotations

import base64
import hashlib
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tfnimble.nimble import image_master_ops as ops
from tfnimble.nimble import imagewrite as iw

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "acceptance"))
from basic_auth_server import ImageServer, small_qcow2

USER = "mirror"
SECRET = "Pa55-w0rd-" + "x7q"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ImageServer, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    small_qcow2(root / "img.qcow2")
    with ImageServer(root, USER, SECRET) as server:
        yield server, root / "img.qcow2"


def _no_secret(*texts: str) -> None:
    token = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    for text in texts:
        assert SECRET not in text and token not in text, text


def test_download_with_credentials_succeeds(
    served: tuple[ImageServer, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, original = served
    seen_argv: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(argv: list[str], *a: object, **kw: object) -> subprocess.Popen[bytes]:
        seen_argv.append(list(argv))
        return real_popen(argv, *a, **kw)  # type: ignore[call-overload, no-any-return]

    caplog.set_level(logging.DEBUG)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess, "Popen", spy)
        src = iw.prepare_source(server.url("img.qcow2"), None, str(work), auth=(USER, SECRET))
    assert src.downloaded and src.format == "qcow2" and src.virtual_size == 8 << 20
    assert src.sha256 == hashlib.sha256(original.read_bytes()).hexdigest()
    assert server.seen_authorization[-1] == server.expected
    assert seen_argv and all(SECRET not in " ".join(argv) for argv in seen_argv)
    _no_secret(caplog.text, repr(src))


def test_download_without_credentials_says_which_arguments_to_set(
    served: tuple[ImageServer, Path], tmp_path: Path
) -> None:
    server, _ = served
    with pytest.raises(iw.ImageError) as caught:
        iw.download(server.url("img.qcow2"), str(tmp_path))
    err = caught.value
    assert err.summary == "Image Download Failed"
    assert "HTTP 401" in err.detail and "set source_username and source_password" in err.detail
    assert server.seen_authorization == [None]


def test_a_wrong_password_is_refused_without_showing_it(
    served: tuple[ImageServer, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = served
    wrong = SECRET + "-wrong"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ops.Failure) as caught:
        job = ops.Job(None, lambda what: None, threading.Event(), None, logging.getLogger("t"))  # type: ignore[arg-type]
        ops.prepare_source(
            job, "m", server.url("img.qcow2"), None, None, {}, str(tmp_path), (USER, wrong)
        )
    err = caught.value
    assert err.attribute == "source"
    assert "HTTP 401" in err.detail and "refused source_username and source_password" in err.detail
    assert wrong not in err.detail and wrong not in caplog.text
    _no_secret(err.detail, str(err), caplog.text)


def test_the_url_shown_in_messages_has_no_user_info() -> None:
    shown = iw.display_source(f"https://{USER}:{SECRET}@images.example/x.img?token=abc")
    assert SECRET not in shown and "token" not in shown
