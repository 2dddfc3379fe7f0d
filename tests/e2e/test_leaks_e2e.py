"""No secret leaks on the agent path: the app (a Service with the app's logging) serving `tokendesk token`."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.errors import TransientError
from desktop_app.core.logsetup import configure_logging
from tests.e2e.conftest import Rig, rig_cli
from tests.e2e.leaks import assert_no_secret_seen_by_the_provider

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_logging(rig: Rig) -> Iterator[Path]:
    """The app's own logging (file and stderr, through its redacting filter) at DEBUG, as the GUI sets it up."""
    root = logging.getLogger()
    level = root.level
    configure_logging(rig.paths.log_file, level="DEBUG")
    try:
        yield rig.paths.log_file
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_tokendesk", False)]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


async def cli(rig: Rig, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`tokendesk` at DEBUG, with no keychain of its own: only the app can answer."""
    return await rig_cli(rig, *args, extra_env={"TOKENDESK_LOG_LEVEL": "DEBUG"}, stdin=stdin)


def read_files(root: Path) -> dict[str, str]:
    """Every file the app and the CLI wrote: config, state, logs, runtime dir."""
    return {str(p): p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()}


async def test_no_secret_leaks_on_the_agent_path(
    rig: Rig, app_logging: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    outputs: dict[str, str] = {}
    record = await rig.service.connect(rig.request(rig.provider.confidential_post, name="Agent"))
    await rig.consent.pages()
    server = rig.service.agent_server()
    await server.start()
    try:
        code, token_out, err = await cli(rig, "token", "Agent")
        assert code == 0, err
        assert token_out.strip() == (await rig.service.token(record.name)).access_token.reveal()
        outputs["token stderr"] = err
        code, _, err = await cli(rig, "token", "Agent", "--header")
        assert code == 0, err
        outputs["token --header stderr"] = err
        rig.clock.advance(200)  # 100 s left: the app refreshes for --min-valid
        code, _, err = await cli(rig, "token", "Agent", "--min-valid", "3600")
        assert code == 0, err
        outputs["refreshing token stderr"] = err
        assert rig.provider.stats()["token"]["refresh_token"] == 1
        # Tokens for other tools: every format, exec's child, and git's get and erase (which sends the
        # refused token to the app). Their stdout carries the token on purpose; their stderr and logs must not.
        for fmt in ("json", "xoauth2", "oauthbearer"):
            code, _, err = await cli(rig, "token", "Agent", "--format", fmt, "--user", "ann@example.test")
            assert code == 0, err
            outputs[f"token --format {fmt} stderr"] = err
        code, _, err = await cli(rig, "exec", "Agent", "--", sys.executable, "-c", "pass")
        assert code == 0, err
        outputs["exec stderr"] = err
        get = "protocol=https\nhost=git.example.test\n\n"
        code, answer, err = await cli(rig, "git-credential", "--account", "Agent", "get", stdin=get)
        assert code == 0 and "password=" in answer, err
        outputs["git-credential get stderr"] = err
        refused = answer + "\n"
        code, out, err = await cli(rig, "git-credential", "--account", "Agent", "erase", stdin=refused)
        assert (code, out) == (0, ""), err
        outputs["git-credential erase stderr"] = err
        code, answer, err = await cli(rig, "git-credential", "--account", "Agent", "get", stdin=get)
        assert code == 0 and "password=" in answer, err  # refreshed after the erase
        outputs["git-credential get after erase stderr"] = err
        for args in (("list",), ("list", "--json")):
            code, out, err = await cli(rig, *args)
            assert code == 0, err
            outputs[f"{' '.join(args)} stdout"], outputs[f"{' '.join(args)} stderr"] = out, err
        rig.provider.fail_token(500, html=True)
        rig.clock.advance(1)
        with pytest.raises(TransientError):
            await rig.service.refresh(record.name)
        code, out, err = await cli(rig, "token", "Nobody")
        assert code == 1
        outputs["failing token stdout"], outputs["failing token stderr"] = out, err
    finally:
        await server.close()
    await rig.service.disconnect(record.name)

    files = await asyncio.to_thread(read_files, tmp_path)
    log_text = files[str(app_logging)]
    assert "DEBUG" in log_text and "POST" in log_text  # the app's log really recorded the traffic
    assert any(name.endswith("accounts.json") for name in files)
    cli_logs = [text for name, text in files.items() if name.endswith("state/tokendesk/log/tokendesk.log")]
    assert cli_logs and "DEBUG" in cli_logs[0]  # the CLI's own log at DEBUG is searched too
    captured = capfd.readouterr()
    outputs["app stdout"], outputs["app stderr"] = captured.out, captured.err
    haystacks = {f"output: {k}": v for k, v in outputs.items()} | files
    assert_no_secret_seen_by_the_provider(rig.provider, haystacks, need=("client_secret",))
    # The check itself can fail: a haystack holding one of those values is caught.
    code_value = rig.provider.seen()["code"][0]
    with pytest.raises(AssertionError, match="code leaked"):
        assert_no_secret_seen_by_the_provider(rig.provider, {"probe": f"x{code_value}x"})
