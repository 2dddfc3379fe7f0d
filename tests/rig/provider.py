"""The rig's OpenID provider: tests/rig/oidc/server.mjs (real oidc-provider) run as a child process."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Self

import httpx

from tests.rig import daemon
from tests.rig.daemon import RigPiece

OIDC_DIR = Path(__file__).resolve().parent / "oidc"

# Client ids registered in server.mjs; all allow authorization_code + refresh_token with PKCE S256.
NATIVE_ROTATING = "native-rotating"
NATIVE_STATIC = "native-static"
NATIVE_LOCALHOST = "native-localhost"
CONFIDENTIAL_BASIC = "confidential-basic"
CONFIDENTIAL_POST = "confidential-post"
WEB_EXACT_PORT = "web-exact-port"  # a 'web' client: its one redirect URI must match exactly, port and all
NATIVE_NO_REVOKE = "native-no-revoke"  # public; the rig refuses its revocations with unauthorized_client
# Also allows the device authorization grant (RFC 8628); the rig's device flow sends no interval (5 s polls).
NATIVE_DEVICE = "native-device"
CONFIDENTIAL_BASIC_SECRET = "rig-secret-basic-0123456789abcdef"
CONFIDENTIAL_POST_SECRET = "rig-secret-post-0123456789abcdef"
CLIENT_SECRETS: dict[str, str | None] = {
    NATIVE_ROTATING: None,
    NATIVE_STATIC: None,
    NATIVE_LOCALHOST: None,
    CONFIDENTIAL_BASIC: CONFIDENTIAL_BASIC_SECRET,
    CONFIDENTIAL_POST: CONFIDENTIAL_POST_SECRET,
    WEB_EXACT_PORT: None,
    NATIVE_NO_REVOKE: None,
    NATIVE_DEVICE: None,
}
# Registered redirect URIs; native clients may use any port on them (RFC 8252 §7.3).
REDIRECT_URI = "http://127.0.0.1/callback"
LOCALHOST_REDIRECT_URI = "http://localhost/callback"
SCOPES = "openid email profile offline_access"

READY_TIMEOUT = 20.0
START_ATTEMPTS = 3


def _free_fixed_port() -> int:
    """A port free now and below the kernel's ephemeral range, so no outgoing connection is given it later."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(20000, max(20001, min(low, 32768)))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port for the exact-redirect client")


