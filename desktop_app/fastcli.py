"""The `tokendesk` entry point: `token` asks the running app with os, socket and json alone, else the full CLI."""

# Every import here is paid by every `tokendesk token` a script makes: only the standard library's smallest
# pieces, and desktop_app.cli (asyncio, logging, argparse, the core) only when the app did not answer.
import math
import os
import sys

from . import formats
from .core import agentwire
from .core.defaults import MIN_VALID_S  # constants only: no imports of its own
from .formats import FORMATS

_EXIT_USAGE = 2  # UsageError.exit_code
_EXIT_TRANSIENT = 4  # TransientError.exit_code, without importing the errors module


def _option_value(rest: list[str], i: int, option: str) -> tuple[str, int] | None:
    """The value of `--option VALUE` or `--option=VALUE` at rest[i] and the index after it, else None."""
    arg = rest[i]
    if arg == option:
        return None if i + 1 == len(rest) else (rest[i + 1], i + 2)
    if arg.startswith(option + "="):
        return arg.partition("=")[2], i + 1
    return None


def _simple_token_args(argv: list[str]) -> tuple[str, float, str, str | None] | None:
    """(name, min_valid_s, format, user) for a plain `token NAME [--min-valid S] [--header | --format F]
    [--user U]`, else None (argparse's abbreviations, help, odd values and errors are the full CLI's to handle,
    with its messages)."""
    if len(argv) < 2 or argv[0] != "token":
        return None
    name: str | None = None
    min_valid_s = MIN_VALID_S
    fmt: str | None = None
    header = False
    user: str | None = None
    rest = argv[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--header":
            header, i = True, i + 1
        elif arg.startswith("--"):
            option = arg.partition("=")[0]
            got = _option_value(rest, i, option) if option in ("--min-valid", "--format", "--user") else None
            if got is None:
                return None
            text, i = got
            if option == "--format":
                if text not in FORMATS or fmt is not None:
                    return None
                fmt = text
            elif option == "--user":
                user = text
            else:
                try:
                    min_valid_s = float(text)
                except ValueError:
                    return None
                if not math.isfinite(min_valid_s) or min_valid_s < 0:
                    return None
        elif arg.startswith("-") or name is not None:
            return None
        else:
            name, i = arg, i + 1
    if name is None or (header and fmt not in (None, "header")):
        return None
    return name, min_valid_s, "header" if header else fmt or "token", user


def _from_app(argv: list[str]) -> int | None:
    """The exit code after the running app answered, or None when no app did."""
    simple = _simple_token_args(argv)
    path = agentwire.default_socket_path() if simple is not None else None
    if simple is None or path is None or not os.path.exists(path):
        return None
    name, min_valid_s, fmt, user = simple
    try:
        answer = agentwire.ask(path, name, min_valid_s)
    except TimeoutError:
        print("tokendesk: The running Tokendesk app did not answer in time.", file=sys.stderr)
        return _EXIT_TRANSIENT
    if answer is None:
        return None
    if not answer.get("ok"):
        # Only a failure pays for these (the errors module imports nothing of the package).
        from .cli_words import in_words
        from .core.errors import AgentError

        error = AgentError.from_answer(answer)
        print(f"tokendesk: {in_words(error, account=name)}", file=sys.stderr)
        return error.exit_code
    expires_at = answer.get("expires_at")
    scopes = answer.get("scopes")
    email = answer.get("email")
    try:
        text = formats.render(
            fmt,
            str(answer.get("access_token")),
            token_type=str(answer.get("token_type", "Bearer")),
            expires_at=expires_at if isinstance(expires_at, int | float) and not isinstance(expires_at, bool) else None,
            scopes=[s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else [],
            user=user or (email if isinstance(email, str) else None),
        )
    except formats.FormatError as exc:
        print(f"tokendesk: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args == ["--hidden"]:
        # The desktop app: straight to it, without the command line's imports (argparse, asyncio, the
        # exporters), which would only delay its first paint.
        import importlib

        return int(importlib.import_module("desktop_app.ui.app").main(args))
    code = _from_app(args)
    if code is not None:
        return code
    from .cli import main as full_main

    return full_main(args)


if __name__ == "__main__":
    sys.exit(main())
