"""Endpoint URL checks: HTTPS everywhere, plain HTTP only on loopback (RFC 8252 §8.3, RFC 9700 §2.6)."""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import urlsplit

from .errors import InvalidEndpoint

_SPACE = re.compile(r"\s")


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
    if not text:
        raise InvalidEndpoint(f"The {what} URL is empty.")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise InvalidEndpoint(f"The {what} URL {text!r} is malformed: {exc}.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidEndpoint(f"The {what} URL {text!r} is not an http(s) URL with a host name.")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpoint(f"The {what} URL must not contain a user name or password.")
    if parts.fragment:
        raise InvalidEndpoint(f"The {what} URL {text!r} must not contain a #fragment.")
    if _SPACE.search(text):
        raise InvalidEndpoint(f"The {what} URL {text!r} contains white space.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InvalidEndpoint(
            f"The {what} URL {text!r} uses plain HTTP; only HTTPS is allowed "
            "(HTTP only for 127.0.0.1, ::1 or localhost)."
        )
    del port
    return text
