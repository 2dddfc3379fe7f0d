"""Single instance: a second start reaches the first over the per-user local socket; stale sockets are taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from desktop_app.ui.single_instance import ACTIVATE, CONNECT_TIMEOUT_MS, MAX_PENDING, SingleInstance, instance_name


def test_second_start_activates_the_first(qtbot: Any, tmp_path: Path) -> None:
    name = str(tmp_path / "instance.sock")
    first = SingleInstance(name)
    assert not first.notify_running()
    assert first.listen()
    second = SingleInstance(name)
    with qtbot.waitSignal(first.activated, timeout=3000):
        assert second.notify_running()
    first.close()
    assert not SingleInstance(name).notify_running()


def test_stale_socket_is_taken_over(tmp_path: Path) -> None:
    name = str(tmp_path / "stale.sock")
    Path(name).write_bytes(b"")  # left behind by a crash
    instance = SingleInstance(name)
    assert not instance.notify_running()
    assert instance.listen()
    instance.close()


def test_name_is_per_user(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert instance_name() == str(tmp_path / "dev.tokendesk.Tokendesk.instance")


def test_second_process_exits_and_raises_the_first(qtbot: Any, tmp_path: Path) -> None:
    name = str(tmp_path / "app.sock")
    first = SingleInstance(name)
    assert first.listen()
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "TOKENDESK_INSTANCE_NAME": name,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    with qtbot.waitSignal(first.activated, timeout=15_000):
        proc = subprocess.Popen(
            [sys.executable, "-c", "from desktop_app.ui.app import main; raise SystemExit(main([]))"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "already running" in err
    first.close()


def test_an_instance_using_qlocalserver_and_this_one_find_each_other(qtbot: Any, tmp_path: Path) -> None:
    """Earlier versions listened and knocked through QtNetwork: a mixed pair still hands over either way."""
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

    name = str(tmp_path / "mixed.sock")
    old = QLocalServer()
    assert old.listen(name)
    try:
        with qtbot.waitSignal(old.newConnection, timeout=3000):
            assert SingleInstance(name).notify_running()
    finally:
        old.close()

    new = SingleInstance(name)
    assert new.listen()
    knock = QLocalSocket()
    with qtbot.waitSignal(new.activated, timeout=3000):
        knock.connectToServer(name)
        assert knock.waitForConnected(1000)
        knock.write(b"activate\n")
        knock.waitForBytesWritten(1000)
    knock.disconnectFromServer()
    new.close()
    assert not Path(name).exists(), "the socket file goes with the instance"


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[tuple[str, SingleInstance]]:
    """A first instance listening at a socket path of its own: (path, instance)."""
    name = str(tmp_path / "instance.sock")
    first = SingleInstance(name)
    assert first.listen()
    try:
        yield name, first
    finally:
        first.close()


def _client(name: str) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(name)
    return client


def test_a_silent_client_holds_up_nothing(qtbot: Any, listening: tuple[str, SingleInstance]) -> None:
    """A connection that says nothing is read when (if) its bytes arrive: a second start right after it is
    answered while the silent one is still connected, and the silent one is dropped after CONNECT_TIMEOUT_MS."""
    name, first = listening
    with _client(name) as silent:
        with qtbot.waitSignal(first.activated, timeout=3000):
            assert SingleInstance(name).notify_running()
        silent.setblocking(False)
        with pytest.raises(BlockingIOError):
            silent.recv(1)  # still open: the answer to the second start did not wait for it

        def dropped() -> bool:
            try:
                return silent.recv(1) == b""
            except BlockingIOError:
                return False

        qtbot.waitUntil(dropped, timeout=CONNECT_TIMEOUT_MS + 5000)


def test_closing_raises_no_window_for_a_knock_still_pending(qtbot: Any, listening: tuple[str, SingleInstance]) -> None:
    name, first = listening
    with _client(name) as late:
        late.sendall(ACTIVATE.strip())  # not finished: no newline yet
        qtbot.waitUntil(lambda: len(first._knocks) == 1 and first._knocks.copy().pop()._data != b"", timeout=3000)
        fired: list[bool] = []
        first.activated.connect(lambda: fired.append(True))
        first.close()
        assert fired == []


def test_a_crowd_of_silent_clients_is_read_a_few_at_a_time(qtbot: Any, listening: tuple[str, SingleInstance]) -> None:
    """At most MAX_PENDING connections hold a descriptor here at once; the others wait in the backlog and are
    served as those are dropped, down to a second start that talks."""
    name, first = listening
    crowd: list[socket.socket] = []
    most = 0

    def count() -> None:
        nonlocal most
        most = max(most, len(first._knocks))

    timer = QTimer()
    timer.timeout.connect(count)
    timer.start(5)
    try:
        for i in range(MAX_PENDING + 4):
            crowd.append(_client(name))  # the listen backlog (8) holds the four that are not read yet
            if i < MAX_PENDING:
                qtbot.waitUntil(lambda n=i + 1: len(first._knocks) == n, timeout=3000)
        with qtbot.waitSignal(first.activated, timeout=3 * CONNECT_TIMEOUT_MS + 5000):
            assert SingleInstance(name).notify_running()
        assert most == MAX_PENDING
    finally:
        timer.stop()
        for client in crowd:
            client.close()
