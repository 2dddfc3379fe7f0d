"""The `tokendesk` command line: drives the core directly and never imports Qt (it must start fast)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import json
import logging
import math
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import __version__
from .core.accounts import AccountRecord, effective_state
from .core.defaults import MIN_VALID_S, SIGN_IN_TIMEOUT_S
from .core.errors import TokendeskError, UsageError
from .core.logsetup import configure_logging
from .core.paths import AppPaths
from .core.providers import PRESETS, ClientAuth

log = logging.getLogger("tokendesk.cli")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def account_json(record: AccountRecord) -> dict[str, Any]:
    """The `list --json` shape (documented in the README; keep it stable)."""
    return {
        "name": record.name,
        "id": record.id,
        "provider": record.provider.key,
        "provider_name": record.provider.display_name,
        "issuer": record.provider.issuer,
        "identity": {
            "subject": record.identity.subject,
            "email": record.identity.email,
            "name": record.identity.name,
            "username": record.identity.username,
        },
        "state": effective_state(record, time.time()).value,
        "scopes": list(record.scopes),
        "expires_at": _iso(record.expires_at),
        "refresh_expires_at": _iso(record.refresh_expires_at),
        "last_refresh_at": _iso(record.last_refresh_at),
        "retry_at": _iso(record.retry_at),
        "last_error": record.last_error,
        "advice": record.advice,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokendesk",
        description="Keep OAuth 2.0 / OpenID Connect accounts signed in; secrets stay in the OS keychain. "
        "Without a command, starts the desktop app.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 needs sign-in, 4 provider unreachable or transient "
        "failure, 5 keychain unavailable or locked.",
    )
    parser.add_argument("--version", action="version", version=f"tokendesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("connect", help="connect an account in the system browser")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--issuer", metavar="URL", help="OpenID Connect / OAuth issuer URL (metadata is discovered)")
    src.add_argument("--provider", metavar="PRESET", choices=sorted(PRESETS), help="a preset: %(choices)s")
    src.add_argument("--authorization-endpoint", metavar="URL", help="manual endpoints (with --token-endpoint)")
    c.add_argument("--token-endpoint", metavar="URL")
    c.add_argument("--revocation-endpoint", metavar="URL")
    c.add_argument("--client-id", required=True, metavar="ID")
    c.add_argument("--client-secret-stdin", action="store_true", help="read the client secret from standard input")
    c.add_argument("--scope", action="append", default=[], metavar="S", help="scope to request (repeatable)")
    c.add_argument("--name", help="display name for the account")
    c.add_argument(
        "--redirect-host",
        choices=["127.0.0.1", "localhost"],
        help="loopback host the client registration expects (default: the provider's)",
    )
    c.add_argument(
        "--client-auth",
        choices=[m.value for m in ClientAuth],
        help="how to authenticate at the token endpoint (default: from discovery or the preset)",
    )
    for param in ("tenant", "domain", "realm", "server"):
        c.add_argument(f"--{param}", help=f"preset parameter: {param}")
    c.add_argument(
        "--timeout",
        type=float,
        default=SIGN_IN_TIMEOUT_S,
        metavar="SECONDS",
        help="how long to wait for the browser",
    )
    c.add_argument("--no-browser", action="store_true", help="print the sign-in link instead of opening a browser")

    r = sub.add_parser("reconnect", help="sign in again to an existing account")
    r.add_argument("name")
    r.add_argument("--timeout", type=float, default=SIGN_IN_TIMEOUT_S, metavar="SECONDS")
    r.add_argument("--no-browser", action="store_true")

    ls = sub.add_parser("list", help="list accounts (never secrets)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    t = sub.add_parser("token", help="print a valid access token, refreshing first if needed")
    t.add_argument("name")
    t.add_argument(
        "--min-valid",
        type=_seconds,
        default=MIN_VALID_S,
        metavar="SECONDS",
        help=f"refresh unless the token stays valid this long (default {MIN_VALID_S:g})",
    )
    t.add_argument("--header", action="store_true", help="print an Authorization header line")

    f = sub.add_parser("refresh", help="refresh an account's tokens now")
    f.add_argument("name")

    d = sub.add_parser("disconnect", help="revoke the grant at the provider and forget the account")
    d.add_argument("name")
    d.add_argument("--keep-grant", action="store_true", help="forget locally without revoking at the provider")
    return parser


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds (float() alone takes nan, inf and negatives)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds >= 0")
    return value


async def _no_browser(url: str) -> bool:
    return False


def _connect_request(args: argparse.Namespace) -> Any:
    from .core.secrets import Secret
    from .core.service import ConnectRequest

    secret = None
    if args.client_secret_stdin:
        line = sys.stdin.readline().strip()
        if not line:
            raise UsageError("--client-secret-stdin was given but standard input had no secret.")
        secret = Secret(line)
    scopes = tuple(s for chunk in args.scope for s in chunk.split())
    params = {k: v for k in ("tenant", "domain", "realm", "server") if (v := getattr(args, k))}
    if params and not args.provider:
        raise UsageError(f"--{next(iter(params))} only goes with --provider.")
    return ConnectRequest(
        client_id=args.client_id,
        client_secret=secret,
        preset=args.provider,
        preset_params=params,
        issuer=args.issuer,
        authorization_endpoint=args.authorization_endpoint,
        token_endpoint=args.token_endpoint,
        revocation_endpoint=args.revocation_endpoint,
        scopes=scopes,
        name=args.name,
        redirect_host=args.redirect_host,
        client_auth=ClientAuth(args.client_auth) if args.client_auth else None,
    )


def _say_url(url: str) -> None:
    print(f"Sign in with your browser. If it did not open, visit:\n  {url}", file=sys.stderr, flush=True)


class Stopped(Exception):
    """A signal ended the command (after any refresh that was sent reached the keychain)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def _run(args: argparse.Namespace, paths: AppPaths) -> int:
    from .core.flow import system_browser
    from .core.oauth import new_http_client
    from .core.service import Service
    from .core.vault import Vault

    opener = _no_browser if getattr(args, "no_browser", False) else system_browser
    timeout = getattr(args, "timeout", SIGN_IN_TIMEOUT_S)
    service = Service(paths=paths, vault=Vault(), http=new_http_client(), opener=opener, flow_timeout_s=timeout)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    received: list[int] = []

    def stop(signum: int) -> None:
        # Send nothing new, and end the command; aclose() below lets a refresh that was already sent reach
        # the keychain (bounded) before the process exits. A second signal changes nothing.
        if not received:
            received.append(signum)
            service.stop_sending()
            main.cancel()

    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await _command(args, service)
    except asyncio.CancelledError:
        if not received:
            raise
        raise Stopped(received[0]) from None
    finally:
        try:
            await service.aclose()
        finally:
            for signum in _STOP_SIGNALS:
                loop.remove_signal_handler(signum)


