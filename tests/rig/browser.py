"""Headless Debian Chromium playing the user's system browser against the rig's devInteractions pages."""

from __future__ import annotations

import os
import re
import shutil
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
CALLBACK_URL = re.compile(r"^http://(127\.0\.0\.1|localhost):\d+/callback(\?|$)")
TIMEOUT_MS = 15_000


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
        if self._context is not None:
            await self._context.close()
            self._context = None
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None
        if self._profile is not None:
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
            await page.close()

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


async def _abort(route: Route) -> None:
    await route.abort("internetdisconnected")
