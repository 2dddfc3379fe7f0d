"""Sign-in on another device (RFC 8628) against the real rig: oidc-provider's device flow, Chromium as the
other device, the real keychain."""

from __future__ import annotations

import asyncio
import re
import sys

import httpx
import pytest

from desktop_app.core.accounts import AccountState
from desktop_app.core.device import DeviceCode
from desktop_app.core.errors import DeviceAccessDenied
from tests.e2e.conftest import Rig
from tests.e2e.test_cli_e2e import Cli, cli  # noqa: F401 (the fixture)
from tests.rig.browser import RigBrowser
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e


async def start_device_connect(rig: Rig, **kwargs: object) -> tuple[asyncio.Future[object], DeviceCode]:
    codes: list[DeviceCode] = []
    notices: list[str] = []
    task = asyncio.ensure_future(
        rig.service.connect(
            rig.request(rig.provider.native_device),
            on_code=codes.append,
            on_notice=notices.append,
            **kwargs,  # type: ignore[arg-type]
        )
    )
    await rig.clock.next_sleep()  # the code is out and polling waits for its first turn
    assert len(codes) == 1
    return task, codes[0]


async def test_device_sign_in_stores_an_account_the_provider_accepts(rig: Rig) -> None:
    task, code = await start_device_connect(rig, device=True)
    assert rig.consent.urls == []  # no browser on this machine
    assert code.verification_uri == f"{rig.provider.issuer}/device"
    assert code.verification_uri_complete == f"{code.verification_uri}?user_code={code.user_code}"
    # One poll before the user acts: still pending.
    rig.clock.advance(code.interval_s)
    await rig.clock.next_sleep()
    assert rig.provider.stats()["token_errors"] == {"authorization_pending": 1}
    # The user types the code on another device, signs in and consents.
    page = await rig.consent.browser.approve_device(code.verification_uri, user_code=code.user_code)
    assert "Sign-in Success" in page
    rig.clock.advance(code.interval_s)
    record = await asyncio.wait_for(task, 30)

    assert record.state is AccountState.VALID  # type: ignore[attr-defined]
    assert record.identity.subject == "alice" and record.identity.email == "alice@example.test"  # type: ignore[attr-defined]
    entry = await rig.vault.load(record.id)  # type: ignore[attr-defined]
    assert entry is not None and entry.tokens is not None
    assert entry.tokens.refresh_token is not None and "offline_access" in entry.tokens.scopes
    assert rig.provider.stats()["token"]["urn:ietf:params:oauth:grant-type:device_code"] == 1
    # The provider accepts the access token, and the grant refreshes like a browser sign-in's.
    async with httpx.AsyncClient() as http:
        me = await http.get(
            rig.provider.userinfo_endpoint, headers={"Authorization": entry.tokens.authorization_header()}
        )
    assert me.status_code == 200 and me.json()["sub"] == "alice"
    rig.clock.advance(1)
    refreshed = await rig.service.refresh(record.name)  # type: ignore[attr-defined]
    assert refreshed.access_token != entry.tokens.access_token


async def test_the_verification_link_with_the_code_needs_no_typing(rig: Rig) -> None:
    task, code = await start_device_connect(rig, device=True)
    assert code.verification_uri_complete is not None
    await rig.consent.browser.approve_device(code.verification_uri_complete)
    rig.clock.advance(code.interval_s)
    record = await asyncio.wait_for(task, 30)
    assert record.identity.subject == "alice"  # type: ignore[attr-defined]


async def test_refusing_on_the_other_device_stores_nothing(rig: Rig) -> None:
    task, code = await start_device_connect(rig, device=True)
    await rig.consent.browser.approve_device(code.verification_uri, user_code=code.user_code, approve=False)
    rig.clock.advance(code.interval_s)
    with pytest.raises(DeviceAccessDenied):
        await asyncio.wait_for(task, 30)
    assert rig.service.accounts() == []


