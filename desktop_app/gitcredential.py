"""`tokendesk git-credential`: git's credential-helper protocol (git-credential(1)) answered with an access token."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from .core.errors import UsageError
from .core.secrets import Secret
from .tokenpath import IssuedToken

GITHUB_USERNAME = "x-access-token"  # what GitHub expects beside a token in the password field
DEFAULT_USERNAME = "oauth2"  # GitLab and Gitea take any username with a token; this one is their documented one
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def parse(lines: Iterable[str]) -> dict[str, str]:
    """git's `key=value` lines up to the first blank line. Lines without "=" and keys we do not know are kept
    or skipped harmlessly (git requires helpers to ignore what they do not understand); a repeated key keeps
    its last value (git's own rule), which also covers the `key[]` multi-valued ones."""
    request: dict[str, str] = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            break
        key, sep, value = line.partition("=")
        if sep:
            request[key] = value
    return request


def hostname(host: str) -> str:
    """`host` without its port: `example.com:8443` -> `example.com`, `[::1]:8080` -> `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def wanted(request: dict[str, str], hosts: Sequence[str] = ()) -> bool:
    """Whether to answer: HTTPS (plain HTTP only to this machine) and, when hosts were configured, one of them.
    A configured host without a port matches every port of that host; with one, only that port."""
    host = request.get("host", "").strip().lower()
    if not host:
        return False
    name = hostname(host)
    protocol = request.get("protocol", "").lower()
    if not (protocol == "https" or (protocol == "http" and name in LOOPBACK_HOSTS)):
        return False
    if not hosts:
        return True  # git calls only the helper configured for the URL
    for configured in hosts:
        configured = configured.strip().lower()
        if configured == host or (configured == hostname(configured) and configured == name):
            return True
    return False


def default_username(issued: IssuedToken) -> str:
    return GITHUB_USERNAME if issued.provider == "github" else DEFAULT_USERNAME


def answer(issued: IssuedToken, username: str | None) -> str:
    """The `get` answer: username, password (the token) and, when it expires, password_expiry_utc."""
    lines = [f"username={username or default_username(issued)}", f"password={issued.access_token.reveal()}"]
    if issued.expires_at is not None and math.isfinite(issued.expires_at):
        lines.append(f"password_expiry_utc={int(issued.expires_at)}")
    return "".join(line + "\n" for line in lines)


def check_username(text: str) -> str:
    """A --username git can take back (argparse type): no line breaks or NUL, which would break the protocol."""
    if not text or any(c in text for c in "\r\n\0"):
        import argparse

        raise argparse.ArgumentTypeError("the username must be one line of text")
    return text


def helper(
    action: str,
    lines: Iterable[str],
    *,
    hosts: Sequence[str],
    username: str | None,
    get_token: Callable[[], IssuedToken],
    reject: Callable[[Secret], object],
) -> str:
    """What to print for git's `action` with its input `lines`. `get_token` and `reject` raise TokendeskError
    on failure (the caller prints it on stderr and exits non-zero, with nothing on stdout)."""
    if action not in ("get", "store", "erase"):
        return ""  # git-credential(1): an operation a helper does not know is silently ignored
    request = parse(lines)
    if action == "store" or not wanted(request, hosts):
        return ""  # store: the token is the app's to keep; other hosts and protocols are not ours
    if action == "get":
        return answer(get_token(), username)
    password = request.get("password")
    if password:
        # git got a 401 with this token: mark it so the next `get` refreshes. Nothing is ever deleted.
        reject(Secret(password))
    return ""


def require_hosts(hosts: Sequence[str]) -> list[str]:
    """--host values, checked: a bare host name with an optional port (no scheme, no path)."""
    for host in hosts:
        if not host.strip() or any(c in host for c in "/ \t\r\n@"):
            raise UsageError(f"--host takes a host name with an optional port, not {host!r}.")
    return list(hosts)
