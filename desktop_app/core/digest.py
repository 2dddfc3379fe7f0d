"""SHA-256 and BLAKE2b from CPython's built-in modules when it has them, hashlib's otherwise (same digests).

`import hashlib` (and hmac) loads OpenSSL's libcrypto through _hashlib: about 3.5 MiB of RSS that the GUI's
start would pay for an instance name, an avatar colour and a jitter share. The standard library does the same
for random's seeding (`from _sha512 import sha512`, hashlib as the fallback)."""

from __future__ import annotations

from typing import Any


def _builtin(module: str, name: str) -> Any:
    import importlib

    for candidate in (module, "_sha2"):  # _sha256 up to Python 3.11, _sha2 from 3.12
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    import hashlib

    return getattr(hashlib, name)


def sha256(data: bytes) -> bytes:
    return bytes(_builtin("_sha256", "sha256")(data).digest())


def blake2b(data: bytes, *, key: bytes, digest_size: int) -> bytes:
    return bytes(_builtin("_blake2", "blake2b")(data, key=key, digest_size=digest_size).digest())
