"""`$BROWSER` stand-in for subprocess tests: `python tests/rig/browser_cli.py <authorization URL>`.

Signs in as $TOKENDESK_RIG_LOGIN (default alice), approves consent unless TOKENDESK_RIG_APPROVE=0, and
blocks until the browser has landed on the loopback callback. Exit status 0 on success, 1 otherwise.
Note that Python's webbrowser waits for this command, so the caller must keep serving its loopback
listener meanwhile (e.g. call webbrowser.open from a worker thread).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

# Run as a plain script, so make `tests.rig` importable from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.rig.browser import RigBrowser


async def _consent(url: str, login: str, approve: bool) -> str:
    async with RigBrowser() as browser:
        return await browser.complete_consent(url, login=login, approve=approve)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: browser_cli.py <authorization URL>", file=sys.stderr)
        return 2
    login = os.environ.get("TOKENDESK_RIG_LOGIN", "alice")
    approve = os.environ.get("TOKENDESK_RIG_APPROVE", "1") != "0"
    try:
        text = asyncio.run(_consent(argv[1], login, approve))
    except Exception as exc:
        print(f"browser_cli: consent failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"browser_cli: callback page: {text[:200]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
