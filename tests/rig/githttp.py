"""A git smart-HTTP server on 127.0.0.1 that wants an OAuth access token: `git http-backend` behind a
check of Bearer or Basic (any user, the token as password) credentials against the rig provider."""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tests.rig.bearer import BearerCheck
from tests.rig.daemon import ServedPiece

REALM = "rig"


def git_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) in which git reads no configuration but
    `home/.gitconfig` and never prompts."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GIT_AUTHOR_NAME="Rig",
        GIT_AUTHOR_EMAIL="rig@example.test",
        GIT_COMMITTER_NAME="Rig",
        GIT_COMMITTER_EMAIL="rig@example.test",
    )
    return env


def make_bare_repo(root: Path, name: str = "repo.git", content: str = "hello from the rig\n") -> Path:
    """`root/name`: a bare repository whose main branch has one commit adding README."""
    home = root / ".rig-home"
    home.mkdir(parents=True, exist_ok=True)
    env = git_env(home)
    work = root / ".rig-work"

    def git(*args: str, cwd: Path = root) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=30)

    git("init", "-q", "-b", "main", str(work))
    (work / "README").write_text(content)
    git("add", "README", cwd=work)
    git("commit", "-q", "-m", "rig commit", cwd=work)
    git("clone", "-q", "--bare", str(work), str(root / name))
    shutil.rmtree(work)
    return root / name


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the URL carries no secret, but stderr is for failures

    def _token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return password or None
        return None

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        body = self._body()
        token = self._token()
        claims = self.server.check.claims(token) if token is not None else None
        if claims is None:
            self.server.record_refused(self.headers.get("Authorization") is not None)
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"unauthorized\n")
            return
        url = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.server.root),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "REMOTE_USER": str(claims.get("sub", "rig")),
            "REMOTE_ADDR": self.client_address[0],
            "AUTH_TYPE": "Bearer",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
        }
        if "Content-Encoding" in self.headers:
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if "Git-Protocol" in self.headers:
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60, check=False
        )
        self._send_cgi(proc.stdout)

    def _send_cgi(self, output: bytes) -> None:
        """Relay a CGI answer: its header lines (Status among them), a blank line, the body."""
        head, sep, rest = output.partition(b"\r\n\r\n")
        if not sep:
            head, sep, rest = output.partition(b"\n\n")
        if not sep:  # http-backend died before answering
            self.send_error(500, "git http-backend gave no answer")
            return
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, check: BearerCheck) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.check = check
        self.challenges = 0  # 401s to requests that carried no credentials
        self.refusals = 0  # 401s to requests whose credentials were refused
        self._count_lock = threading.Lock()

    def record_refused(self, had_credentials: bool) -> None:
        with self._count_lock:
            if had_credentials:
                self.refusals += 1
            else:
                self.challenges += 1


class GitHttpServer(ServedPiece["_Server"]):
    """Serves every repository under `root` at http://127.0.0.1:PORT/NAME, to holders of an access token the
    provider's userinfo endpoint accepts. `reject(token)` makes it refuse a token the provider still honours."""

    thread_name = "rig-githttp"

    def __init__(self, root: Path, userinfo_endpoint: str, ca_file: str | None = None) -> None:
        self.root = root
        self.check = BearerCheck(userinfo_endpoint, ca_file)

    def make_server(self) -> _Server:
        return _Server(self.root, self.check)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "GitHttpServer is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, name: str = "repo.git") -> str:
        return f"{self.base_url}/{name}"

    def reject(self, token: str) -> None:
        self.check.reject(token)

    @property
    def accepted(self) -> list[str]:
        """Tokens that were let in, in order (one entry per HTTP request)."""
        return list(self.check.accepted)

    @property
    def refused(self) -> list[str]:
        """Tokens presented and refused, in order."""
        return list(self.check.refused)

    @property
    def refusals(self) -> int:
        assert self._server is not None
        return self._server.refusals
