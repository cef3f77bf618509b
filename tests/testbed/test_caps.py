"""caps.missing() decides every capability skip: a skip locally, a failure under CI=true."""

from __future__ import annotations

import pytest

from . import caps


@pytest.mark.parametrize("ci", ["true", "1", "TRUE", "yes"])
def test_missing_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="capability missing in CI: no widget"):
        caps.missing("no widget")


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_missing_skips_elsewhere(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no widget"):
        caps.missing("no widget")


def test_require_tools_goes_through_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing tools: no-such-tool-here"):
        caps.require_tools("sh", "no-such-tool-here")
    caps.require_tools("sh")  # present: nothing happens
