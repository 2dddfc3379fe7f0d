"""The `tokendesk` entry point: `token` asks the running app with os, socket and json alone, else the full CLI."""

# Every import here is paid by every `tokendesk token` a script makes: only the standard library's smallest
# pieces, and desktop_app.cli (asyncio, logging, argparse, the core) only when the app did not answer.
import math
import os
import sys

from .core import agentwire
from .core.defaults import MIN_VALID_S  # constants only: no imports of its own

_EXIT_TRANSIENT = 4  # TransientError.exit_code, without importing the errors module


def _simple_token_args(argv: list[str]) -> tuple[str, float, bool] | None:
    """(name, min_valid_s, header) for a plain `token NAME [--min-valid S] [--header]`, else None (argparse's
    abbreviations, help, odd values and errors are the full CLI's to handle, with its messages)."""
    if len(argv) < 2 or argv[0] != "token":
        return None
    name: str | None = None
    min_valid_s = MIN_VALID_S
    header = False
    rest = argv[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--header":
            header = True
        elif arg == "--min-valid" or arg.startswith("--min-valid="):
            if arg == "--min-valid":
                i += 1
                if i == len(rest):
                    return None
                text = rest[i]
            else:
                text = arg.partition("=")[2]
            try:
                min_valid_s = float(text)
            except ValueError:
                return None
            if not math.isfinite(min_valid_s) or min_valid_s < 0:
                return None
        elif arg.startswith("-") or name is not None:
            return None
        else:
            name = arg
        i += 1
    return None if name is None else (name, min_valid_s, header)


def _from_app(argv: list[str]) -> int | None:
    """The exit code after the running app answered, or None when no app did."""
    simple = _simple_token_args(argv)
    path = agentwire.default_socket_path() if simple is not None else None
    if simple is None or path is None or not os.path.exists(path):
        return None
    name, min_valid_s, header = simple
    try:
        answer = agentwire.ask(path, name, min_valid_s)
    except TimeoutError:
        print("tokendesk: The running Tokendesk app did not answer in time.", file=sys.stderr)
        return _EXIT_TRANSIENT
    if answer is None:
        return None
    if not answer.get("ok"):
        exit_code = answer.get("exit_code", 1)
        print(f"tokendesk: {answer.get('error', 'the app refused')}", file=sys.stderr)
        return exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else 1
    token = str(answer.get("access_token"))
    print(f"Authorization: Bearer {token}" if header else token)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    code = _from_app(args)
    if code is not None:
        return code
    from .cli import main as full_main

    return full_main(args)


if __name__ == "__main__":
    sys.exit(main())
