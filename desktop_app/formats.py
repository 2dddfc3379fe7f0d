"""How `tokendesk token --format` prints a token: plain, header, JSON, SASL XOAUTH2 and OAUTHBEARER (RFC 7628)."""

# Imported by the fast path (fastcli) too: the standard library's smallest pieces only.
from __future__ import annotations

import binascii
import time

from .core import fastjson

TYPE_CHECKING = False  # typing and collections are imports the fast path does not pay for
if TYPE_CHECKING:
    from collections.abc import Sequence

FORMATS = ("token", "header", "json", "xoauth2", "oauthbearer")
SASL_FORMATS = ("xoauth2", "oauthbearer")


class FormatError(ValueError):
    """The format cannot be produced (no user for a SASL string); the message is shown as is."""


def iso_utc(ts: float | None) -> str | None:
    """`2026-11-30T04:01:52+00:00`, as datetime's isoformat(timespec="seconds") gives (without importing it)."""
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(int(ts)))


def _b64(data: str) -> str:
    return binascii.b2a_base64(data.encode(), newline=False).decode("ascii")


def _sasl_user(user: str | None) -> str:
    if not user:
        raise FormatError("This account has no email address to put in the SASL string; give one with --user EMAIL.")
    if any(ord(c) < 0x20 or c == "\x7f" for c in user):
        raise FormatError("--user must not contain control characters.")
    return user


def xoauth2(user: str | None, token: str) -> str:
    """Google's and Microsoft's XOAUTH2 initial response, base64-encoded."""
    return _b64(f"user={_sasl_user(user)}\x01auth=Bearer {token}\x01\x01")


def oauthbearer(user: str | None, token: str) -> str:
    """RFC 7628 OAUTHBEARER initial response, base64-encoded. The authzid is a GS2 saslname (RFC 5801):
    "=" becomes "=3D" and "," becomes "=2C" ("=" first, or the escapes themselves would be escaped)."""
    authzid = _sasl_user(user).replace("=", "=3D").replace(",", "=2C")
    return _b64(f"n,a={authzid},\x01auth=Bearer {token}\x01\x01")


def render(
    fmt: str,
    token: str,
    *,
    token_type: str = "Bearer",  # noqa: S107 - a token type, not a secret
    expires_at: float | None = None,
    scopes: Sequence[str] = (),
    user: str | None = None,
) -> str:
    """The text to print (without the final newline). Raises FormatError for an unknown format or no user."""
    if fmt == "token":
        return token
    if fmt == "header":
        # RFC 6750 §2.1: the scheme is Bearer even for providers that name their type otherwise (Slack).
        return f"Authorization: Bearer {token}"
    if fmt == "json":
        return fastjson.dumps(
            {"access_token": token, "token_type": token_type, "expires_at": iso_utc(expires_at), "scopes": list(scopes)}
        )
    if fmt == "xoauth2":
        return xoauth2(user, token)
    if fmt == "oauthbearer":
        return oauthbearer(user, token)
    raise FormatError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