async def _command(args: argparse.Namespace, service: Any) -> int:
    if args.command == "connect":
        record = await service.connect(_connect_request(args), on_url=_say_url)
        print(f"Connected {record.name} ({record.identity.label()}).")
    elif args.command == "reconnect":
        record = await service.reconnect(args.name, on_url=_say_url)
        print(f"Reconnected {record.name} ({record.identity.label()}).")
    elif args.command == "token":
        tokens = await service.token(args.name, min_valid_s=args.min_valid)
        print(f"Authorization: {tokens.authorization_header()}" if args.header else tokens.access_token.reveal())
    elif args.command == "refresh":
        tokens = await service.refresh(args.name)
        until = _iso(tokens.expires_at) or "no expiry"
        print(f"Refreshed {service.find(args.name).name}; the access token is valid until {until}.")
    elif args.command == "disconnect":
        name = service.find(args.name).name
        result = await service.disconnect(args.name, keep_grant=args.keep_grant)
        print(f"Disconnected {name}" + ("; the grant was revoked at the provider." if result.revoked else "."))
        if result.note:
            print(result.note, file=sys.stderr)
    return EXIT_OK


def _list(args: argparse.Namespace, paths: AppPaths) -> int:
    from .core.accounts import AccountStore

    records = AccountStore(paths.accounts_file).all()
    if args.json:
        print(json.dumps([account_json(r) for r in records], indent=2))
        return EXIT_OK
    if not records:
        print(
            "No accounts yet. Connect one with: tokendesk connect --provider PRESET --client-id ID",
            file=sys.stderr,
        )
        return EXIT_OK
    now = time.time()
    rows = [("NAME", "PROVIDER", "IDENTITY", "STATE", "EXPIRES")] + [
        (r.name, r.provider.display_name, r.identity.label(), effective_state(r, now).value, _iso(r.expires_at) or "-")
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _token_from_app(args: argparse.Namespace, paths: AppPaths) -> bool:
    """While the app runs it owns the tokens: ask it first, which is also fast (no HTTP or keychain import)."""
    from .core.agent import request_token

    got = request_token(paths.agent_socket, args.name, args.min_valid)
    if got is None:
        return False
    print(f"Authorization: Bearer {got.access_token}" if args.header else got.access_token)
    return True


def _token_from_keychain(args: argparse.Namespace, paths: AppPaths) -> bool:
    """No app: a token valid long enough comes straight from the keychain, without the engine, httpx or a TLS
    context (they cost more than the rest of the command). Anything else (a refresh, a backoff to honour, an
    account needing sign-in, a missing item) is the engine's, with its locks, messages and signal handling."""
    from .core.accounts import AccountState, AccountStore
    from .core.tokens import attainable_s
    from .core.vault import Vault

    record = AccountStore(paths.accounts_file).find(args.name)
    if record.state is AccountState.NEEDS_SIGN_IN:
        return False

    async def load() -> Any:
        vault = Vault()
        try:
            return await vault.load(record.id)
        finally:
            vault.close()

    entry = asyncio.run(load())
    tokens = None if entry is None else entry.tokens
    if tokens is None or tokens.issued_at != record.issued_at:
        return False  # missing, or newer than the metadata says: the engine adopts it and explains
    if tokens.valid_for(time.time()) < attainable_s(args.min_valid, tokens):
        return False
    print(f"Authorization: {tokens.authorization_header()}" if args.header else tokens.access_token.reveal())
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv == ["--hidden"]:
        # No command: the desktop app (--hidden: straight to the tray, as autostart does). Imported by name
        # so this module never pulls in Qt itself.
        app = importlib.import_module("desktop_app.ui.app")
        return int(app.main(argv))
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    paths = AppPaths.default()
    configure_logging(paths.log_file)
    try:
        if args.command == "list":
            return _list(args, paths)
        if args.command == "token" and (_token_from_app(args, paths) or _token_from_keychain(args, paths)):
            return EXIT_OK
        return asyncio.run(_run(args, paths))
    except TokendeskError as exc:
        print(f"tokendesk: {exc}", file=sys.stderr)
        return exc.exit_code
    except Stopped as exc:
        print(f"tokendesk: stopped by {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("tokendesk: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        log.exception("unexpected failure")
        print(f"tokendesk: unexpected {type(exc).__name__}; details are in {paths.log_file}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
