"""The command line's words for an error's remedy: the core's errors name inputs and hints, this names flags."""

from __future__ import annotations

import shlex

from .core.errors import Hint, Input, TokendeskError

# `tokendesk connect`'s option for each input.
FLAGS: dict[Input, str] = {
    Input.PROVIDER: "--provider",
    Input.ISSUER: "--issuer",
    Input.AUTHORIZATION_ENDPOINT: "--authorization-endpoint",
    Input.TOKEN_ENDPOINT: "--token-endpoint",
    Input.REVOCATION_ENDPOINT: "--revocation-endpoint",
    Input.CLIENT_ID: "--client-id",
    Input.CLIENT_SECRET: "--client-secret-stdin",
    Input.CLIENT_AUTH: "--client-auth",
    Input.SCOPES: "--scope",
    Input.NAME: "--name",
    Input.REDIRECT_HOST: "--redirect-host",
    Input.REDIRECT_PORT: "--redirect-port",
    Input.REDIRECT_PATH: "--redirect-path",
    Input.DEVICE: "--device",
    Input.TENANT: "--tenant",
    Input.DOMAIN: "--domain",
    Input.REALM: "--realm",
    Input.SERVER: "--server",
}


def remedy(exc: TokendeskError, *, account: str | None = None) -> str | None:
    """What to type next, or None. `account`: the name the user gave, for errors that do not name one."""
    name = exc.account or account
    flag = FLAGS.get(exc.input) if exc.input is not None else None
    match exc.hint:
        case Hint.RECONNECT:
            return f"Reconnect it: tokendesk reconnect {shlex.quote(name) if name else 'NAME'}"
        case Hint.GIVE_INPUT if flag is not None:
            return f"Give it with {flag}."
        case Hint.CHANGE_INPUT if flag is not None:
            return f"Change {flag}."
        case Hint.PICK_ANOTHER_NAME:
            return "Pick another with --name."
        case Hint.RETRY_LATER:
            return "Try again later."
        case Hint.KEEP_GRANT_TO_FORGET_LOCALLY:
            target = shlex.quote(name) if name else "NAME"
            return f"Retry later, or remove it here only: tokendesk disconnect {target} --keep-grant"
        case Hint.USE_BROWSER:
            return "Sign in without --device."
    return None


def in_words(exc: TokendeskError, *, account: str | None = None) -> str:
    """The error's sentence followed by the remedy in command-line words."""
    text = str(exc)
    more = remedy(exc, account=account)
    if not more:
        return text
    return f"{text.rstrip()}{'' if text.rstrip().endswith(('.', '!', '?')) else '.'} {more}"
