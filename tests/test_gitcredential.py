"""`tokendesk git-credential`: git's helper protocol, parsed and answered (git-credential(1))."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from desktop_app.core.errors import NeedsSignIn
from desktop_app.core.secrets import Secret
from desktop_app.gitcredential import helper as run_helper
from desktop_app.gitcredential import hostname, parse, wanted
from desktop_app.tokenpath import IssuedToken

TOKEN = IssuedToken(access_token=Secret("glpat-token-0001"), token_type="Bearer", expires_at=1_800_000_000.9)


@pytest.fixture(autouse=True)
def _no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main configures the process's logging (a stderr handler on the root logger): not inside pytest."""
    monkeypatch.setattr("desktop_app.cli.configure_logging", lambda *args, **kwargs: None)


class Fake:
    def __init__(self, issued: IssuedToken = TOKEN) -> None:
        self.issued = issued
        self.asked = 0
        self.rejected: list[Secret] = []

    def get_token(self) -> IssuedToken:
        self.asked += 1
        return self.issued

    def reject(self, password: Secret) -> bool:
        self.rejected.append(password)
        return True


def helper(action: str, text: str, fake: Fake, hosts: tuple[str, ...] = (), username: str | None = None) -> str:
    return run_helper(
        action,
        io.StringIO(text),
        hosts=hosts,
        username=username,
        get_token=fake.get_token,
        reject=fake.reject,
    )


def test_get_answers_username_password_and_expiry() -> None:
    fake = Fake()
    out = helper("get", "protocol=https\nhost=gitlab.example.com\n\n", fake)
    assert out == "username=oauth2\npassword=glpat-token-0001\npassword_expiry_utc=1800000000\n"
    out = helper("get", "protocol=https\nhost=gitlab.example.com\n", fake, username="me")
    assert out.startswith("username=me\npassword=glpat-token-0001\n")


def test_github_accounts_default_to_x_access_token_and_no_expiry_means_no_expiry_line() -> None:
    fake = Fake(
        IssuedToken(access_token=Secret("gho_0001abcd"), token_type="bearer", expires_at=None, provider="github")
    )
    out = helper("get", "protocol=https\nhost=github.com\n", fake)
    assert out == "username=x-access-token\npassword=gho_0001abcd\n"


def test_unknown_lines_and_everything_after_the_blank_line_are_ignored() -> None:
    text = (
        "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.org\npath=group/repo.git\n"
        'wwwauth[]=Bearer realm="x"\nno equals sign here\nfuture_key=whatever\n\nprotocol=ftp\n'
    )
    assert parse(io.StringIO(text))["protocol"] == "https"
    fake = Fake()
    assert helper("get", text, fake).startswith("username=oauth2\n")


@pytest.mark.parametrize(
    ("request_text", "hosts", "answered"),
    [
        ("protocol=https\nhost=a.example\n", (), True),
        ("protocol=http\nhost=a.example\n", (), False),  # never a token in clear text over the network
        ("protocol=http\nhost=127.0.0.1:8080\n", (), True),
        ("protocol=http\nhost=localhost\n", (), True),
        ("protocol=http\nhost=[::1]:3000\n", (), True),
        ("protocol=ssh\nhost=a.example\n", (), False),
        ("host=a.example\n", (), False),  # no protocol: not an HTTPS request we know of
        ("protocol=https\n", (), False),
        ("protocol=https\nhost=a.example\n", ("a.example",), True),
        ("protocol=https\nhost=A.Example:8443\n", ("a.example",), True),
        ("protocol=https\nhost=a.example:8443\n", ("a.example:8443",), True),
        ("protocol=https\nhost=a.example\n", ("a.example:8443",), False),
        ("protocol=https\nhost=b.example\n", ("a.example", "c.example"), False),
        ("protocol=https\nhost=a.example.evil\n", ("a.example",), False),
    ],
)
def test_hosts_and_protocols_it_answers_for(request_text: str, hosts: tuple[str, ...], answered: bool) -> None:
    fake = Fake()
    out = helper("get", request_text, fake, hosts)
    assert (out != "") is answered
    assert fake.asked == (1 if answered else 0)  # nothing is even fetched for a request it does not answer


def test_hostname_strips_the_port() -> None:
    assert [hostname(h) for h in ("a.example:1", "[::1]:2", "::1", "A.example")] == [
        "a.example",
        "::1",
        "::1",
        "a.example",
    ]
    assert wanted({"protocol": "HTTPS", "host": "x"})


def test_store_does_nothing_and_unknown_actions_are_ignored() -> None:
    fake = Fake()
    text = "protocol=https\nhost=a.example\nusername=oauth2\npassword=glpat-token-0001\n"
    assert helper("store", text, fake) == ""
    assert helper("frobnicate", text, fake) == ""
    assert fake.asked == 0 and fake.rejected == []


def test_erase_marks_the_rejected_password_and_prints_nothing() -> None:
    fake = Fake()
    text = "protocol=https\nhost=a.example\nusername=oauth2\npassword=glpat-token-0001\npassword_expiry_utc=1\n"
    assert helper("erase", text, fake) == ""
    assert fake.rejected == [Secret("glpat-token-0001")] and fake.asked == 0
    # Not for our host, or no password: nothing is marked.
    assert helper("erase", text, fake, ("b.example",)) == ""
    assert helper("erase", "protocol=https\nhost=a.example\n", fake) == ""
    assert len(fake.rejected) == 1


def test_a_failure_is_on_stderr_with_nothing_on_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app import cli, tokenpath

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "r"))

    def dead(*args: object) -> IssuedToken:
        raise NeedsSignIn("work needs you to sign in again.")

    monkeypatch.setattr(tokenpath, "get_token", dead)
    monkeypatch.setattr("sys.stdin", io.StringIO("protocol=https\nhost=a.example\n\n"))
    assert cli.main(["git-credential", "--account", "work", "get"]) == 3
    out, err = capsys.readouterr()
    # The remedy is worded with the account the command named (the error itself did not name one).
    assert out == "" and err == "tokendesk: work needs you to sign in again. Reconnect it: tokendesk reconnect work\n"
    # A host it was not configured for: no token is even asked for, and git gets an empty answer.
    monkeypatch.setattr("sys.stdin", io.StringIO("protocol=https\nhost=a.example\n\n"))
    assert cli.main(["git-credential", "--account", "work", "--host", "b.example", "get"]) == 0
    assert capsys.readouterr() == ("", "")


def test_bad_options_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app import cli

    for var, sub in (("XDG_CONFIG_HOME", "c"), ("XDG_STATE_HOME", "s"), ("XDG_RUNTIME_DIR", "r")):
        monkeypatch.setenv(var, str(tmp_path / sub))

    with pytest.raises(SystemExit) as usage:
        cli.main(["git-credential", "--account", "w", "--username", "a\nb", "get"])
    assert usage.value.code == 2
    assert cli.main(["git-credential", "--account", "w", "--host", "https://a.example", "get"]) == 2
    assert "--host takes a host name" in capsys.readouterr().err
