import threading
import webbrowser

import pytest

from desktop_app.core import flow
from desktop_app.core.flow import request_scopes, system_browser
from desktop_app.core.providers import preset


async def test_system_browser_reports_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: False)
    assert await system_browser("http://127.0.0.1:1/x") is False


async def test_system_browser_never_waits_for_a_browser_that_stays_open(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    seen: list[str] = []

    def blocking_open(url: str, new: int = 0) -> bool:
        seen.append(url)
        release.wait(30)  # like `$BROWSER=firefox` when Firefox was not running yet
        return True

    monkeypatch.setattr(webbrowser, "open", blocking_open)
    monkeypatch.setattr(flow, "BROWSER_START_S", 0.05)
    try:
        assert await system_browser("http://127.0.0.1:1/x") is True
        assert seen == ["http://127.0.0.1:1/x"]
        browser_threads = [t for t in threading.enumerate() if t.name == "tokendesk-browser"]
        assert browser_threads and all(t.daemon for t in browser_threads)
    finally:
        release.set()


def test_offline_access_scope_is_added_once() -> None:
    spec = preset("okta", domain="example.okta.com")
    assert request_scopes(spec, ("openid", "profile")) == ("openid", "profile", "offline_access")
    assert request_scopes(spec, None).count("offline_access") == 1
    assert "offline_access" not in request_scopes(preset("google"), ("openid",))
