"""Endpoint URL checks: HTTPS everywhere, plain HTTP only on loopback (RFC 8252 §8.3, RFC 9700 §2.6)."""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import urlsplit

from .errors import Input, InvalidEndpoint

_SPACE = re.compile(r"\s")
# The connect inputs an endpoint check can be about: its error names the input, for the CLI flag or dialog field.
_INPUTS = {
    "issuer": Input.ISSUER,
    "authorization endpoint": Input.AUTHORIZATION_ENDPOINT,
    "token endpoint": Input.TOKEN_ENDPOINT,
    "revocation endpoint": Input.REVOCATION_ENDPOINT,
}


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1024)  # every stored account's endpoints are re-checked on each read
def check_endpoint(url: str, *, what: str = "endpoint") -> str:
    """Return `url` if it may be used as a provider endpoint, else raise with a message naming `what`."""
    text = url.strip()
    about = _INPUTS.get(what)
    if not text:
        raise InvalidEndpoint(f"The {what} URL is empty.", input=about)
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise InvalidEndpoint(f"The {what} URL {text!r} is malformed: {exc}.", input=about) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidEndpoint(f"The {what} URL {text!r} is not an http(s) URL with a host name.", input=about)
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpoint(f"The {what} URL must not contain a user name or password.", input=about)
    if parts.fragment:
        raise InvalidEndpoint(f"The {what} URL {text!r} must not contain a #fragment.", input=about)
    if _SPACE.search(text):
        raise InvalidEndpoint(f"The {what} URL {text!r} contains white space.", input=about)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InvalidEndpoint(
            f"The {what} URL {text!r} uses plain HTTP; only HTTPS is allowed "
            "(HTTP only for 127.0.0.1, ::1 or localhost).",
            input=about,
        )
    del port
    return text
