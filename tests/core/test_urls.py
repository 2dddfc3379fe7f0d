import pytest

from desktop_app.core.errors import InvalidEndpoint
from desktop_app.core.urls import check_endpoint, is_loopback_host


@pytest.mark.parametrize(
    "url",
    [
        "https://login.example.com/oauth2/token",
        "http://127.0.0.1:8080/token",
        "http://127.5.6.7/token",
        "http://[::1]:9000/token",
        "http://localhost:3000/token",
    ],
)
def test_accepts_https_and_loopback_http(url: str) -> None:
    assert check_endpoint(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://login.example.com/token", "plain HTTP"),
        ("http://10.0.0.1/token", "plain HTTP"),
        ("ftp://example.com/token", "not an http"),
        ("login.example.com/token", "not an http"),
        ("https://", "not an http"),
        ("https://example.com:99999/", "malformed"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://example.com/token#frag", "fragment"),
        ("https://exa mple.com/", "white space"),
        ("", "empty"),
    ],
)
def test_rejects_with_specific_message(url: str, reason: str) -> None:
    with pytest.raises(InvalidEndpoint, match=reason):
        check_endpoint(url, what="token endpoint")


def test_loopback_detection() -> None:
    assert is_loopback_host("LOCALHOST")
    assert is_loopback_host("[::1]")
    assert not is_loopback_host("localhost.example.com")
    assert not is_loopback_host("0.0.0.0")
