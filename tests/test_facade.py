"""The GUI's service facade (core.facade.AccountService): what Service and the UI tests' FakeService offer, and
what the GUI calls. mypy checks both implementations statically; these are the cheap runtime checks."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from desktop_app.core.facade import AccountService
from desktop_app.core.service import Service
from tests.ui.fakes import FakeService

UI = Path(__file__).resolve().parents[1] / "desktop_app" / "ui"
MEMBERS = sorted(name for name, value in vars(AccountService).items() if callable(value) and not name.startswith("_"))


def test_the_facade_lists_what_the_gui_needs() -> None:
    assert {"subscribe", "run_background", "wake", "watch", "reload_if_changed", "token", "aclose"} <= set(MEMBERS)
    assert not {"engine", "bus", "store"} & set(dir(AccountService))


@pytest.mark.parametrize("implementation", [Service, FakeService])
@pytest.mark.parametrize("name", MEMBERS)
def test_each_member_is_implemented_with_the_same_signature(implementation: type, name: str) -> None:
    wanted = inspect.signature(getattr(AccountService, name))
    got = inspect.signature(getattr(implementation, name))
    assert [(p.name, p.kind) for p in got.parameters.values()] == [(p.name, p.kind) for p in wanted.parameters.values()]
    assert inspect.iscoroutinefunction(getattr(implementation, name)) == inspect.iscoroutinefunction(
        getattr(AccountService, name)
    )


def test_service_keeps_engine_store_and_bus_private() -> None:
    public = set(vars(Service)) | set(Service.__init__.__code__.co_names)  # methods, properties, self.x = ...
    assert not {"engine", "bus", "store"} & public
    assert {"_engine", "_bus", "_store"} <= public


def _service_calls(tree: ast.AST) -> set[str]:
    """Attributes read on anything named `service` (bridge.service.x, self.service.x, service.x)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            value = node.value
            named = (isinstance(value, ast.Name) and value.id == "service") or (
                isinstance(value, ast.Attribute) and value.attr == "service"
            )
            if named:
                found.add(node.attr)
    return found


def test_the_gui_calls_only_the_facade() -> None:
    used: set[str] = set()
    for path in sorted(UI.rglob("*.py")):
        used |= _service_calls(ast.parse(path.read_text(), filename=str(path)))
    assert used, "the walk found no service calls at all"
    assert used <= set(MEMBERS), used - set(MEMBERS)
