"""Proves the git-over-HTTP and mail (IMAP, SMTP) rigs let in a real provider access token and nothing else."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import smtplib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.rig.browser import RigBrowser
from tests.rig.githttp import GitHttpServer, git_env, make_bare_repo
from tests.rig.mailsasl import (
    ImapServer,
    SaslBearer,
    SmtpServer,
    imap_login,
    oauthbearer,
    parse_sasl,
    smtp_login,
    xoauth2,
)
from tests.rig.provider import OidcProvider
from tests.rig.test_rig import authorize

EMAIL = "alice@example.test"


async def access_token(provider: OidcProvider, browser: RigBrowser) -> str:
    token: str = (await authorize(provider, browser, provider.native_static))["access_token"]
    return token


def clone(url: str, dest: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "clone", "-q", url, str(dest)], env=git_env(home), capture_output=True, text=True, timeout=60
    )


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


async def test_git_clone_needs_an_accepted_token(
    oidc_provider: OidcProvider, rig_browser: RigBrowser, tmp_path: Path
) -> None:
    token = await access_token(oidc_provider, rig_browser)
    make_bare_repo(tmp_path / "srv")
    home = tmp_path / "home"
    home.mkdir()
    with GitHttpServer(tmp_path / "srv", oidc_provider.userinfo_endpoint) as server:
        # No credentials: a Basic challenge, and with prompts off git gives up.
        bare = await asyncio.to_thread(clone, server.url(), tmp_path / "none", home)
        assert bare.returncode != 0
        assert server.accepted == []

        good = await asyncio.to_thread(clone, with_credentials(server.url(), "oauth2", token), tmp_path / "ok", home)
        assert good.returncode == 0, good.stderr
        assert (tmp_path / "ok" / "README").read_text() == "hello from the rig\n"
        assert set(server.accepted) == {token}

        wrong = await asyncio.to_thread(
            clone, with_credentials(server.url(), "oauth2", "not-a-token"), tmp_path / "bad", home
        )
        assert wrong.returncode != 0
        assert "401" in wrong.stderr or "Authentication failed" in wrong.stderr
        assert server.refused == ["not-a-token"]

        server.reject(token)
        again = await asyncio.to_thread(clone, with_credentials(server.url(), "x", token), tmp_path / "rej", home)
        assert again.returncode != 0
        assert server.refused[-1] == token
        assert server.refusals == 2


async def test_git_http_bearer_header(oidc_provider: OidcProvider, rig_browser: RigBrowser, tmp_path: Path) -> None:
    import httpx

    token = await access_token(oidc_provider, rig_browser)
    make_bare_repo(tmp_path)
    with GitHttpServer(tmp_path, oidc_provider.userinfo_endpoint) as server:
        refs = f"{server.url()}/info/refs?service=git-upload-pack"
        async with httpx.AsyncClient() as client:
            denied = await client.get(refs, headers={"Authorization": "Bearer nope"})
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"] == 'Basic realm="rig"'
            ok = await client.get(refs, headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            assert ok.headers["content-type"] == "application/x-git-upload-pack-advertisement"
            assert b"refs/heads/main" in ok.content
            basic = base64.b64encode(f"anyone:{token}".encode()).decode()
            missing = await client.get(
                f"{server.base_url}/nothing.git/info/refs", headers={"Authorization": f"Basic {basic}"}
            )
            assert missing.status_code == 404


def test_parse_sasl() -> None:
    assert parse_sasl("XOAUTH2", xoauth2("a@b.test", "T")) == SaslBearer("a@b.test", "T")
    assert parse_sasl("OAUTHBEARER", oauthbearer("a@b.test", "T")) == SaslBearer("a@b.test", "T")
    with_host = base64.b64encode(b"n,a=a@b.test,\x01host=h\x01port=1\x01auth=Bearer T\x01\x01").decode()
    assert parse_sasl("OAUTHBEARER", with_host) == SaslBearer("a@b.test", "T")
    assert parse_sasl("OAUTHBEARER", xoauth2("a@b.test", "T")) is None
    assert parse_sasl("XOAUTH2", base64.b64encode(b"user=a\x01auth=Basic T\x01\x01").decode()) is None
    assert parse_sasl("XOAUTH2", base64.b64encode(b"user=a\x01auth=Bearer T\x01").decode()) is None
    assert parse_sasl("XOAUTH2", "!!!") is None


@pytest.mark.parametrize("build", [xoauth2, oauthbearer], ids=["XOAUTH2", "OAUTHBEARER"])
async def test_mail_logins(
    oidc_provider: OidcProvider, rig_browser: RigBrowser, build: Callable[[str, str], str]
) -> None:
    mechanism = build.__name__.upper()
    token = await access_token(oidc_provider, rig_browser)
    with (
        ImapServer(oidc_provider.userinfo_endpoint, EMAIL) as imap,
        SmtpServer(oidc_provider.userinfo_endpoint, EMAIL) as smtp,
    ):
        assert await asyncio.to_thread(imap_login, imap.port, mechanism, build(EMAIL, token)) == "OK"
        code, _ = await asyncio.to_thread(smtp_login, smtp.port, mechanism, build(EMAIL, token), EMAIL)
        assert code == 235
        assert smtp.messages == [b"Subject: rig\r\n\r\nhello\r\n"]

        # A wrong token, a good token for someone else, a token the provider never issued: all refused.
        for user, bad in ((EMAIL, "wrong-token"), ("bob@example.test", token), (EMAIL, token[:-2])):
            with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
                await asyncio.to_thread(imap_login, imap.port, mechanism, build(user, bad))
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                await asyncio.to_thread(smtp_login, smtp.port, mechanism, build(user, bad), EMAIL)
            assert refused.value.smtp_code == 535
        assert [ok for _, _, ok in imap.logins] == [True, False, False, False]
        assert [user for _, user, _ in smtp.logins] == [EMAIL, EMAIL, "bob@example.test", EMAIL]
        assert {m for m, _, _ in imap.logins + smtp.logins} == {mechanism}
        assert len(smtp.messages) == 1


def test_smtp_refuses_mail_before_login(oidc_provider: OidcProvider) -> None:
    with (
        SmtpServer(oidc_provider.userinfo_endpoint, EMAIL) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp,
    ):
        smtp.ehlo("rig-client")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail(EMAIL, ["bob@example.test"], b"x")
        assert refused.value.smtp_code == 530
        assert server.messages == []
