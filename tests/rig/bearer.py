"""The rig's resource-server side: is this bearer token one the rig provider's userinfo endpoint accepts?"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

# Long enough that one git clone (several HTTP requests) asks the provider once, short enough that a token
# the provider revoked stops working within a test.
CACHE_S = 2.0


@dataclass
class BearerCheck:
    """Asks `userinfo_endpoint` about each token (cached for CACHE_S) and keeps a record for tests:
    `accepted` and `refused` list the tokens in the order they were presented."""

    userinfo_endpoint: str
    ca_file: str | None = None
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _rejected: set[str] = field(default_factory=set)
    _cache: dict[str, tuple[float, dict[str, Any] | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, token: str) -> None:
        """Refuse `token` from now on, whatever the provider says (a server that stopped trusting it)."""
        with self._lock:
            self._rejected.add(token)

    def claims(self, token: str) -> dict[str, Any] | None:
        """The userinfo claims for `token`, or None when it is refused; recorded either way."""
        with self._lock:
            rejected = token in self._rejected
            cached = self._cache.get(token)
        if rejected:
            info = None
        elif cached is not None and time.monotonic() - cached[0] < CACHE_S:
            info = cached[1]
        else:
            info = self._ask(token)
            with self._lock:
                self._cache[token] = (time.monotonic(), info)
        with self._lock:
            (self.accepted if info is not None else self.refused).append(token)
        return info

    def _ask(self, token: str) -> dict[str, Any] | None:
        verify: ssl.SSLContext | bool = True
        if self.ca_file is not None:
            verify = ssl.create_default_context(cafile=self.ca_file)
        try:
            resp = httpx.get(
                self.userinfo_endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=10, verify=verify
            )
        except httpx.HTTPError:
            return None
        if resp.status_code != 200:
            return None
        info: dict[str, Any] = resp.json()
        return info
