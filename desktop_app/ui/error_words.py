"""The desktop app's words for an error's remedy: the core's errors name a hint, the app names its own buttons
(the command line's words are in desktop_app/cli_words.py)."""

from __future__ import annotations

from desktop_app.core.errors import Hint, TokendeskError

_REMEDIES: dict[Hint, str] = {
    Hint.RECONNECT: "Choose Reconnect to sign in again.",
    Hint.PICK_ANOTHER_NAME: "Choose another display name.",
    Hint.RETRY_LATER: "Try again later.",
    # Disconnect offers "Forget on this computer" itself when this comes (window.disconnect_current).
    Hint.KEEP_GRANT_TO_FORGET_LOCALLY: "Try again when the provider can be reached, or forget the account on this "
    "computer only.",
    Hint.USE_BROWSER: "Clear “Sign in on another device” to sign in with the browser.",
}


def remedy(exc: TokendeskError) -> str | None:
    """What to do next in the app, or None (GIVE_INPUT and CHANGE_INPUT: the dialog marks the field instead)."""
    return None if exc.hint is None else _REMEDIES.get(exc.hint)


def in_words(exc: BaseException) -> str:
    """The error's sentence followed by the remedy in the app's words."""
    text = str(exc).rstrip()
    more = remedy(exc) if isinstance(exc, TokendeskError) else None
    if not more:
        return text
    return f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} {more}"
