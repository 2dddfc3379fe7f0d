"""What the command line prints for a sign-in on another device (RFC 8628): the page, the code, the expiry."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .core.device import DeviceCode


def say_code(code: DeviceCode, out: TextIO | None = None, now: float | None = None) -> None:
    """On stderr, so stdout stays for what scripts read; the user code is meant to be seen, the device
    code never is."""
    out = out or sys.stderr
    minutes = max(1, round((code.expires_at - (time.time() if now is None else now)) / 60))
    lines = [
        "To sign in, open this page on any device (a phone will do):",
        f"  {code.verification_uri}",
        f"and enter the code:  {code.user_code}",
    ]
    if code.verification_uri_complete:
        lines.append(f"(or open {code.verification_uri_complete} with the code filled in)")
    lines.append(f"The code expires in {minutes} minute{'s' if minutes != 1 else ''}. Waiting for the sign-in…")
    print("\n".join(lines), file=out, flush=True)


def say_notice(text: str, out: TextIO | None = None) -> None:
    print(text, file=out or sys.stderr, flush=True)
