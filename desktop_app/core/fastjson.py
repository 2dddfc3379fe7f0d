"""json.dumps and json.loads for `tokendesk token`'s fast path, through CPython's own accelerator `_json`.

The `json` package imports `re` (and with it `enum`): about 8 ms of a call that is 12 ms of Python start plus a
socket round trip (bench/cli_token.py). Its C half, which does the work in `json.dumps` and `json.loads` anyway,
needs neither. The results are json's own (`tests/core/test_fastjson.py` compares them on generated values and
text); where `_json` is missing or its constructors do not take these arguments, this is `json` itself.
"""

from __future__ import annotations

TYPE_CHECKING = False  # collections.abc and typing would import more than the fast path pays for
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


def _refuse(obj: object) -> object:
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


class _Context:
    """What `_json.make_scanner` reads from a JSONDecoder, with json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def _c_pair() -> tuple[Callable[[object], str], Callable[[str], object]] | None:
    try:
        import _json

        def encoder() -> Callable[[object, int], tuple[str, ...]]:
            # json.JSONEncoder's defaults: check_circular (a fresh memo per call), ensure_ascii, allow_nan,
            # separators (", ", ": ").
            return _json.make_encoder({}, _refuse, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)

        encoder()  # takes json's arguments on this Python, or the fallback
        scan_once = _json.make_scanner(_Context())  # type: ignore[arg-type]  # reads JSONDecoder's attributes
    except (ImportError, AttributeError, TypeError):
        return None

    def dumps(obj: object) -> str:
        return "".join(encoder()(obj, 0))

    def loads(text: str) -> object:
        # json.JSONDecoder.decode and json.loads' own check, step for step.
        if text.startswith("\ufeff"):
            _fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        try:
            obj, end = scan_once(text, _skip_whitespace(text, 0))
        except StopIteration as exc:
            _fail("Expecting value", text, exc.value)
        end = _skip_whitespace(text, end)
        if end != len(text):
            _fail("Extra data", text, end)
        return obj

    return dumps, loads


def _skip_whitespace(text: str, at: int) -> int:
    rest = text[at:]
    return at + len(rest) - len(rest.lstrip(WHITESPACE))


def _fail(message: str, text: str, at: int) -> NoReturn:
    from json import JSONDecodeError  # only a failure pays for json's imports

    raise JSONDecodeError(message, text, at) from None


def _py_pair() -> tuple[Callable[[object], str], Callable[[str], object]]:
    import json

    return json.dumps, json.loads


dumps, loads = _c_pair() or _py_pair()
