"""Where Tokendesk keeps its files (platformdirs; XDG_* variables respected on Linux)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "tokendesk"
log = logging.getLogger(__name__)


def _runtime_path() -> Path:
    """platformdirs' runtime dir, with its RuntimeDirWarning (XDG_RUNTIME_DIR unset or unsafe) going to the log.

    Its fallback is safe (/run/user/<uid>, else a private runtime-<uid> under the temp dir, each checked for
    owner and mode), so the warning is no news for a user: printed, it only clutters every command's stderr."""
    quiet = getattr(platformdirs, "RuntimeDirWarning", None)  # older platformdirs neither checks nor warns
    with warnings.catch_warnings(record=True) as caught:
        if quiet is not None:
            warnings.simplefilter("always", quiet)
        path = platformdirs.user_runtime_path(APP_NAME, appauthor=False)
    for warning in caught:
        if quiet is not None and issubclass(warning.category, quiet):
            log.info("runtime directory: %s", warning.message)
        else:  # not the one we expect: let it through as it was
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return path


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path  # accounts.json: metadata, never secrets
    state_dir: Path  # cross-process lock files
    log_dir: Path
    runtime_dir: Path | None = None  # the agent's socket; falls back to state_dir where there is none

    @classmethod
    def default(cls) -> AppPaths:
        return cls(
            config_dir=platformdirs.user_config_path(APP_NAME, appauthor=False),
            state_dir=platformdirs.user_state_path(APP_NAME, appauthor=False),
            log_dir=platformdirs.user_log_path(APP_NAME, appauthor=False),
            runtime_dir=_runtime_path(),
        )

    @property
    def accounts_file(self) -> Path:
        return self.config_dir / "accounts.json"

    @property
    def lock_dir(self) -> Path:
        return self.state_dir / "locks"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "tokendesk.log"

    @property
    def agent_socket(self) -> Path:
        return (self.runtime_dir or self.state_dir) / "agent.sock"
