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
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__
from .cli_words import in_words
from .core.accounts import AccountRecord, effective_state
from .core.defaults import DEVICE_WAIT_MAX_S, MIN_VALID_S, SIGN_IN_TIMEOUT_S
from .core.errors import TokendeskError, UsageError
from .core.logsetup import configure_logging
from .core.paths import AppPaths
from .core.providers import PRESETS, ClientAuth, PresetParam, preset_parameters
from .exporting import DEFAULT_ENV, env_name
from .formats import FORMATS
from .gitcredential import check_username
from .tokenpath import TOOL_MIN_VALID_S, IssuedToken

if TYPE_CHECKING:
    from .core.service import Service  # the type only: the module (httpx) loads when a command needs it

log = logging.getLogger("tokendesk.cli")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
TIMEOUT_HELP = (
    f"how long to wait for the sign-in (default {SIGN_IN_TIMEOUT_S:g} for the browser; with --device, as long as "
    f"the code lives, at most {DEVICE_WAIT_MAX_S:g})"
)
T = TypeVar("T")


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
        "--redirect-port",
        type=_redirect_port,
        metavar="PORT",
        help="the loopback port the registration names, for servers that match redirect URIs exactly "
        "(1024-65535; default: any free port)",
    )
    c.add_argument(
        "--redirect-path",
        metavar="/PATH",
        help="the redirect URI path the registration names (default: /callback)",
    )
    c.add_argument(
        "--client-auth",
        choices=[m.value for m in ClientAuth],
        help="how to authenticate at the token endpoint (default: from discovery or the preset)",
    )
    for name, uses in preset_parameters().items():
        c.add_argument(f"--{name}", metavar=name.upper(), help=_param_help(uses))
    c.add_argument("--timeout", type=_seconds, metavar="SECONDS", help=TIMEOUT_HELP)
    _sign_in_choice(c)

    r = sub.add_parser("reconnect", help="sign in again to an existing account")
    r.add_argument("name")
    r.add_argument("--timeout", type=_seconds, metavar="SECONDS", help=TIMEOUT_HELP)
    _sign_in_choice(r)

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
    t.add_argument("--header", action="store_true", help="print an Authorization header line (--format header)")
    t.add_argument(
        "--format",
        choices=FORMATS,
        help="token (default), header, json, or a SASL string for IMAP/SMTP: xoauth2, oauthbearer (base64)",
    )
    t.add_argument("--user", metavar="EMAIL", help="the user in xoauth2/oauthbearer (default: the account's email)")

    e = sub.add_parser(
        "exec",
        help="run a command with a fresh token in its environment (never in its arguments)",
        usage="tokendesk exec NAME [--env VAR] [--header-env VAR] [--min-valid S] -- COMMAND [ARGS...]",
        epilog="The command's exit status is passed through (killed by signal N: 128+N); SIGTERM, SIGINT and "
        "SIGHUP are forwarded to it. Command not found: 127; not executable: 126.",
    )
    e.add_argument("name")
    e.add_argument("--env", type=env_name, default=DEFAULT_ENV, metavar="VAR", help="default ACCESS_TOKEN")
    e.add_argument("--header-env", type=env_name, metavar="VAR", help="also set VAR to 'Bearer TOKEN'")
    e.add_argument("--min-valid", type=_seconds, default=TOOL_MIN_VALID_S, metavar="SECONDS", help="default 300")

    g = sub.add_parser(
        "git-credential",
        help="git credential helper: git config credential.https://HOST.helper '!tokendesk git-credential "
        "--account NAME'",
    )
    g.add_argument("--account", required=True, metavar="NAME")
    g.add_argument("--username", type=check_username, metavar="USER", help="default oauth2 (x-access-token: GitHub)")
    g.add_argument("--host", action="append", default=[], metavar="HOST", help="answer only for this host (repeatable)")
    g.add_argument("--min-valid", type=_seconds, default=TOOL_MIN_VALID_S, metavar="SECONDS", help=argparse.SUPPRESS)
    g.add_argument("action", metavar="get|store|erase")

    f = sub.add_parser("refresh", help="refresh an account's tokens now")
    f.add_argument("name")

    d = sub.add_parser("disconnect", help="revoke the grant at the provider and forget the account")
    d.add_argument("name")
    d.add_argument("--keep-grant", action="store_true", help="forget locally without revoking at the provider")
    return parser


