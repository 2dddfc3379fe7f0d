"""PySide6 asks of every module imported after it whether its source mentions "PySide6" (PYSIDE-2029, for
`from __feature__ import snake_case`), through inspect.getsource, which keeps every line it read in linecache for
the life of the process: 138 files, 72,000 lines, about 6 MiB in the app 5 s after start, and as many again once
httpx and the keychain's modules load. `install` answers the same question from the file's bytes, which are
dropped at once; anything that is not a readable `.py` file still gets PySide's own answer."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import PySide6  # noqa: F401  # publishes shiboken's feature module as sys.modules["__feature__"]

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType


def _reading_bytes(pysides: Callable[..., bool]) -> Callable[..., bool]:
    def uses_pyside(module: ModuleType, *args: Any, **kwargs: Any) -> bool:
        # Anything but the one-argument call this was written for is PySide's own to answer.
        path = getattr(module, "__file__", None)
        if not args and not kwargs and isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                pass
        return pysides(module, *args, **kwargs)

    uses_pyside.pysides = pysides  # type: ignore[attr-defined]
    return uses_pyside


def install() -> bool:
    """True once PySide's scan reads bytes; False where this PySide has no such scan (then nothing changes)."""
    feature = sys.modules.get("__feature__")
    scan = getattr(feature, "_mod_uses_pyside", None)
    if not callable(scan):
        return False
    if not hasattr(scan, "pysides"):
        feature._mod_uses_pyside = _reading_bytes(scan)  # type: ignore[union-attr]
    return True
