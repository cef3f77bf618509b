"""The provider's own recorder (TFNIMBLE_PROFILE_DIR) behind bench/profile_plan.py."""

from __future__ import annotations

import json
import pstats
import threading
from pathlib import Path

from tfnimble.plugin import profiling


def busy(n: int = 20000) -> int:
    return sum(i * i for i in range(n))


def test_off_unless_the_environment_asks() -> None:
    assert profiling.from_env("p", {}) is None
    assert profiling.from_env("p", {"TFNIMBLE_PROFILE": "cprofile"}) is None


def test_counts_rpcs_and_their_cpu(tmp_path: Path) -> None:
    rec = profiling.from_env("terraform-provider-x", {"TFNIMBLE_PROFILE_DIR": str(tmp_path)})
    assert rec is not None and not rec.cprofile
    rec.serving()
    work = rec.timed("ReadResource", busy)
    assert work() == busy()
    work()
    rec.timed("PlanResourceChange", lambda: 1)()
    rec.write()
    [written] = tmp_path.glob("terraform-provider-x-*.json")
    summary = json.loads(written.read_text())
    assert summary["rpcs"] == {"ReadResource": 2, "PlanResourceChange": 1}
    assert summary["rpc_total"] == 3
    assert summary["worker_cpu_s"]["ReadResource"] > 0
    assert summary["cpu_s"] >= summary["serving_cpu_s"] > 0
    assert not list(tmp_path.glob("*.pstats"))


def test_an_rpc_that_raises_is_counted_too(tmp_path: Path) -> None:
    rec = profiling.Recorder(str(tmp_path), "p", cprofile=False)

    def boom() -> None:
        raise ValueError("x")

    try:
        rec.timed("ApplyResourceChange", boom)()
    except ValueError:
        pass
    assert rec.counts == {"ApplyResourceChange": 1}


def test_cprofile_merges_every_thread(tmp_path: Path) -> None:
    rec = profiling.Recorder(str(tmp_path), "p", cprofile=True)
    try:

        def worker() -> None:
            rec.profile_this_thread()
            busy()

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        busy()
    finally:
        for prof in rec._profiles:
            prof.disable()
    rec.write()
    [stats_file] = tmp_path.glob("p-*.pstats")
    stats = pstats.Stats(str(stats_file))
    names = {func[2] for func in stats.stats}  # type: ignore[attr-defined]
    assert "busy" in names
    busy_calls = [v[1] for k, v in stats.stats.items() if k[2] == "busy"]  # type: ignore[attr-defined]
    assert busy_calls == [2]  # once in each thread, merged into one row


def test_writing_never_raises(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    profiling.Recorder(str(blocked / "sub"), "p", cprofile=False).write()
