"""The process's one HTTP client, made the first time a request must be sent.

httpx (and the ssl context it builds) costs about 11 MiB and tens of ms: an app whose accounts are all fresh
never sends a request, so it never pays for them. This module must not import httpx."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


class LazyHttp:
    """Holds a given client, or makes one with oauth.new_http_client on the first get()."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._closed = False

    @classmethod
    def of(cls, http: httpx.AsyncClient | LazyHttp | None) -> LazyHttp:
        """A client a caller made (tests, a mock transport) is used as is; None: one is made when needed."""
        return http if isinstance(http, LazyHttp) else cls(http)

    @property
    def made(self) -> bool:
        return self._client is not None

    def get(self) -> httpx.AsyncClient:
        if self._client is None:
            if self._closed:
                raise RuntimeError("the HTTP client was closed")
            from .oauth import new_http_client  # httpx: only now that a request is about to leave

            self._client = new_http_client()
        return self._client

    async def aclose(self) -> None:
        """Closes the client if one was made (a closed client refuses to send, as httpx's own does)."""
        self._closed = True
        if self._client is not None:
            await self._client.aclose()
