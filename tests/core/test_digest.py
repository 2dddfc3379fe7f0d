"""core/digest.py gives hashlib's digests without loading libcrypto (_hashlib)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from desktop_app.core import digest


def test_the_digests_are_hashlibs() -> None:
    for data in (b"", b"user", "Ünïcode – name".encode()):
        assert digest.sha256(data) == hashlib.sha256(data).digest()
        assert (
            digest.blake2b(data, key=b"salt", digest_size=8)
            == hashlib.blake2b(data, key=b"salt", digest_size=8).digest()
        )


def test_no_libcrypto_is_loaded() -> None:
    code = (
        "import sys\nfrom desktop_app.core import digest\n"
        "digest.sha256(b'x'); digest.blake2b(b'x', key=b'k', digest_size=8)\n"
        "print('_hashlib' in sys.modules, 'hashlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
