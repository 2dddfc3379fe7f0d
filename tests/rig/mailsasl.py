"""Tiny IMAP and SMTP servers on 127.0.0.1 that accept only SASL XOAUTH2 / OAUTHBEARER (RFC 7628) logins
whose bearer token the rig provider's userinfo endpoint accepts for that very email address. Plain TCP,
just enough of each protocol for Python's imaplib and smtplib."""

from __future__ import annotations

import base64
import binascii
import imaplib
import json
import smtplib
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.rig.bearer import BearerCheck
from tests.rig.daemon import ServedPiece

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


@dataclass(frozen=True)
class SaslBearer:
    """What a client's XOAUTH2 or OAUTHBEARER message says: who, and with which token."""

    user: str
    token: str


def parse_sasl(mechanism: str, b64: str) -> SaslBearer | None:
    """Decode one client message; None when it is not well-formed for `mechanism`."""
    try:
        raw = base64.b64decode(b64.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not raw.endswith("\x01\x01"):
        return None
    parts = raw[:-2].split("\x01")
    user = None
    if mechanism == "OAUTHBEARER":
        # gs2-header: "n,a=USER," (no channel binding); the authzid is where the user goes.
        gs2 = parts.pop(0).split(",")
        if len(gs2) < 3 or gs2[0] != "n" or not gs2[1].startswith("a="):
            return None
        user = gs2[1][2:].replace("=2C", ",").replace("=3D", "=")
    pairs = dict(p.split("=", 1) for p in parts if "=" in p)
    if len(pairs) != len(parts):
        return None
    if mechanism == "XOAUTH2":
        user = pairs.get("user")
    scheme, _, token = pairs.get("auth", "").partition(" ")
    if not user or scheme != "Bearer" or not token:
        return None
    return SaslBearer(user, token)


def error_challenge(mechanism: str) -> str:
    """The base64 JSON a server sends as its last challenge when a bearer login fails."""
    if mechanism == "XOAUTH2":  # Google's shape
        doc = {"status": "401", "schemes": "bearer", "scope": "https://mail.example.test/"}
    else:  # RFC 7628 §3.2.2
        doc = {"status": "invalid_token", "scope": "mail"}
    return base64.b64encode(json.dumps(doc).encode()).decode()


@dataclass
class Logins:
    """Every login attempt a server saw: (mechanism, user, accepted)."""

    attempts: list[tuple[str, str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, mechanism: str, user: str, ok: bool) -> None:
        with self.lock:
            self.attempts.append((mechanism, user, ok))


class _MailServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[socketserver.StreamRequestHandler], check: BearerCheck, email: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.check = check
        self.email = email
        self.logins = Logins()
        self.messages: list[bytes] = []

    def verify(self, mechanism: str, b64: str) -> bool:
        """Whether this client message logs `email` in: the user named is the expected one, and the
        provider accepts the token and says it belongs to that same address."""
        sasl = parse_sasl(mechanism, b64)
        if sasl is None:
            self.logins.add(mechanism, "", False)
            return False
        ok = sasl.user == self.email
        if ok:
            claims = self.check.claims(sasl.token)
            ok = claims is not None and claims.get("email") == sasl.user
        self.logins.add(mechanism, sasl.user, ok)
        return ok


class _Lines(socketserver.StreamRequestHandler):
    server: _MailServer
    timeout = 30

    def send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def receive(self) -> str | None:
        raw = self.rfile.readline(65536)
        return raw.decode(errors="replace").rstrip("\r\n") if raw else None


class _ImapHandler(_Lines):
    CAPS = "IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER SASL-IR"

    def handle(self) -> None:
        self.send(f"* OK [CAPABILITY {self.CAPS}] rig IMAP ready")
        authed = False
        while (line := self.receive()) is not None:
            tag, _, rest = line.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                self.send(f"* CAPABILITY {self.CAPS}")
                self.send(f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                self.send(f"{tag} OK NOOP completed")
            elif command == "LOGOUT":
                self.send("* BYE rig IMAP logging out")
                self.send(f"{tag} OK LOGOUT completed")
                return
            elif command == "AUTHENTICATE" and not authed:
                authed = self._authenticate(tag, args)
            elif command in ("SELECT", "EXAMINE") and authed and args.strip('"').upper() == "INBOX":
                self.send("* FLAGS (\\Seen)")
                self.send("* 0 EXISTS")
                self.send("* 0 RECENT")
                self.send(f"{tag} OK [READ-WRITE] {command} completed")
            elif command in ("SELECT", "EXAMINE", "LOGIN"):
                self.send(f"{tag} NO {command} not allowed now")
            else:
                self.send(f"{tag} BAD unknown command")

    def _authenticate(self, tag: str, args: str) -> bool:
        mechanism, _, initial = args.partition(" ")
        mechanism = mechanism.upper()
        if mechanism not in MECHANISMS:
            self.send(f"{tag} NO [CANNOT] unsupported mechanism")
            return False
        if not initial:
            self.send("+ ")
            initial = self.receive() or ""
        if initial == "*":
            self.send(f"{tag} BAD AUTHENTICATE cancelled")
            return False
        if self.server.verify(mechanism, initial):
            self.send(f"{tag} OK AUTHENTICATE completed")
            return True
        # The failure is a challenge first; the client answers (an empty line or %x01), then gets NO.
        self.send(f"+ {error_challenge(mechanism)}")
        self.receive()
        self.send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
        return False


class _SmtpHandler(_Lines):
    def handle(self) -> None:
        self.send("220 rig.example.test ESMTP rig")
        authed = False
        sender = False
        while (line := self.receive()) is not None:
            command, _, args = line.partition(" ")
            command = command.upper()
            if command in ("EHLO", "HELO"):
                if command == "EHLO":
                    self.send("250-rig.example.test")
                    self.send("250-8BITMIME")
                    self.send(f"250 AUTH {' '.join(MECHANISMS)}")
                else:
                    self.send("250 rig.example.test")
            elif command == "AUTH" and not authed:
                authed = self._auth(args)
            elif command == "AUTH":
                self.send("503 5.5.1 already authenticated")
            elif command == "MAIL" and authed:
                sender = True
                self.send("250 2.1.0 OK")
            elif command in ("MAIL", "RCPT", "DATA") and not authed:
                self.send("530 5.7.0 authentication required")
            elif command == "RCPT" and sender:
                self.send("250 2.1.5 OK")
            elif command == "DATA" and sender:
                self.send("354 end with <CRLF>.<CRLF>")
                self.server.messages.append(self._data())
                sender = False
                self.send("250 2.0.0 queued")
            elif command in ("NOOP", "RSET"):
                sender = sender and command != "RSET"
                self.send("250 2.0.0 OK")
            elif command == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 command not recognised")

    def _data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline(65536)) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _auth(self, args: str) -> bool:
        mechanism, _, initial = args.partition(" ")
        mechanism = mechanism.upper()
        if mechanism not in MECHANISMS:
            self.send("504 5.5.4 unsupported mechanism")
            return False
        if not initial:
            self.send("334 ")
            initial = self.receive() or ""
        if initial == "*":
            self.send("501 5.7.0 authentication cancelled")
            return False
        if self.server.verify(mechanism, initial):
            self.send("235 2.7.0 accepted")
            return True
        self.send(f"334 {error_challenge(mechanism)}")
        self.receive()
        self.send("535 5.7.8 username and token not accepted")
        return False


class _Rig(ServedPiece["_MailServer"]):
    _handler: type[socketserver.StreamRequestHandler]

    def __init__(self, userinfo_endpoint: str, email: str, ca_file: str | None = None) -> None:
        """Accepts logins for `email` alone."""
        self.check = BearerCheck(userinfo_endpoint, ca_file)
        self.email = email

    def make_server(self) -> _MailServer:
        return _MailServer(self._handler, self.check, self.email)

    @property
    def port(self) -> int:
        assert self._server is not None, f"{type(self).__name__} is not started"
        return int(self._server.server_address[1])

    @property
    def logins(self) -> list[tuple[str, str, bool]]:
        """(mechanism, user, accepted) for every login attempt, in order."""
        assert self._server is not None
        with self._server.logins.lock:
            return list(self._server.logins.attempts)

    @property
    def messages(self) -> list[bytes]:
        assert self._server is not None
        return list(self._server.messages)


class ImapServer(_Rig):
    """IMAP4rev1 with AUTHENTICATE XOAUTH2 / OAUTHBEARER, then SELECT INBOX (empty), NOOP, LOGOUT."""

    _handler = _ImapHandler
    thread_name = "rig-imap"


class SmtpServer(_Rig):
    """ESMTP with AUTH XOAUTH2 / OAUTHBEARER (initial response or after `334 `), then MAIL/RCPT/DATA."""

    _handler = _SmtpHandler
    thread_name = "rig-smtp"


def xoauth2(user: str, token: str) -> str:
    """The XOAUTH2 client message, base64 (what `tokendesk token --format xoauth2` prints)."""
    return base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def oauthbearer(user: str, token: str) -> str:
    """The RFC 7628 OAUTHBEARER client message, base64."""
    return base64.b64encode(f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode()).decode()


# --- the client side, as a mail program does it with Python's own libraries -------------------------


def imap_sasl(raw_b64: str) -> Callable[[bytes], bytes]:
    """imaplib's authobject: the message on the first (empty) challenge, an empty answer to an error one."""

    def answer(challenge: bytes) -> bytes:
        return b"" if challenge else base64.b64decode(raw_b64)

    return answer


def imap_login(port: int, mechanism: str, raw_b64: str) -> str:
    """AUTHENTICATE with `raw_b64` (a base64 SASL message), open INBOX, log out; "OK", or imaplib's error."""
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    try:
        assert f"AUTH={mechanism}" in imap.capabilities
        typ, _ = imap.authenticate(mechanism, imap_sasl(raw_b64))
        assert typ == "OK"
        typ, data = imap.select("INBOX")
        assert (typ, data) == ("OK", [b"0"])
        return typ
    finally:
        imap.logout()


def smtp_login(port: int, mechanism: str, raw_b64: str, sender: str) -> tuple[int, bytes]:
    """AUTH with `raw_b64` (initial response), then send one message from `sender`; the AUTH answer."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("rig-client")
        assert mechanism in smtp.esmtp_features["auth"].split()
        answer = smtp.auth(mechanism, lambda challenge=None: "" if challenge else base64.b64decode(raw_b64).decode())
        smtp.sendmail(sender, ["bob@example.test"], b"Subject: rig\r\n\r\nhello\r\n")
        return answer
