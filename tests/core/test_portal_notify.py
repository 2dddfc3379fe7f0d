"""The notification portal client against a fake portal on a private session bus (tests/rig/notifications.py).

The fake checks each AddNotification as xdg-desktop-portal does and sends ActionInvoked only to the app that
added the notification, as the real one does; a portal without a Notification backend refuses the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from desktop_app.core.notify import URGENCY_CRITICAL, URGENCY_NORMAL
from desktop_app.core.portal_notify import PRIORITIES, PortalNotificationClient, in_flatpak
from tests.rig.notifications import PortalNotification, PortalService, PrivateBus

RECONNECT = (("default", "Reconnect"), ("reconnect", "Reconnect"))


async def _until(condition: Callable[[], object], what: str, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def bus() -> Iterator[PrivateBus]:
    with PrivateBus() as private:
        yield private


@pytest.fixture
def portal(bus: PrivateBus) -> Iterator[PortalService]:
    with PortalService(bus.address) as running:
        yield running


@pytest.fixture
def actions() -> list[tuple[str, str]]:
    return []


@pytest_asyncio.fixture
async def client(bus: PrivateBus, actions: list[tuple[str, str]]) -> AsyncIterator[PortalNotificationClient]:
    made = PortalNotificationClient(bus.address, lambda note, key: actions.append((note, key)))
    yield made
    await made.aclose()


async def test_add_notification_carries_the_portal_vardict_with_its_types(
    client: PortalNotificationClient, portal: PortalService
) -> None:
    note_id = await client.notify(
        "tag:acct2", "GitHub needs sign-in", "The grant was revoked.", priority="urgent", actions=RECONNECT
    )
    assert note_id == "tag:acct2"
    assert portal.errors == []
    [note] = portal.notes
    assert note.id == "tag:acct2"
    assert note.notification == {
        "title": ("s", "GitHub needs sign-in"),
        "body": ("s", "The grant was revoked."),
        "priority": ("s", "urgent"),
        "default-action": ("s", "default"),  # a click on the notification
        "buttons": ("aa{sv}", [{"label": ("s", "Reconnect"), "action": ("s", "reconnect")}]),
    }
    # An informational one: a click opens the window, no buttons.
    await client.notify("note:1", "Tokendesk is still running", "…", actions=(("default", "Open Tokendesk"),))
    assert portal.notes[1].notification == {
        "title": ("s", "Tokendesk is still running"),
        "body": ("s", "…"),
        "priority": ("s", "normal"),
        "default-action": ("s", "default"),
    }
    assert portal.errors == []


def test_urgency_maps_to_the_portal_priorities() -> None:
    assert PRIORITIES[URGENCY_CRITICAL] == "urgent"
    assert PRIORITIES[URGENCY_NORMAL] == "normal"


async def test_clicks_come_back_as_id_and_action_for_our_notifications_only(
    client: PortalNotificationClient, portal: PortalService, actions: list[tuple[str, str]]
) -> None:
    assert await client.notify("tag:acct2", "t", "b", priority="urgent", actions=RECONNECT) == "tag:acct2"
    assert await client.notify("tag:acct3", "t", "b", priority="urgent", actions=RECONNECT) == "tag:acct3"
    ours2, ours3 = portal.notes
    # An id this client never added (an earlier run's, say), sent to us all the same, is not reported.
    stranger = PortalNotification(ours2.sender, "tag:elsewhere", ours2.notification)
    portal.invoke(stranger, "reconnect")
    portal.invoke(ours3, "reconnect")
    portal.invoke(ours2, "default")
    await _until(lambda: len(actions) == 2, "both clicks")
    assert actions == [("tag:acct3", "reconnect"), ("tag:acct2", "default")]


async def test_the_same_id_again_is_sent_as_is_so_the_portal_replaces(
    client: PortalNotificationClient, portal: PortalService, actions: list[tuple[str, str]]
) -> None:
    for body in ("first", "second"):
        assert await client.notify("tag:acct2", "t", body, actions=RECONNECT) == "tag:acct2"
    assert [(n.id, n.value("body")) for n in portal.notes] == [("tag:acct2", "first"), ("tag:acct2", "second")]
    portal.invoke(portal.notes[1], "reconnect")
    await _until(lambda: actions, "the click")
    assert actions == [("tag:acct2", "reconnect")]


async def test_no_portal_on_the_bus_is_none(client: PortalNotificationClient, bus: PrivateBus) -> None:
    assert await client.notify("tag:acct2", "t", "b", actions=RECONNECT) is None


async def test_a_portal_without_a_notification_backend_is_none(bus: PrivateBus) -> None:
    with PortalService(bus.address, backend=False) as portal:
        made = PortalNotificationClient(bus.address, lambda note, key: None)
        try:
            assert await made.notify("tag:acct2", "t", "b", actions=RECONNECT) is None
            # Refused, not failed for good: once the desktop has a backend, the next one goes through.
            portal.backend = True
            assert await made.notify("tag:acct2", "t", "b", actions=RECONNECT) == "tag:acct2"
        finally:
            await made.aclose()
    assert portal.errors == [
        "No such interface “org.freedesktop.portal.Notification” on object at path /org/freedesktop/portal/desktop"
    ]
    assert [n.id for n in portal.notes] == ["tag:acct2"]


async def test_no_bus_or_an_unreachable_one_is_none(tmp_path: Path) -> None:
    for address in (None, f"unix:path={tmp_path}/no-such-bus"):
        made = PortalNotificationClient(address, lambda note, key: None)
        assert await made.notify("tag:acct2", "t", "b") is None
        await made.aclose()


def test_flatpak_is_told_by_its_info_file(tmp_path: Path) -> None:
    info = tmp_path / ".flatpak-info"
    assert not in_flatpak(info)
    info.write_text("[Application]\nname=dev.tokendesk.Tokendesk\n")
    assert in_flatpak(info)
