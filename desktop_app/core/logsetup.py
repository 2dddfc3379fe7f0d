"""Logging to stderr and a rotating file, always through a filter that scrubs secrets."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

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
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handlers.append(
                logging.handlers.RotatingFileHandler(log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
            )
            os.chmod(log_file, 0o600)
        except OSError:
            pass  # a read-only home must not stop the app; stderr still gets everything
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        handler.setFormatter(fmt)
        handler._tokendesk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(numeric)