async def test_reconnect_on_another_device_keeps_the_account(rig: Rig) -> None:
    record = await rig.service.connect(rig.request(rig.provider.native_device))  # by browser first
    await rig.consent.pages()
    codes: list[DeviceCode] = []
    task = asyncio.ensure_future(rig.service.reconnect(record.name, device=True, on_code=codes.append))
    await rig.clock.next_sleep()
    await rig.consent.browser.approve_device(codes[0].verification_uri, user_code=codes[0].user_code)
    rig.clock.advance(codes[0].interval_s)
    updated = await asyncio.wait_for(task, 30)
    assert updated.id == record.id and updated.state is AccountState.VALID
    assert rig.provider.stats()["token"]["urn:ietf:params:oauth:grant-type:device_code"] == 1


async def test_when_the_browser_does_not_open_the_device_flow_takes_over(rig: Rig) -> None:
    rig.service._opener = _no_browser  # as if xdg-open failed
    task, code = await start_device_connect(rig, device=None)
    await rig.consent.browser.approve_device(code.verification_uri, user_code=code.user_code)
    rig.clock.advance(code.interval_s)
    record = await asyncio.wait_for(task, 30)
    assert record.identity.subject == "alice"  # type: ignore[attr-defined]
    assert rig.provider.stats()["token"].get("authorization_code", 0) == 0


async def _no_browser(url: str) -> bool:
    return False


# --- the command line ---------------------------------------------------------------------------------


async def test_cli_without_a_display_signs_in_on_another_device(
    cli: Cli,  # noqa: F811
    oidc_provider: OidcProvider,
    rig_browser: RigBrowser,
) -> None:
    """Over SSH: no DISPLAY, no $BROWSER. The CLI says so, prints the page and code, and polls to the end."""
    env = {k: v for k, v in cli.env.items() if k != "BROWSER"}
    args = ["connect", "--issuer", oidc_provider.issuer, "--client-id", oidc_provider.native_device, "--name", "SSH"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "desktop_app", *args, env=env, cwd=cli.home,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None and proc.stdout is not None
    said: list[str] = []
    while not any("enter the code:" in line for line in said):
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line, f"the CLI ended without a code: {''.join(said)}"
        said.append(line)
    text = "".join(said)
    assert "No browser can be opened here; signing in on another device instead." in text
    user_code = re.search(r"enter the code:\s+(\S+)", text)
    page = re.search(r"^  (http\S+)$", text, re.MULTILINE)
    assert user_code is not None and page is not None
    assert page.group(1) == f"{oidc_provider.issuer}/device"
    assert "Sign-in Success" in await rig_browser.approve_device(page.group(1), user_code=user_code.group(1))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    cli.outputs += [text, out.decode(), err.decode()]
    assert proc.returncode == 0, err.decode()
    assert out.decode().startswith("Connected SSH (alice@example.test).")
    assert [a["name"] for a in cli.accounts()] == ["SSH"]
    token = cli.run("token", "SSH", secret_stdout=True)
    assert token.returncode == 0
    async with httpx.AsyncClient() as http:
        me = await http.get(
            oidc_provider.userinfo_endpoint, headers={"Authorization": f"Bearer {token.stdout.strip()}"}
        )
    assert me.status_code == 200 and me.json()["sub"] == "alice"
    seen = oidc_provider.seen()
    for kind in ("access_token", "refresh_token", "id_token"):
        assert seen[kind], kind
        assert not any(value in output for value in seen[kind] for output in cli.outputs), f"a {kind} leaked"


def test_cli_device_for_a_provider_without_a_device_flow_is_a_usage_error(cli: Cli) -> None:  # noqa: F811
    proc = cli.run(
        "connect", "--provider", "slack", "--client-id", "x", "--client-secret-stdin", "--device", stdin="s\n"
    )
    assert proc.returncode == 2
    assert "Slack offers no sign-in on another device" in proc.stderr
