"""The UI suite's guard: a slot that raises, a taskFailed, an ERROR record or a failing task fails the test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal

from desktop_app.ui.app import log_uncaught
from tests.ui.conftest import BackgroundErrors

ROOT = Path(__file__).resolve().parents[2]

INNER = """
import asyncio
import logging

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    fired = Signal()


def test_slot_raises(qapp):
    emitter = Emitter()
    emitter.fired.connect(lambda: 1 / 0)
    emitter.fired.emit()


def test_task_failed(app_ctl):
    from desktop_app.core.errors import AccountNotFound

    controller, _ = app_ctl
    controller.bridge.report("Refreshing x", AccountNotFound("no such account"))  # logged at INFO only


def test_error_record():
    logging.getLogger("desktop_app.anything").error("something broke")


def test_asyncio_callback_raises(qloop):
    async def go():
        asyncio.get_running_loop().call_soon(lambda: 1 / 0)
        await asyncio.sleep(0.01)

    qloop.run_until_complete(go())


def test_task_fails_while_cancelled(qloop):
    async def stubborn():
        try:
            await asyncio.Event().wait()
        finally:
            raise ValueError("failed during cancellation")

    async def go():
        asyncio.ensure_future(stubborn())
        await asyncio.sleep(0)

    qloop.run_until_complete(go())


def test_expected_but_missing(background_errors):
    background_errors.expect("never happens")


def test_expected_and_seen(background_errors):
    background_errors.expect("^ERROR .*planned")
    logging.getLogger("x").error("a planned failure")


def test_clean(app_ctl):
    pass
"""

INI = """[pytest]
filterwarnings = error
qt_default_raising = true
asyncio_default_fixture_loop_scope = function
"""


def test_the_guard_fails_tests_that_hide_failures(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "pytest.ini").write_text(INI)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "tests.ui.conftest", "-p", "no:randomly", "-p", "no:cacheprovider"),
            *("-q", "-rA", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outcomes: dict[str, set[str]] = {}
    for line in proc.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR") and "::" in rest:
            outcomes.setdefault(rest.split("::")[1].split(" ")[0], set()).add(word)
    bad = {"FAILED", "ERROR"}
    for name in (
        "test_slot_raises",
        "test_task_failed",
        "test_error_record",
        "test_asyncio_callback_raises",
        "test_task_fails_while_cancelled",
        "test_expected_but_missing",
    ):
        assert outcomes.get(name, set()) & bad, f"{name} should fail:\n{proc.stdout}"
    for name in ("test_expected_and_seen", "test_clean"):
        assert outcomes.get(name) == {"PASSED"}, f"{name} should pass:\n{proc.stdout}"


class Emitter(QObject):
    fired = Signal()


def test_the_app_logs_exceptions_escaping_a_slot(
    monkeypatch: pytest.MonkeyPatch, background_errors: BackgroundErrors, qapp: Any
) -> None:
    monkeypatch.setattr(sys, "excepthook", log_uncaught)  # what app.main() installs
    emitter = Emitter()

    def slot() -> None:
        raise RuntimeError("Internal C++ object already deleted")

    emitter.fired.connect(slot)
    emitter.fired.emit()
    monkeypatch.undo()
    assert background_errors.take() == [
        "ERROR desktop_app.ui.app: uncaught exception in a Qt slot or callback "
        "(RuntimeError: Internal C++ object already deleted)"
    ]
