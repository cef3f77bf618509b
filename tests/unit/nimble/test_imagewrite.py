"""imagewrite: parsing, probing, hashing and the subprocess runner (no array, no iSCSI)."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from pathlib import Path

import pytest
from testbed import caps
from tfnimble.nimble import imagewrite as iw
from tfnimble.nimble import lunprobe


@pytest.fixture
def qemu_img() -> None:
    caps.require_tools("qemu-img")  # skipped locally, a failure under CI=true


needs_qemu_img = pytest.mark.usefixtures("qemu_img")

NIMBLE_LS = """Target:iqn.2007-11.com.nimblestorage:m1-v1.0001.1 Portal:10.0.0.5:3260,2460
Lun:0    Type:DIRECT_ACCESS (Size:10G)
"""
TGTD_LS = """Target:iqn.2007-11.com.nimblestorage:m1-v1.0001.1 Portal:127.0.0.1:3260,1
Lun:0    Type:STORAGE_ARRAY_CONTROLLER
Lun:1    Type:DIRECT_ACCESS (Size:63M)
Target:iqn.2007-11.com.nimblestorage:other-v1.0002.1 Portal:127.0.0.1:3260,1
Lun:0    Type:STORAGE_ARRAY_CONTROLLER
Lun:1    Type:DIRECT_ACCESS (Size:1023k)
"""
T1 = "iqn.2007-11.com.nimblestorage:m1-v1.0001.1"


def test_parse_iscsi_ls_reads_targets_luns_and_sizes() -> None:
    seen = iw.parse_iscsi_ls(TGTD_LS)
    assert seen[T1] == [(0, "STORAGE_ARRAY_CONTROLLER", None), (1, "DIRECT_ACCESS", 63 << 20)]
    assert seen["iqn.2007-11.com.nimblestorage:other-v1.0002.1"][1] == (
        1,
        "DIRECT_ACCESS",
        1023 * 1024,
    )
    assert iw.parse_iscsi_ls("") == {}


def test_normalize_portal_adds_the_iscsi_port() -> None:
    assert iw.normalize_portal("10.0.0.5") == "10.0.0.5:3260"
    assert iw.normalize_portal("10.0.0.5:13260") == "10.0.0.5:13260"
    assert iw.normalize_portal("[fd00::5]") == "[fd00::5]:3260"
    assert iw.normalize_portal("[fd00::5]:3261") == "[fd00::5]:3261"


def test_display_source_hides_password_and_query() -> None:
    url = "https://bob:s3cret@images.example:8443/u/noble.img?X-Amz-Signature=abc"
    shown = iw.display_source(url)
    assert shown == "https://bob@images.example:8443/u/noble.img"
    assert "s3cret" not in shown and "abc" not in shown
    assert iw.display_source("./images/x.qcow2") == "./images/x.qcow2"


def test_default_initiator_name_reads_open_iscsi_file(tmp_path: Path) -> None:
    f = tmp_path / "initiatorname.iscsi"
    f.write_text("## generated\nInitiatorName=iqn.1993-08.org.debian:01:abc\n")
    assert iw.default_initiator_name(str(f)) == "iqn.1993-08.org.debian:01:abc"


def test_default_initiator_name_falls_back_to_the_host_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iw.socket, "gethostname", lambda: "Ctl_01.Example")
    name = iw.default_initiator_name(str(tmp_path / "missing"))
    assert name == "iqn.2026-11.io.ito:terraform-ctl-01.example"


def test_target_image_opts_escape_commas() -> None:
    t = iw.Target("127.0.0.1:3260", "iqn.x:a,b", 1, "iqn.y:c")
    opts = t.image_opts()
    assert "file.target=iqn.x:a,,b" in opts and "file.lun=1" in opts
    assert "file.initiator-name=iqn.y:c" in opts and opts.startswith("driver=raw,")


def test_source_size_mib_rounds_up() -> None:
    def src(n: int) -> iw.Source:
        return iw.Source("x", "raw", n, "0" * 64, n, 0)

    assert src(1 << 20).size_mib == 1
    assert src((1 << 20) + 1).size_mib == 2
    assert src(5 * 1024 * 1024 * 1024 + 512).size_mib == 5 * 1024 + 1


def test_sha256_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x" * (9 * 1024 * 1024 + 3))
    assert iw.sha256_file(str(f)) == hashlib.sha256(f.read_bytes()).hexdigest()


def test_sha256_file_stops_when_cancelled(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x" * (9 * 1024 * 1024))
    stop = threading.Event()
    stop.set()
    with pytest.raises(iw.ImageError, match="stop"):
        iw.sha256_file(str(f), stop)


@needs_qemu_img
def test_probe_detects_raw_and_qcow2(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\0" * (3 * 1024 * 1024 + 512))
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, qcow], check=True)
    assert iw.probe(str(raw)) == ("raw", 3 * 1024 * 1024 + 512)
    assert iw.probe(str(qcow)) == ("qcow2", 3 * 1024 * 1024 + 512)
    assert iw.probe(str(qcow), "qcow2")[0] == "qcow2"


@needs_qemu_img
def test_probe_refuses_garbage_declared_qcow2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"not an image" * 1000)
    with pytest.raises(iw.ImageError, match="not in qcow2 format") as err:
        iw.probe(str(bad), "qcow2")
    assert err.value.summary == "Image Not Readable"


@needs_qemu_img
def test_probe_refuses_a_backing_file(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    top = tmp_path / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top], check=True
    )
    with pytest.raises(iw.ImageError) as err:
        iw.probe(str(top))
    assert err.value.summary == "Image Has A Backing File"


@needs_qemu_img
def test_prepare_source_hashes_and_probes_a_local_file(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\1" * (2 << 20))
    src = iw.prepare_source(str(raw), None, str(tmp_path))
    assert (src.format, src.virtual_size, src.size_mib) == ("raw", 2 << 20, 2)
    assert src.sha256 == hashlib.sha256(raw.read_bytes()).hexdigest()
    assert not src.downloaded


def test_prepare_source_missing_file_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(iw.ImageError, match="relative to the directory") as err:
        iw.prepare_source(str(tmp_path / "nope.qcow2"), None, str(tmp_path))
    assert err.value.summary == "Image Source Not Found"


def test_run_kills_the_child_when_cancelled() -> None:
    # cancel once the child says it runs; it would sleep for an hour unless killed
    stop = threading.Event()
    said: list[str] = []

    def started(text: str) -> None:
        said.append(text)
        stop.set()

    with pytest.raises(iw.ImageError) as err:
        iw.run(["sh", "-c", "echo $$; exec sleep 3600"], cancel=stop, on_stdout=started)
    assert err.value.summary == "Operation Cancelled"
    child = Path(f"/proc/{int(''.join(said).split()[0])}/cmdline")
    # killed and reaped, not left sleeping (a recycled pid would run something else)
    assert not child.exists() or child.read_bytes() != b"sleep\x003600\x00"


def test_run_kills_the_child_on_timeout() -> None:
    with pytest.raises(iw.ImageError) as err:
        iw.run(["sleep", "30"], timeout=0.3, what="sleeping")
    assert err.value.summary == "Operation Timed Out"
    assert "timeouts" in err.value.detail


def test_run_reports_a_missing_tool() -> None:
    with pytest.raises(iw.ImageError) as err:
        iw.run(["no-such-qemu-img-here"])
    assert err.value.summary == "Image Tool Missing"


def test_run_streams_stdout_to_the_callback() -> None:
    seen: list[str] = []
    proc = iw.run(["printf", "%s", "(50.00/100%)\r(100.00/100%)\r"], on_stdout=seen.append)
    assert proc.returncode == 0 and "100.00/100%" in "".join(seen)


def inq(serial: str) -> str:
    return (
        "Peripheral Qualifier:CONNECTED\nPeripheral Device Type:DIRECT_ACCESS\n"
        f"Unit Serial Number:[    {serial}]\n"
    )


SER = "0123456789abcdef0123456789abcdef"
GST_LS = """Target:iqn.2007-11.com.nimblestorage:grp-g49686580b78e0b16 Portal:127.0.0.1:3260,1
Lun:0    Type:STORAGE_ARRAY_CONTROLLER
Lun:1    Type:DIRECT_ACCESS (Size:63M)
Lun:2    Type:DIRECT_ACCESS (Size:63M)
"""
GST = "iqn.2007-11.com.nimblestorage:grp-g49686580b78e0b16"


def fake_target(ls: str, serials: dict[int, str], calls: list[list[str]] | None = None):  # type: ignore[no-untyped-def]
    def run(argv, **kw):  # type: ignore[no-untyped-def]
        if calls is not None:
            calls.append(list(argv))
        if argv[0] == "iscsi-ls":
            return subprocess.CompletedProcess(argv, 0, ls, "")
        lun = int(argv[-1].rsplit("/", 1)[1])
        return subprocess.CompletedProcess(argv, 0, inq(serials[lun]), "")

    return run


def test_parse_unit_serial_strips_the_padding() -> None:
    assert lunprobe.parse_unit_serial(inq(SER)) == SER
    assert lunprobe.parse_unit_serial("Unit Serial Number:[   ]\n") is None
    assert lunprobe.same_serial(SER.upper(), SER) and not lunprobe.same_serial(SER[:-1], SER)


def test_confirm_lun_fails_fast_on_a_refused_portal(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(argv, **kw):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        return subprocess.CompletedProcess(argv, 10, "", "connection failed: refused\n")

    monkeypatch.setattr(iw, "run", fake_run)
    monkeypatch.setattr(iw, "reachable", lambda portal: False)
    monkeypatch.setattr(lunprobe.time, "sleep", lambda s: None)
    with pytest.raises(iw.ImageError) as err:
        lunprobe.confirm_lun("127.0.0.1:1", T1, "iqn.y:c", 0, SER)
    assert err.value.summary == "iSCSI Portal Unreachable"
    assert len(calls) == iw.CONNECT_ATTEMPTS
    assert calls[0] == ["iscsi-ls", "-s", "-i", "iqn.y:c", "iscsi://127.0.0.1:1"]


def test_confirm_lun_reports_a_refused_initiator(monkeypatch: pytest.MonkeyPatch) -> None:
    other = TGTD_LS.split("Target:")[2]
    monkeypatch.setattr(
        iw, "run", lambda argv, **kw: subprocess.CompletedProcess(argv, 0, "Target:" + other, "")
    )
    with pytest.raises(iw.ImageError) as err:
        lunprobe.confirm_lun("127.0.0.1:3260", T1, "iqn.y:c", 1, SER, settle=0.0)
    assert err.value.summary == "Initiator Refused"
    assert "shows 1 other target" in err.value.detail


def test_confirm_lun_confirms_the_records_lun_by_its_serial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(iw, "run", fake_target(TGTD_LS, {1: SER}, calls))
    assert lunprobe.confirm_lun("127.0.0.1:3260", T1, "iqn.y:c", 1, SER) == 1
    # tgtd's volume-scoped target: the record says 0 (a real Nimble's LUN), tgtd has it at 1.
    assert lunprobe.confirm_lun("127.0.0.1:3260", T1, "iqn.y:c", 0, SER) == 1
    assert calls[-1] == [
        "iscsi-inq",
        "-i",
        "iqn.y:c",
        "-e",
        "1",
        "-c",
        "128",
        f"iscsi://127.0.0.1:3260/{T1}/1",
    ]


def test_confirm_lun_under_a_group_target_takes_the_records_lun_not_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = "f" * 32
    calls: list[list[str]] = []
    monkeypatch.setattr(iw, "run", fake_target(GST_LS, {1: other, 2: SER}, calls))
    assert lunprobe.confirm_lun("127.0.0.1:3260", GST, "iqn.y:c", 2, SER) == 2
    assert [c[-1][-1] for c in calls if c[0] == "iscsi-inq"] == ["2"]  # the record's LUN only
    # The record says LUN 1, and LUN 1 is another volume: the one LUN with this serial is used.
    assert lunprobe.confirm_lun("127.0.0.1:3260", GST, "iqn.y:c", 1, SER) == 2
    # No LUN carries the serial: refused, whatever the sizes.
    monkeypatch.setattr(iw, "run", fake_target(GST_LS, {1: other, 2: other}))
    with pytest.raises(iw.ImageError) as err:
        lunprobe.confirm_lun("127.0.0.1:3260", GST, "iqn.y:c", 1, SER, settle=0.0)
    assert err.value.summary == "LUN Holds Another Volume"
    assert other in err.value.detail and SER in err.value.detail
    assert "Nothing was written" in err.value.detail
    # Two LUNs claim it: ambiguous, refused.
    monkeypatch.setattr(iw, "run", fake_target(GST_LS, {1: SER, 2: SER}))
    with pytest.raises(iw.ImageError) as err:
        lunprobe.confirm_lun("127.0.0.1:3260", GST, "iqn.y:c", 3, SER, settle=0.0)
    assert (
        err.value.summary == "LUN Holds Another Volume" and "[1, 2] all claim" in err.value.detail
    )


def test_confirm_lun_refuses_a_lun_the_target_does_not_export(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(iw, "run", fake_target(GST_LS, {1: "e" * 32, 2: "f" * 32}))
    with pytest.raises(iw.ImageError) as err:
        lunprobe.confirm_lun("127.0.0.1:3260", GST, "iqn.y:c", 7, SER, settle=0.0)
    assert err.value.summary == "LUN Not Exported"
    assert "LUN 7" in err.value.detail and "[1, 2]" in err.value.detail
    with pytest.raises(iw.ImageError) as err:  # the controller LUN is no disk
        lunprobe.confirm_lun("127.0.0.1:3260", GST, "iqn.y:c", 0, SER, settle=0.0)
    assert err.value.summary == "LUN Not Exported"


def test_confirm_lun_refuses_when_no_serial_can_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iw, "run", fake_target(NIMBLE_LS, {0: ""}))
    with pytest.raises(iw.ImageError) as err:
        lunprobe.confirm_lun("10.0.0.5:3260", T1, "iqn.y:c", 0, SER, settle=0.0)
    assert err.value.summary == "Cannot Confirm The LUN"
    with pytest.raises(iw.ImageError) as err:
        lunprobe.confirm_lun("10.0.0.5:3260", T1, "iqn.y:c", 0, "")
    assert err.value.summary == "Cannot Confirm The LUN"


def _fake_convert(
    monkeypatch: pytest.MonkeyPatch, results: list[tuple[int, str]]
) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_run(argv, **kw):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        rc, err = results[min(len(calls), len(results)) - 1]
        return subprocess.CompletedProcess(argv, rc, "", err)

    monkeypatch.setattr(iw, "run", fake_run)
    monkeypatch.setattr(iw.time, "sleep", lambda s: None)
    return calls


EIO = "qemu-img: error while writing at byte 6291456: Input/output error\n"
WRITE_SRC = iw.Source("/img.raw", "raw", 1 << 20, "0" * 64, 1 << 20, 0)
WRITE_TARGET = iw.Target("127.0.0.1:3260", "iqn.x:t", 1, "iqn.y:c")


def test_write_again_after_an_io_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit attentions from a target whose LUNs change can end one qemu-img run with EIO."""
    calls = _fake_convert(monkeypatch, [(1, EIO), (0, "")])
    iw.write(WRITE_SRC, WRITE_TARGET)
    assert len(calls) == 2 and calls[0] == calls[1] and calls[0][:2] == ["qemu-img", "convert"]


def test_write_gives_up_after_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_convert(monkeypatch, [(1, EIO)])
    with pytest.raises(iw.ImageError) as err:
        iw.write(WRITE_SRC, WRITE_TARGET)
    assert len(calls) == iw.WRITE_ATTEMPTS
    assert err.value.summary == "Image Write Failed" and "Input/output error" in err.value.detail


def test_write_does_not_repeat_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_convert(monkeypatch, [(1, "qemu-img: iSCSI: Failed to connect: refused\n")])
    with pytest.raises(iw.ImageError):
        iw.write(WRITE_SRC, WRITE_TARGET)
    assert len(calls) == 1
