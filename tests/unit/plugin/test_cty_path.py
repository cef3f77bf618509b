from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tfnimble.plugin.cty import AttributePath, AttrStep, CtyError, IndexStep, KeyStep


def test_build_and_render() -> None:
    p = AttributePath.root().attr("a").attr("b").index(0).key("k")
    assert p.steps == (AttrStep("a"), AttrStep("b"), IndexStep(0), KeyStep("k"))
    assert str(p) == 'a.b[0]["k"]'
    assert str(AttributePath.root()) == ""
    assert str(AttributePath.root().index(3).attr("x")) == "[3].x"
    assert str(AttributePath.root().key('q"\\')) == '["q\\"\\\\"]'


def test_immutable_hashable_comparable() -> None:
    a = AttributePath.root().attr("a")
    b = a.index(1)
    assert a.steps == (AttrStep("a"),)  # .index() did not mutate a
    assert hash(AttributePath.parse("a[1]")) == hash(b)
    assert {a, b, AttributePath.parse("a")} == {a, b}
    assert a < b
    assert sorted([b, a, AttributePath.root()]) == [AttributePath.root(), a, b]
    # mixed step kinds still order deterministically
    assert sorted([a.key("x"), a.index(0), a.attr("z")])[0] == a.attr("z")
    with pytest.raises(AttributeError):
        a.steps = ()  # type: ignore[misc]
    assert b.parent == a and b.last == IndexStep(1) and len(b) == 2
    assert b.startswith(a) and not a.startswith(b)


def test_parse() -> None:
    assert AttributePath.parse("") == AttributePath.root()
    assert AttributePath.parse('a.b[0]["k"]') == AttributePath.root().attr("a").attr("b").index(
        0
    ).key("k")
    assert AttributePath.parse('["x.y"][2]') == AttributePath.root().key("x.y").index(2)
    for bad in (".a", "a..b", "a[", "a[x]", "a b", '["unterminated]', "a[0]b"):
        with pytest.raises(ValueError):
            AttributePath.parse(bad)


def test_cty_error() -> None:
    e = CtyError(AttributePath.parse("a[0]"), "boom")
    assert isinstance(e, ValueError)
    assert e.path == AttributePath.parse("a[0]")
    assert e.message == "boom"
    assert str(e) == "a[0]: boom"
    assert str(CtyError(None, "x")) == "x" and CtyError(None, "x").path == AttributePath.root()
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.path, e2.message) == (e.path, e.message)


steps = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,5}", fullmatch=True).map(AttrStep),
    st.text(max_size=5).map(KeyStep),
    st.integers(0, 10**6).map(IndexStep),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(steps, max_size=6))
def test_str_parse_round_trip(ss: list) -> None:
    p = AttributePath(tuple(ss))
    assert AttributePath.parse(str(p)) == p
