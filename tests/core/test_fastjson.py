"""core/fastjson gives json's own results: the same text for the same values, the same values or a ValueError for
the same text."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core import fastjson

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20
)


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (json writes it as NaN and reads it back)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_the_accelerator_is_used() -> None:
    assert fastjson.dumps is not json.dumps and fastjson.loads is not json.loads


@given(values)
def test_dumps_is_json_dumps(value: object) -> None:
    assert fastjson.dumps(value) == json.dumps(value)


@given(values)
def test_loads_reads_back_what_json_wrote(value: object) -> None:
    assert _same(fastjson.loads(json.dumps(value)), value)


JSONISH = st.text(alphabet=' \t\n\r{}[]":,.-+0123456789eEtrufalsnNIiy\\abu\x00é\ufeff', max_size=30)


@given(JSONISH | values.map(json.dumps).map(lambda s: f" {s}\n") | st.text())
def test_loads_is_json_loads_on_any_text(text: str) -> None:
    assert _outcome(fastjson.loads, text) == _outcome(json.loads, text)


def _outcome(loads: Any, text: str) -> tuple[str, object]:
    """("value", a comparable form of the value), or ("error", json's message and position)."""
    try:
        value = loads(text)
    except json.JSONDecodeError as exc:
        return "error", (exc.msg, exc.pos)
    return "value", json.dumps(value)  # NaN compares as NaN, 1 and 1.0 and True stay apart


@pytest.mark.parametrize("value", [object(), {1j: 1}, b"bytes"])
def test_what_json_cannot_write_is_refused_alike(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        fastjson.dumps(value)


def test_a_circular_value_is_refused() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        fastjson.dumps(loop)
    assert fastjson.dumps([loop[:0], loop[:0]]) == "[[], []]"  # the memo is fresh per call