def _sign_in_choice(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--no-browser", action="store_true", help="print the sign-in link instead of opening a browser")
    how.add_argument(
        "--device",
        action="store_true",
        help="sign in on another device with a code (RFC 8628); chosen by itself when no browser can open here",
    )


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds (float() alone takes nan, inf and negatives)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds >= 0")
    return value


def _redirect_port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1024 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is outside 1024-65535 (ports below 1024 can only be opened by root)")
    return value


async def _no_browser(url: str) -> bool:
    return False


def _param_help(uses: list[tuple[str, PresetParam]]) -> str:
    """`--domain`'s help: what it is (one preset's own words, or the kind when several take it), and for which."""
    helps = {p.help for _, p in uses}
    what = helps.pop() if len(helps) == 1 else uses[0][1].kind.description
    which = ", ".join(key + (f" (default {p.default})" if p.default else "") for key, p in uses)
    return f"{what}; for --provider {which}".replace("%", "%%")


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
    params = {k: v for k in preset_parameters() if (v := getattr(args, k))}
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
        redirect_port=args.redirect_port,
        redirect_path=args.redirect_path,
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
    return await _serve(args, paths, lambda service: _command(args, service))


async def _serve(args: argparse.Namespace, paths: AppPaths, work: Callable[[Service], Awaitable[T]]) -> T:
    """`work(service)` on a Service of its own, ended cleanly by SIGTERM/SIGINT/SIGHUP (raises Stopped)."""
    from .core.device import browser_available
    from .core.flow import system_browser
    from .core.oauth import new_http_client
    from .core.service import Service
    from .core.vault import Vault

    opener = _no_browser if getattr(args, "no_browser", False) else system_browser
    timeout = getattr(args, "timeout", None)  # None: the browser's default, or the device code's lifetime
    service = Service(
        paths=paths,
        vault=Vault(),
        http=new_http_client(),
        opener=opener,
        flow_timeout_s=timeout,
        browser_check=browser_available,
    )
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
        return await work(service)
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


async def _command(args: argparse.Namespace, service: Service) -> int:
    if args.command in ("connect", "reconnect"):
        from .device_prompt import say_code, say_notice

        # --device: the device flow; --no-browser: the link; neither: the browser, or the device flow
        # when no browser can open and the provider offers one.
        how: dict[str, Any] = {
            "on_url": _say_url,
            "device": True if args.device else (False if args.no_browser else None),
            "on_code": say_code,
            "on_notice": say_notice,
        }
    if args.command == "connect":
        record = await service.connect(_connect_request(args), **how)
        print(f"Connected {record.name} ({record.identity.label()}).")
    elif args.command == "reconnect":
        record = await service.reconnect(args.name, **how)
        print(f"Reconnected {record.name} ({record.identity.label()}).")
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


def _tools(args: argparse.Namespace, paths: AppPaths) -> int:
    """`token`, `exec` and `git-credential`: all get their token the same way (tokenpath.get_token)."""
    from . import exporting, gitcredential, tokenpath
    from .core.agent import request_reject
    from .core.secrets import Secret

    def engine(name: str, min_valid_s: float) -> IssuedToken:
        async def work(service: Service) -> IssuedToken:
            record = service.find(name)
            return IssuedToken.of(record, await service.token(record.id, min_valid_s=min_valid_s))

        return asyncio.run(_serve(args, paths, work))

    def get(name: str) -> IssuedToken:
        return tokenpath.get_token(paths, name, args.min_valid, engine)

    if args.command == "token":
        if args.header and args.format not in (None, "header"):
            raise UsageError("--header is --format header; give one of them.")
        print(exporting.formatted(get(args.name), "header" if args.header else args.format or "token", args.user))
        return EXIT_OK
    if args.command == "exec":
        if not args.exec_command:
            raise UsageError("Give the command to run after --, e.g. tokendesk exec NAME -- curl ...")
        return exporting.run_exec(args.exec_command, exporting.child_env(get(args.name), args.env, args.header_env))

    def reject(password: Secret) -> bool:
        marked = request_reject(paths.agent_socket, args.account, password)  # the app owns the tokens: it first
        if marked is not None:
            return marked

        async def work(service: Service) -> bool:
            return bool(await service.reject(args.account, password))

        return asyncio.run(_serve(args, paths, work))

    hosts = gitcredential.require_hosts(args.host)
    out = gitcredential.helper(
        args.action, sys.stdin, hosts=hosts, username=args.username, get_token=lambda: get(args.account), reject=reject
    )
    sys.stdout.write(out)
    return EXIT_OK


def _account_arg(args: argparse.Namespace) -> str | None:
    """The existing account a command names (connect's --name is a new one), for wording an error's remedy."""
    if args.command == "connect":
        return None
    return getattr(args, "account", None) or getattr(args, "name", None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv == ["--hidden"]:
        # No command: the desktop app (--hidden: straight to the tray, as autostart does). Imported by name
        # so this module never pulls in Qt itself.
        app = importlib.import_module("desktop_app.ui.app")
        return int(app.main(argv))
    exec_command: list[str] = []
    if argv[0] == "exec" and "--" in argv:
        # Everything after the first -- is the command, options included: argparse would take them as ours.
        split = argv.index("--")
        argv, exec_command = argv[:split], argv[split + 1 :]
    args = build_parser().parse_args(argv)
    args.exec_command = exec_command
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    paths = AppPaths.default()
    configure_logging(paths.log_file)
    try:
        if args.command == "list":
            return _list(args, paths)
        if args.command in ("token", "exec", "git-credential"):
            return _tools(args, paths)
        return asyncio.run(_run(args, paths))
    except TokendeskError as exc:
        print(f"tokendesk: {in_words(exc, account=_account_arg(args))}", file=sys.stderr)
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