class OidcProvider(RigPiece):
    """Starts `node server.mjs` and talks to its /__rig/ admin endpoints."""

    native_rotating = NATIVE_ROTATING
    native_static = NATIVE_STATIC
    native_localhost = NATIVE_LOCALHOST
    confidential_basic = CONFIDENTIAL_BASIC
    confidential_post = CONFIDENTIAL_POST
    web_exact_port = WEB_EXACT_PORT
    native_no_revoke = NATIVE_NO_REVOKE
    exact_redirect_path = "/cb/exact"
    native_device = NATIVE_DEVICE
    confidential_basic_secret = CONFIDENTIAL_BASIC_SECRET
    confidential_post_secret = CONFIDENTIAL_POST_SECRET
    client_secrets = CLIENT_SECRETS
    redirect_uri = REDIRECT_URI
    localhost_redirect_uri = LOCALHOST_REDIRECT_URI
    scopes = SCOPES

    def __init__(self, port: int = 0, *, preset: str | None = None) -> None:
        """`preset="keycloak"`, `"okta"`, `"auth0"` or `"gitlab"`: a look-alike of that server over HTTPS (see
        server.mjs); `ca_file` is then the certificate clients must trust (SSL_CERT_FILE for a CLI process)."""
        self._port = port
        self._preset = preset
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_path: Path | None = None
        self._tls_dir: Path | None = None
        self.ca_file: Path | None = None
        self.issuer = ""
        self.exact_port = 0  # the one port web-exact-port's redirect URI names

    def start(self) -> Self:
        # Seen once in many runs: node printed its first warning, then never reached listen() within the
        # limit. A fresh process has always come up in about a second, so try again before failing.
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start_once()
            except RuntimeError:
                if attempt == START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> Self:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node not found on PATH; run `scripts/bootstrap test`")
        if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(f"{OIDC_DIR}/node_modules is missing; run `scripts/bootstrap test`")
        # stdin stays an open pipe: node exits on its EOF, so a crashed test run leaves no orphan.
        # stderr to a file, not a pipe: nobody drains it while tests run, and a full pipe would block node.
        fd, name = tempfile.mkstemp(prefix="tokendesk-oidc-", suffix=".log")
        self._stderr_path = Path(name)
        self.exact_port = self.exact_port or _free_fixed_port()
        env = {**os.environ, "PORT": str(self._port), "RIG_EXACT_PORT": str(self.exact_port)}
        if self._preset is not None:
            env.update(RIG_PRESET=self._preset, **self._certificate())
        self._proc = daemon.spawn([node, "server.mjs"], cwd=OIDC_DIR, env=env, stdin=subprocess.PIPE, stderr=fd)
        os.close(fd)
        try:
            line = daemon.read_line(self._proc, READY_TIMEOUT, "node", self._stderr)
            self.issuer = str(json.loads(line)["issuer"])
        except Exception as exc:
            daemon.stop(self._proc)
            stderr = self._stderr()
            self.stop()
            raise RuntimeError(f"OIDC provider failed to start: {exc}\n--- node stderr ---\n{stderr}") from exc
        return self

    def _certificate(self) -> dict[str, str]:
        """A throwaway self-signed certificate for 127.0.0.1."""
        if self._tls_dir is None:
            self._tls_dir = Path(tempfile.mkdtemp(prefix="tokendesk-oidc-tls-"))
            cert, key = self._tls_dir / "cert.pem", self._tls_dir / "key.pem"
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )  # fmt: skip
            self.ca_file = cert
        assert self.ca_file is not None
        return {"TLS_CERT": str(self.ca_file), "TLS_KEY": str(self._tls_dir / "key.pem")}

    def _stderr(self) -> str:
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        daemon.stop(proc)
        if self._stderr_path is not None:
            self._stderr_path.unlink(missing_ok=True)
            self._stderr_path = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = self.ca_file = None

    # --- endpoints -------------------------------------------------------------------------------------

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/auth"

    @property
    def device_authorization_endpoint(self) -> str:
        return f"{self.issuer}/device/auth"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.issuer}/token/revocation"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/me"

    # --- admin API -------------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        if not self.issuer:
            raise RuntimeError("OidcProvider is not started")
        verify: ssl.SSLContext | bool = True
        if self.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(self.ca_file))
        url = f"{self.issuer.rstrip('/')}/__rig/{path}"  # Auth0's issuer ends with a slash
        resp = httpx.request(method, url, params=params, timeout=10, verify=verify)
        resp.raise_for_status()
        return resp.json()

    def stats(self) -> dict[str, Any]:
        """{"token": {grant_type: successes}, "token_errors": {error: n}, "token_requests": n, "revocation": n,
        "client_auth": {method: n}} (the method each token request used: client_secret_basic, _post or none)."""
        result: dict[str, Any] = self._admin("GET", "stats")
        return result

    def seen(self) -> dict[str, list[str]]:
        """Every secret the token endpoint received or issued since reset(), by name: code, code_verifier,
        client_secret (when posted in the form), refresh_token, access_token, id_token."""
        result: dict[str, list[str]] = self._admin("GET", "seen")
        return result

    def reset(self) -> None:
        """Zero the counters and forget the secrets seen (grants and tokens stay valid)."""
        self._admin("POST", "reset")

    def revoke_all(self) -> int:
        """Destroy every grant issued so far with its tokens; later refreshes get invalid_grant."""
        return int(self._admin("POST", "revoke-all")["revoked"])

    def hold_token(self, count: int = 1) -> None:
        """Let oidc-provider answer the next `count` token requests (rotating refresh tokens) but hold the
        answers back until release()."""
        self._admin("POST", "hold-token", {"count": str(count)})

    def wait_held(self, timeout_s: float = 30.0) -> int:
        """Block until a token answer is being held; the number held."""
        url = f"{self.issuer.rstrip('/')}/__rig/held"
        verify: ssl.SSLContext | bool = True
        if self.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(self.ca_file))
        resp = httpx.get(url, timeout=timeout_s, verify=verify)
        resp.raise_for_status()
        return int(resp.json()["held"])

    def release(self) -> int:
        """Send the held answers; how many there were."""
        return int(self._admin("POST", "release")["released"])

    def fail_token(
        self,
        status: int,
        count: int = 1,
        retry_after: int | str | None = None,
        html: bool = False,
        error: str = "temporarily_unavailable",
    ) -> None:
        """Answer the next `count` token-endpoint POSTs with `status` and {"error": error} (or an HTML page)
        without reaching oidc-provider."""
        params = {"status": str(status), "count": str(count), "error": error}
        if retry_after is not None:
            params["retry_after"] = str(retry_after)
        if html:
            params["body"] = "html"
        self._admin("POST", "fail-token", params)
