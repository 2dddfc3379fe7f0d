"""`tokendesk token --format`: each format decoded and compared byte for byte."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from desktop_app.core.errors import UsageError
from desktop_app.core.secrets import Secret
from desktop_app.exporting import formatted
from desktop_app.formats import FormatError, iso_utc, oauthbearer, render, xoauth2
from desktop_app.tokenpath import IssuedToken

ISSUED = IssuedToken(
    access_token=Secret("ya29.token-0001"),
    token_type="Bearer",
    expires_at=1_800_000_000.75,
    scopes=("openid", "https://mail.google.com/"),
    email="me@example.com",
)


@pytest.fixture(autouse=True)
def _no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main configures the process's logging (a stderr handler on the root logger): not inside pytest."""
    monkeypatch.setattr("desktop_app.cli.configure_logging", lambda *args, **kwargs: None)


def test_xoauth2_is_the_documented_string() -> None:
    raw = base64.b64decode(formatted(ISSUED, "xoauth2"), validate=True)
    assert raw == b"user=me@example.com\x01auth=Bearer ya29.token-0001\x01\x01"


def test_oauthbearer_is_rfc_7628_with_a_gs2_escaped_authzid() -> None:
    raw = base64.b64decode(formatted(ISSUED, "oauthbearer"), validate=True)
    assert raw == b"n,a=me@example.com,\x01auth=Bearer ya29.token-0001\x01\x01"
    # RFC 5801 saslname: "=" -> "=3D" and "," -> "=2C", the "=" first so no escape is escaped twice.
    raw = base64.b64decode(oauthbearer("a,b=c@x.org", "T0K"), validate=True)
    assert raw == b"n,a=a=2Cb=3Dc@x.org,\x01auth=Bearer T0K\x01\x01"
    assert base64.b64decode(xoauth2("a,b=c@x.org", "T0K")) == b"user=a,b=c@x.org\x01auth=Bearer T0K\x01\x01"


def test_user_overrides_the_accounts_email() -> None:
    raw = base64.b64decode(formatted(ISSUED, "xoauth2", "other@example.org"))
    assert raw.startswith(b"user=other@example.org\x01")


def test_without_any_user_the_sasl_formats_say_what_to_do() -> None:
    nobody = IssuedToken(access_token=Secret("tok-000001"), token_type="Bearer", expires_at=None)
    for fmt in ("xoauth2", "oauthbearer"):
        with pytest.raises(UsageError, match=r"no email address.*--user EMAIL") as caught:
            formatted(nobody, fmt)
        assert "tok-000001" not in str(caught.value)
    with pytest.raises(FormatError, match="control characters"):
        xoauth2("me@x\x01auth=evil", "tok")


def test_json_token_and_header() -> None:
    data = json.loads(formatted(ISSUED, "json"))
    assert data == {
        "access_token": "ya29.token-0001",
        "token_type": "Bearer",
        "expires_at": "2027-01-15T08:00:00+00:00",
        "scopes": ["openid", "https://mail.google.com/"],
    }
    never = IssuedToken(access_token=Secret("tok-000001"), token_type="Bearer", expires_at=None)
    assert json.loads(formatted(never, "json"))["expires_at"] is None
    assert formatted(ISSUED, "token") == "ya29.token-0001"
    assert formatted(ISSUED, "header") == "Authorization: Bearer ya29.token-0001"


def test_iso_utc_matches_datetime() -> None:
    import datetime as dt

    for ts in (0.0, 1_800_000_000.75, 1_700_000_059.999):
        assert iso_utc(ts) == dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def test_unknown_format() -> None:
    with pytest.raises(FormatError, match="Unknown format"):
        render("yaml", "tok")


def test_header_and_another_format_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app.cli import main

    for var, sub in (("XDG_CONFIG_HOME", "c"), ("XDG_STATE_HOME", "s"), ("XDG_RUNTIME_DIR", "r")):
        monkeypatch.setenv(var, str(tmp_path / sub))

    assert main(["token", "x", "--header", "--format", "json"]) == 2
    assert "--header is --format header" in capsys.readouterr().err
