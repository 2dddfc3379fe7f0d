"""Headless Debian Chromium playing the user's system browser against the rig's devInteractions pages."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from playwright.async_api import BrowserContext, Page, Playwright, Route, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The redirect the client asked for, on any loopback port (RFC 8252 §7.3).
# /cb/exact: the path of the web-exact-port client's one registered redirect URI.
CALLBACK_URL = re.compile(r"^http://(127\.0\.0\.1|localhost):\d+/(callback|cb/exact)(\?|$)")
TIMEOUT_MS = 15_000
STOP_TIMEOUT_S = 15.0


class RigBrowser:
    """`async with RigBrowser() as b: text = await b.complete_consent(url)`."""

    def __init__(self, *, timeout_ms: int = TIMEOUT_MS) -> None:
        self.timeout_ms = timeout_ms
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._profile: Path | None = None

    async def start(self) -> Self:
        # A single stat before a browser launch; not worth a thread.
        if not os.path.exists(CHROMIUM):  # noqa: ASYNC240
            raise RuntimeError(f"{CHROMIUM} missing; run `scripts/bootstrap test`")
        self._profile = Path(tempfile.mkdtemp(prefix="tokendesk-chromium-"))
        self._pw = await async_playwright().start()
        try:
            self._context = await self._pw.chromium.launch_persistent_context(
                self._profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                # The HTTPS rig (a Keycloak look-alike) uses a throwaway self-signed certificate; every
                # off-box request is aborted below anyway.
                ignore_https_errors=True,
            )
        except BaseException:
            await self.stop()
            raise
        self._context.set_default_timeout(self.timeout_ms)
        # devInteractions pages @import Google Fonts; there is no network, so fail off-box requests at once
        # instead of letting them hang page loads.
        await self._context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), _abort)
        return self

    async def stop(self) -> None:
        # Bounded: under heavy load Chromium or Playwright's driver has been seen not to exit, which must
        # fail nothing and hang nothing; whatever is left is killed.
        if self._context is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._context.close(), STOP_TIMEOUT_S)
            self._context = None
        if self._pw is not None:
            driver = getattr(getattr(getattr(self._pw, "_impl_obj", None), "_connection", None), "_transport", None)
            proc = getattr(driver, "_proc", None)
            try:
                await asyncio.wait_for(self._pw.stop(), STOP_TIMEOUT_S)
            except (TimeoutError, Exception):
                if proc is not None and proc.returncode is None:
                    proc.kill()
            self._pw = None
        if self._profile is not None:
            _kill_browsers_using(self._profile)
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def clear_cookies(self) -> None:
        """Forget the provider session, so the next authorization asks for login again."""
        assert self._context is not None, "RigBrowser is not started"
        await self._context.clear_cookies()

    async def complete_consent(self, url: str, *, login: str = "alice", approve: bool = True) -> str:
        """Open `url`, sign in as `login`, approve or cancel consent; return the callback page's text.

        If the provider still has a session for this browser (same login), the login step is skipped.
        """
        assert self._context is not None, "RigBrowser is not started"
        page = await self._context.new_page()
        try:
            await page.goto(url, wait_until="domcontentloaded")
            # login, then consent; a live provider session skips login.
            for _ in range(4):
                if CALLBACK_URL.match(page.url):
                    break
                await self._step(page, login=login, approve=approve)
            else:
                raise RuntimeError(f"never reached the loopback callback; stuck at {page.url}")
            await page.wait_for_load_state("domcontentloaded")
            return await page.inner_text("body") if await page.locator("body").count() else await page.content()
        finally:
            await _close(page)

    async def approve_device(
        self, url: str, *, user_code: str | None = None, login: str = "alice", approve: bool = True
    ) -> str:
        """Play the user on the other device (RFC 8628 §3.3): open the verification page `url`, type
        `user_code` if the page asks for it, confirm (or abort) the device, sign in and consent; return the
        text of the page it ends on (oidc-provider's "Sign-in Success", or the input page after an abort)."""
        assert self._context is not None, "RigBrowser is not started"
        page = await self._context.new_page()
        # Every page of the device flow: code input, confirmation, devInteractions' login/consent, success.
        # The auto-submitting page in between has none of these, so waiting for one waits it out.
        landmark = "#op\\.deviceInputForm, #op\\.deviceConfirmForm, form input[name=prompt], h1"
        try:
            await page.goto(url, wait_until="domcontentloaded")
            for _ in range(6):
                await page.wait_for_selector(landmark, state="attached")
                text = await page.inner_text("body")
                if "Sign-in Success" in text:
                    return text
                if await page.locator("#op\\.deviceConfirmForm").count():
                    button = "button[autofocus]" if approve else "button[name=abort]"
                    async with page.expect_navigation(wait_until="domcontentloaded"):
                        await page.click(button)
                    if not approve:
                        await page.wait_for_selector(landmark, state="attached")
                        return await page.inner_text("body")
                elif await page.locator("#op\\.deviceInputForm").count():
                    if user_code is None:
                        raise RuntimeError(f"the verification page asks for the user code: {text[:300]}")
                    await page.fill("input[name=user_code]", user_code)
                    user_code = None  # typed once: asked again means the provider refused it
                    async with page.expect_navigation(wait_until="domcontentloaded"):
                        await page.click("button[form='op.deviceInputForm']")
                else:
                    await self._step(page, login=login, approve=approve)
            raise RuntimeError(f"never reached the device flow's success page; stuck at {page.url}")
        finally:
            await _close(page)

    async def _step(self, page: Page, *, login: str, approve: bool) -> None:
        form = page.locator("form input[name=prompt]")
        if not await form.count():
            text = (await page.inner_text("body"))[:500]
            raise RuntimeError(f"unexpected page {page.url}: {text}")
        prompt = await form.get_attribute("value")
        if prompt == "login":
            await page.fill("input[name=login]", login)
            await page.fill("input[name=password]", "any-password")
            submit = page.locator("form button[type=submit]")
        elif prompt == "consent" and approve:
            submit = page.locator("form button[type=submit]")
        elif prompt == "consent":
            # devInteractions' "[ Cancel ]" link goes to /interaction/<uid>/abort -> error=access_denied.
            submit = page.locator("a[href$='/abort']")
        else:
            raise RuntimeError(f"unknown devInteractions prompt {prompt!r} at {page.url}")
        async with page.expect_navigation(wait_until="domcontentloaded"):
            await submit.click()


async def _close(page: Page) -> None:
    """Bounded: a consent cancelled at a test's teardown closes its page here, and a page close that never
    answered (Chromium busy under load) once held a teardown until pytest's timeout."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(page.close(), STOP_TIMEOUT_S)


async def _abort(route: Route) -> None:
    await route.abort("internetdisconnected")


def _kill_browsers_using(profile: Path) -> None:
    """Kill any Chromium process still running on this test profile."""
    marker = str(profile).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
