"""Where the user's D-Bus session bus is, found the way libdbus finds it (notifications and the keychain look)."""

from __future__ import annotations

import os


def session_bus_address() -> str | None:
    """$DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket $XDG_RUNTIME_DIR/bus; None when there is none."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return "unix:path=" + os.path.join(runtime, "bus")
    return None
