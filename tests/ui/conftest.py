"""Qt widget tests: offscreen platform, a qasync loop per test, records and a fake service facade."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from desktop_app.core.accounts import AccountRecord, AccountState, Identity
from desktop_app.core.paths import AppPaths
from desktop_app.core.providers import preset
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.ui.app import UiTimers
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.notifications import DesktopNotifications
from tests.ui.fakes import FakeService

NOW = 1_800_000_000.0
# No real-time Qt timers in widget tests: ticks are driven by the test, reloads wait one loop turn.
DRIVEN = UiTimers(window_tick_ms=0, clipboard_tick_ms=0, reload_debounce_ms=0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/ui/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.gui)
            # One marker (pytest-qt reads only the closest): each pattern is Qt's own message, not ours.
            item.add_marker(
                pytest.mark.qt_log_ignore(
                    # WORKAROUND: the offscreen platform plugin warns that it cannot propagate size hints to
                    # a window manager it does not have; nothing in our code can avoid it.
                    r"This plugin does not support (propagateSizeHints|raise)\(\)",
                    # WORKAROUND: QSystemTrayIcon itself connects to a signal the offscreen platform's native
                    # interface lacks, when a test gives the app a tray.
                    r"^QObject::connect: No such signal QPlatformNativeInterface::systemTrayWindowChanged",
                )
            )


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


class BackgroundErrors(logging.Handler):
    """Collects what the GUI would otherwise only log: ERROR records and every Bridge.taskFailed emission.

    Uncaught exceptions in Qt slots reach sys.excepthook, which pytest-qt turns into a failure (in the app,
    app.log_uncaught sends them to the log instead); asyncio callbacks that raise are logged at ERROR by the
    loop, so they land here too. A test that provokes a failure on purpose says so with expect(pattern).
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.problems: list[str] = []
        self._expected: dict[str, re.Pattern[str]] = {}
        self._met: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self.problems.append(text)

    def task_failed(self, what: str, message: str) -> None:
        self.problems.append(f"taskFailed {what}: {message}")

    def expect(self, pattern: str) -> None:
        """Allow problems matching `pattern`; the test fails if none happens."""
        self._expected[pattern] = re.compile(pattern)

    def take(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def unexpected(self) -> list[str]:
        left = []
        for problem in self.take():
            hits = [p for p, rx in self._expected.items() if rx.search(problem)]
            self._met.update(hits)
            if not hits:
                left.append(problem)
        left += [f"expected a failure matching {p!r}; none happened" for p in self._expected if p not in self._met]
        return left


@pytest.fixture(autouse=True)
def background_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[BackgroundErrors]:
    """Fails the test on any taskFailed or ERROR log record, which no widget test would notice otherwise."""
    guard = BackgroundErrors()
    init = Bridge.__init__

    def tapped_init(self: Bridge, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.taskFailed.connect(guard.task_failed)

    monkeypatch.setattr(Bridge, "__init__", tapped_init)
    root = logging.getLogger()
    root.addHandler(guard)
    try:
        yield guard
    finally:
        root.removeHandler(guard)
    problems = guard.unexpected()
    if problems:
        pytest.fail("background failures nobody saw:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def qt_garbage(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collects the test's garbage now, on the GUI thread, and fails a test that leaks a Controller.

    A Qt object left to the cyclic garbage collector dies whenever and on whichever thread the collector
    next runs, perhaps a worker thread in a much later test, where deleting a QObject can crash the
    process: the prime suspect for the Qt tests crashing when they shared a process with the rest. The
    app's own objects form no cycles at all (test_lifetime.py); this also catches a test's cycles
    (a lambda capturing the controller, a traceback) before they reach another test.
    """
    from desktop_app.ui.app import Controller

    before = {id(o) for o in gc.get_objects() if isinstance(o, Controller)}
    yield
    # The test's fixtures are torn down by now; pytest only drops its references to their values later.
    request.node.funcargs.clear()
    gc.collect()
    leaked = sum(1 for o in gc.get_objects() if isinstance(o, Controller) and id(o) not in before)
    if leaked and not request.node.stash.get(CALL_FAILED, False):  # a failure's traceback holds its frames
        pytest.fail(f"{leaked} Controller(s) outlived the test, even the garbage collector", pytrace=False)


@pytest.fixture
def qloop(qapp: QApplication, background_errors: BackgroundErrors) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop on the test's QApplication; drive coroutines with loop.run_until_complete()."""
    qapp.setQuitOnLastWindowClosed(False)  # as in the app: closing a dialog must not stop the loop
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            results = loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            for task, result in zip(pending, results, strict=True):
                # A task that ended with its own error while being cancelled must not vanish here.
                if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    background_errors.problems.append(f"task {task.get_name()} failed at teardown: {result!r}")
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", state_dir=tmp_path / "state", log_dir=tmp_path / "log")


def make_record(n: int = 1, state: AccountState = AccountState.VALID, **changes: Any) -> AccountRecord:
    spec = preset("github")
    who = Identity(subject=str(n), email=f"user{n}@example.test")
    record = AccountRecord(
        id=f"acct{n}",
        name=f"GitHub – user{n}@example.test",
        provider=spec,
        client_id=f"client{n}",
        scopes=("repo",),
        identity=who,
        state=state,
        created_at=NOW - 1000 + n,
        issued_at=NOW - 60,
        expires_at=NOW + 3600,
    )
    return replace(record, **changes)


def make_tokens(value: str = "tok-" + "a" * 20, *, now: float = NOW, lifetime_s: float = 3600) -> TokenSet:
    return TokenSet(access_token=Secret(value), token_type="Bearer", issued_at=now, expires_at=now + lifetime_s)


async def until(condition: Any, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Wait (on the running qasync loop, so Qt and asyncio both progress) until condition() is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def settle(bridge: Any, timeout_s: float = 10.0) -> None:
    """Wait for the bridge's background tasks other than the engine loop."""
    tasks = [t for t in bridge.tasks if t is not bridge.engine_task]
    if tasks:
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout_s)


@pytest.fixture
def app_ctl(qloop: asyncio.AbstractEventLoop, paths: AppPaths, qtbot: Any) -> Iterator[tuple[Any, FakeService]]:
    """The app's controller (window, tray, model, clipboard) on a FakeService, engine started."""
    from desktop_app.ui.app import Controller

    # The controller owns its window and closes it in aclose(); qtbot must not delete it behind its back.
    controller = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    fake = FakeService(paths)

    async def start() -> None:
        controller.attach(fake)
        await until(lambda: fake.engine.running, what="the engine to start")

    qloop.run_until_complete(start())
    try:
        yield controller, fake
    finally:
        controller.clipboard.clear_now()
        qloop.run_until_complete(controller.aclose())
