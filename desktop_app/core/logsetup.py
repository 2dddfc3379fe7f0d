"""Logging to stderr and a rotating file, always through a filter that scrubs secrets."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from .secrets import known_secrets

REDACTED = "[redacted]"
_PATTERNS = [
    # key=value in URLs and form bodies, and "key": "value" in JSON.
    re.compile(
        r"(?i)(\b(?:access_token|refresh_token|id_token|client_secret|code_verifier|code|password|assertion)"
        r"(?:=|\"\s*:\s*\"|'\s*:\s*'))[^&\s\"',;]+"
    ),
    re.compile(r"(?i)(\b(?:Bearer|Basic)\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"()\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWTs
]


def redact(text: str) -> str:
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Renders the message (and traceback) once, scrubbed, so no handler or formatter sees raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class FileWhenWritten(logging.Handler):
    """The rotating log file, made (mode 0600) with the first record that reaches it, so a run that logs nothing
    (at the default level WARNING, most runs) neither creates it nor imports logging.handlers (1 MiB and 5 ms
    before the app's first paint). A file that cannot be made (a read-only home) is given up for this run: stderr
    still gets everything."""

    def __init__(self, path: Path, max_bytes: int = 1_000_000) -> None:
        super().__init__()
        self.path = path
        self.max_bytes = max_bytes
        self._file: logging.Handler | None = None
        self._given_up = False

    def _open(self) -> logging.Handler | None:
        if self._file is None and not self._given_up:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
                os.chmod(self.path, 0o600)  # a file an older version made with the umask's mode
                self._file = _private_rotating(self.path, self.max_bytes)
            except (OSError, ImportError):  # ImportError: a record during the interpreter's shutdown
                self._given_up = True
        return self._file

    def emit(self, record: logging.LogRecord) -> None:
        file = self._open()
        if file is not None:
            file.setFormatter(self.formatter)
            file.handle(record)  # under the file handler's own lock, which logging.shutdown() takes too

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # Handler.__init__ made it
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._given_up = True  # a record after close is dropped, not a reopened file
            if self._file is not None:
                self._file.close()
                self._file = None
        super().close()


def _private_rotating(path: Path, max_bytes: int) -> logging.Handler:
    import logging.handlers

    class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
        """Makes each file after a rollover 0600 too (FileHandler opens with the umask's mode)."""

        def _open(self) -> Any:
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    return PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=3, encoding="utf-8")


def configure_logging(log_file: Path | None, *, level: str | None = None) -> None:
    level_name = (level or os.environ.get("TOKENDESK_LOG_LEVEL") or "WARNING").upper()
    numeric = logging.getLevelName(level_name)
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tokendesk", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        handlers.append(FileWhenWritten(log_file))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        handler.setFormatter(fmt)
        handler._tokendesk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(numeric)
