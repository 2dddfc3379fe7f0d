"""The command line's device-flow text and options."""

from __future__ import annotations

import io

import pytest

from desktop_app.cli import build_parser
from desktop_app.core.device import DeviceCode
from desktop_app.core.secrets import Secret
from desktop_app.device_prompt import say_code

NOW = 1_800_000_000.0


def test_the_code_and_the_page_are_printed_but_never_the_device_code() -> None:
    code = DeviceCode(
        Secret("device-code-secret-0001"),
        "WDJB-MJHT",
        "https://example.com/device",
        "https://example.com/device?user_code=WDJB-MJHT",
        NOW + 900,
        5,
    )
    out = io.StringIO()
    say_code(code, out, now=NOW)
    text = out.getvalue()
    assert "  https://example.com/device\n" in text
    assert "enter the code:  WDJB-MJHT" in text
    assert "https://example.com/device?user_code=WDJB-MJHT with the code filled in" in text
    assert "expires in 15 minutes" in text
    assert "device-code-secret-0001" not in text


@pytest.mark.parametrize(
    "command", [["connect", "--issuer", "https://x.example", "--client-id", "c"], ["reconnect", "A"]]
)
def test_device_and_no_browser_exclude_each_other(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args([*command, "--device"]).device is True
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*command, "--device", "--no-browser"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
