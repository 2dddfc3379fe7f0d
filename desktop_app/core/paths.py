"""Where Tokendesk keeps its files (platformdirs; XDG_* variables respected on Linux)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "tokendesk"


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
            runtime_dir=platformdirs.user_runtime_path(APP_NAME, appauthor=False),
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
