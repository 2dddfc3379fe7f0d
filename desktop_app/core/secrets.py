"""A string wrapper for secret values that never shows its content by accident."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

_MIN_REGISTERED_LEN: Final = 8
_MAX_REGISTERED: Final = 16_384  # hundreds of accounts, several secrets each, refreshed all day

# Every secret this process has seen, so the log filter can scrub it from any message. A process-wide
# set on purpose: logging is process-wide too, and a secret must be redacted wherever it leaks.
_known: OrderedDict[str, None] = OrderedDict()
_known_lock = threading.Lock()


def known_secrets() -> list[str]:
    with _known_lock:
        return list(_known)


class Secret:
    """Holds a secret string; `str()`, `repr()` and f-strings show a placeholder, `reveal()` the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        self._value = value
        if len(value) >= _MIN_REGISTERED_LEN:
            with _known_lock:
                _known[value] = None
                _known.move_to_end(value)
                while len(_known) > _MAX_REGISTERED:
                    _known.popitem(last=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("secrets are not picklable")
