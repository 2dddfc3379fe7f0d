"""Each user-visible default is written once (core/defaults.py); every entry point that offers it agrees."""

from __future__ import annotations

import inspect
from pathlib import Path

from desktop_app.cli import TIMEOUT_HELP, build_parser
from desktop_app.core import defaults
from desktop_app.core.flow import sign_in
from desktop_app.core.refresh import RefreshEngine
from desktop_app.core.service import Service
from desktop_app.fastcli import _simple_token_args


def _default(fn: object, name: str) -> object:
    return inspect.signature(fn).parameters[name].default  # type: ignore[arg-type]


def test_sign_in_timeout_is_one_default() -> None:
    """The CLI leaves --timeout unset so the Service picks by flow: the browser's default, or the device code's
    lifetime (tests/core/test_device.py shows the device flow waiting past the browser's default)."""
    parser = build_parser()
    for command in (["connect", "--provider", "github", "--client-id", "x"], ["reconnect", "A"]):
        assert parser.parse_args(command).timeout is None
    assert _default(sign_in, "timeout_s") == defaults.SIGN_IN_TIMEOUT_S
    assert _default(Service.__init__, "flow_timeout_s") is None
    assert f"default {defaults.SIGN_IN_TIMEOUT_S:g} for the browser" in TIMEOUT_HELP
    assert f"at most {defaults.DEVICE_WAIT_MAX_S:g}" in TIMEOUT_HELP


def test_min_valid_is_one_default() -> None:
    assert build_parser().parse_args(["token", "A"]).min_valid == defaults.MIN_VALID_S
    assert _simple_token_args(["token", "A"]) == ("A", defaults.MIN_VALID_S, "token", None)
    assert _default(Service.token, "min_valid_s") == defaults.MIN_VALID_S
    assert _default(RefreshEngine.get_token, "min_valid_s") == defaults.MIN_VALID_S


def test_the_readme_states_the_defaults() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"`--timeout` seconds (default {defaults.SIGN_IN_TIMEOUT_S:g})" in readme
    assert f"`--min-valid` seconds (default {defaults.MIN_VALID_S:g})" in readme


def test_defaults_module_imports_nothing() -> None:
    # The fast `tokendesk token` path imports it: it must stay free of imports.
    source = inspect.getsource(defaults)
    assert "import " not in source.replace("imports", "")
