"""The command line words an error's remedy from its facts (Input, Hint, account): flags and commands live here."""

from __future__ import annotations

import pytest

from desktop_app.cli import build_parser
from desktop_app.cli_words import FLAGS, in_words
from desktop_app.core.errors import (
    AgentError,
    Hint,
    Input,
    InvalidGrant,
    NeedsSignIn,
    TokendeskError,
    TransientError,
    UsageError,
)
from desktop_app.core.providers import preset


def test_every_input_has_a_connect_flag_the_parser_knows() -> None:
    connect = build_parser()._subparsers._group_actions[0].choices["connect"]  # type: ignore[union-attr]
    options = {o for action in connect._actions for o in action.option_strings}
    assert set(FLAGS) == set(Input)
    assert set(FLAGS.values()) <= options


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            NeedsSignIn("Work needs you to sign in again.", account="Work mail"),
            "Work needs you to sign in again. Reconnect it: tokendesk reconnect 'Work mail'",
        ),
        (
            UsageError("Slack requires a client secret.", input=Input.CLIENT_SECRET, hint=Hint.GIVE_INPUT),
            "Slack requires a client secret. Give it with --client-secret-stdin.",
        ),
        (
            UsageError("An account named 'W' already exists.", input=Input.NAME, hint=Hint.PICK_ANOTHER_NAME),
            "An account named 'W' already exists. Pick another with --name.",
        ),
        (
            TransientError(
                "Could not revoke; nothing was deleted.", account="W", hint=Hint.KEEP_GRANT_TO_FORGET_LOCALLY
            ),
            "Could not revoke; nothing was deleted. Retry later, or remove it here only: tokendesk disconnect W "
            "--keep-grant",
        ),
        (
            UsageError("No device flow here.", input=Input.DEVICE, hint=Hint.USE_BROWSER),
            "No device flow here. Sign in without --device.",
        ),
        (TokendeskError("Plain fact"), "Plain fact"),
    ],
)
def test_remedies_in_command_line_words(error: TokendeskError, words: str) -> None:
    assert in_words(error) == words


def test_a_preset_parameter_is_asked_for_by_its_flag() -> None:
    with pytest.raises(UsageError) as caught:
        preset("okta")
    assert in_words(caught.value).endswith("Give it with --domain.")
    assert "--" not in str(caught.value)


def test_the_account_the_command_named_fills_in() -> None:
    assert in_words(NeedsSignIn("Tokens are missing."), account="Home").endswith("tokendesk reconnect Home")
    assert in_words(NeedsSignIn("Tokens are missing.")).endswith("tokendesk reconnect NAME")


def test_invalid_grant_is_a_sign_in_matter_with_the_providers_words() -> None:
    exc = InvalidGrant("X no longer accepts this sign-in.", error="invalid_grant", description="revoked", status=400)
    assert isinstance(exc, NeedsSignIn) and exc.exit_code == 3 and exc.hint is Hint.RECONNECT
    assert (exc.error, exc.description, exc.status) == ("invalid_grant", "revoked", 400)


def test_agent_answers_keep_known_facts_and_drop_unknown_ones() -> None:
    exc = AgentError.from_answer(
        {"ok": False, "error": "W needs you to sign in again.", "exit_code": 3, "hint": "reconnect", "account": "W"}
    )
    assert (exc.exit_code, exc.hint, exc.account, exc.input) == (3, Hint.RECONNECT, "W", None)
    odd = AgentError.from_answer({"ok": False, "exit_code": True, "hint": "dance", "input": 7, "account": ""})
    assert (odd.exit_code, odd.hint, odd.input, odd.account, str(odd)) == (1, None, None, None, "the app refused")
