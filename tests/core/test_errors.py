"""The error tree: the module docstring draws it with exit codes, and the drawing must stay true."""

from __future__ import annotations

import re

import pytest

from desktop_app.core import errors
from desktop_app.core.errors import (
    AppNotAnswering,
    Hint,
    LockBusy,
    ProviderError,
    ShuttingDown,
    TokendeskError,
    TransientError,
)


def _drawn() -> dict[str, tuple[str | None, int | None]]:
    """Class name -> (parent name, exit code) as errors.py's docstring draws them."""
    drawn: dict[str, tuple[str | None, int | None]] = {}
    stack: list[tuple[int, str]] = []
    assert errors.__doc__ is not None
    for line in errors.__doc__.splitlines():
        m = re.match(r"^ *((?:[│ ]   |[├└]── )*)([A-Z]\w+)\s+(\d)?", line)
        if not m or not isinstance(getattr(errors, m.group(2), None), type):
            continue
        depth = len(m.group(1)) // 4
        stack = [s for s in stack if s[0] < depth]
        drawn[m.group(2)] = (stack[-1][1] if stack else None, int(m.group(3)) if m.group(3) else None)
        stack.append((depth, m.group(2)))
    return drawn


def test_the_docstring_draws_every_error_with_its_parent_and_exit_code() -> None:
    drawn = _drawn()
    classes = {
        name: cls for name, cls in vars(errors).items() if isinstance(cls, type) and issubclass(cls, TokendeskError)
    }
    assert set(drawn) == set(classes)
    for name, (parent, code) in drawn.items():
        cls = classes[name]
        assert parent is None or cls.__bases__ == (classes[parent],), name
        if code is not None:
            assert cls.exit_code == code, name


@pytest.mark.parametrize("cls", [LockBusy, ShuttingDown, AppNotAnswering])
def test_local_trouble_is_not_the_providers_doing(cls: type[TokendeskError]) -> None:
    """A stuck lock, a stopping process or a silent app: retry later like a transient error, but never counted
    as the provider's failure (the engine backs off and reports provider failures)."""
    assert not issubclass(cls, ProviderError) and cls.exit_code == TransientError.exit_code
    assert cls("Busy.").hint is Hint.RETRY_LATER


def test_errors_carry_facts_not_words() -> None:
    exc = TokendeskError("A fact.")
    assert (exc.input, exc.account, exc.hint) == (None, None, None) and str(exc) == "A fact."
