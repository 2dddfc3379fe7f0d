"""PKCE (RFC 7636) with S256 only, plus the other one-time values of an authorization request."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, repr=False)
class Pkce:
    verifier: str
    challenge: str
    method: str = "S256"

    def __repr__(self) -> str:
        return "Pkce(***)"


def new_pkce() -> Pkce:
    verifier = _b64url(secrets.token_bytes(64))  # 86 characters, inside RFC 7636's 43..128
    return Pkce(verifier=verifier, challenge=_b64url(hashlib.sha256(verifier.encode("ascii")).digest()))


def new_state() -> str:
    return _b64url(secrets.token_bytes(32))
