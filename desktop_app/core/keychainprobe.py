"""A cheap look at the Linux keychain for the app's start-up probe: plain D-Bus calls through jeepney.

The full probe (a read through secretstorage) opens an encrypted session, which loads cryptography (about
7 MiB with secretstorage): an app with no account due has no secret to read, so its start-up only asks the
bus whether a Secret Service is there and its default collection unlocked. Anything this cannot vouch for
(locked, no default collection, an odd reply) is left to the full probe, which unlocks or names the error."""

from __future__ import annotations

from enum import Enum

from .sessionbus import session_bus_address

BUS_NAME = "org.freedesktop.secrets"
DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"
COLLECTION_IFACE = "org.freedesktop.Secret.Collection"


class Look(Enum):
    READY = "ready"  # the Secret Service answers and its default collection is unlocked
    NO_BUS = "no session bus"  # no D-Bus session bus: no Linux keychain (Secret Service, KWallet) can answer
    UNSURE = "unsure"  # the full probe decides


def look(timeout_s: float) -> Look:
    """Blocking (run it off the event loop). Never raises: whatever goes wrong is UNSURE or NO_BUS."""
    address = session_bus_address()
    if address is None:
        return Look.NO_BUS
    try:
        from jeepney import DBusAddress, Properties
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg
    except ImportError:
        return Look.UNSURE
    try:
        connection = open_dbus_connection(address)
    except OSError:  # the socket is missing or refuses: libdbus, and so every keychain backend, fails the same way
        return Look.NO_BUS
    except Exception:  # a transport jeepney does not speak (tcp:, autolaunch:): the full probe may
        return Look.UNSURE
    try:
        owned = unwrap_msg(connection.send_and_get_reply(message_bus.NameHasOwner(BUS_NAME), timeout=timeout_s))
        if not owned[0]:
            activatable = unwrap_msg(
                connection.send_and_get_reply(message_bus.ListActivatableNames(), timeout=timeout_s)
            )
            if BUS_NAME not in activatable[0]:
                return Look.UNSURE  # KWallet without its Secret Service interface, say: keyring's discovery decides
        collection = DBusAddress(DEFAULT_COLLECTION, bus_name=BUS_NAME, interface=COLLECTION_IFACE)
        # Starts an activatable Secret Service, as the full probe would.
        locked = unwrap_msg(connection.send_and_get_reply(Properties(collection).get("Locked"), timeout=timeout_s))
        return Look.UNSURE if locked[0][1] else Look.READY
    except Exception:  # no default collection, a time-out, a refusal: the full probe names it
        return Look.UNSURE
    finally:
        connection.close()
