import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from desktop_app.core.logsetup import REDACTED, FileWhenWritten, RedactingFilter, configure_logging, redact
from desktop_app.core.secrets import Secret


@pytest.mark.parametrize(
    "text",
    [
        "POST body access_token=abc123def456&x=1",
        '{"refresh_token": "abc123def456"}',
        "Authorization: Bearer abc123def456",
        "redirect /callback?code=abc123def456&state=s",
        "client_secret=abc123def456",
        "jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    ],
)
def test_patterns_are_scrubbed(text: str) -> None:
    out = redact(text)
    assert REDACTED in out
    assert "abc123def456" not in out and "c2lnbmF0dXJl" not in out


def test_known_secret_values_are_scrubbed_anywhere() -> None:
    Secret("opaque-token-zz9-plural-z-alpha")
    assert redact("weird place opaque-token-zz9-plural-z-alpha here") == f"weird place {REDACTED} here"
    assert redact("status_code=200") == "status_code=200"


def test_filter_scrubs_arguments_and_tracebacks(tmp_path: Path) -> None:
    secret = Secret("tb-secret-0123456789")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "got %s", (secret.reveal(),), None)
    try:
        raise ValueError(f"boom {secret.reveal()}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    rendered = logging.Formatter().format(record)
    assert "tb-secret-0123456789" not in rendered and "boom" in rendered


@contextmanager
def _configured(log_file: Path, level: str) -> Iterator[None]:
    """configure_logging for one test; the root logger's handlers and level as they were afterwards."""
    root = logging.getLogger()
    level_before = root.level
    try:
        configure_logging(log_file, level=level)
        yield
    finally:
        for h in list(root.handlers):
            if getattr(h, "_tokendesk", False):
                root.removeHandler(h)
                h.close()
        root.setLevel(level_before)


def test_configure_logging_writes_private_redacted_file(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "tokendesk.log"
    with _configured(log_file, "DEBUG"):
        logging.getLogger("t").debug("token %s", Secret("file-secret-0123456789").reveal())
        for h in logging.getLogger().handlers:
            h.flush()
        text = log_file.read_text()
        assert "file-secret" not in text and REDACTED in text
        assert (log_file.stat().st_mode & 0o777) == 0o600


def test_the_file_is_made_with_the_first_record_only(tmp_path: Path) -> None:
    """A run that logs nothing makes no file and does not import logging.handlers (checked in a fresh process)."""
    log_file = tmp_path / "logs" / "tokendesk.log"
    code = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from desktop_app.core.logsetup import configure_logging\n"
        f"configure_logging(Path({str(log_file)!r}))\n"
        "logging.getLogger('t').info('below the default level')\n"
        "print('logging.handlers' in sys.modules, flush=True)\n"
        "logging.getLogger('t').warning('the first record')\n"
        "print('logging.handlers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["False", "True"]
    assert "the first record" in done.stderr and "below" not in done.stderr
    assert log_file.read_text().count("the first record") == 1 and "below" not in log_file.read_text()
    assert (log_file.stat().st_mode & 0o777) == 0o600


def test_a_file_that_cannot_be_made_leaves_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logs").write_text("a file where the folder should be")
    with _configured(tmp_path / "logs" / "tokendesk.log", "INFO"):
        logging.getLogger("t").warning("first")
        logging.getLogger("t").warning("second")
    err = capsys.readouterr().err
    assert "first" in err and "second" in err
    assert (tmp_path / "logs").read_text() == "a file where the folder should be"


def test_an_old_files_mode_is_narrowed(tmp_path: Path) -> None:
    log_file = tmp_path / "tokendesk.log"
    log_file.write_text("from an older version\n")
    log_file.chmod(0o644)
    handler = FileWhenWritten(log_file)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        handler.handle(logging.LogRecord("t", logging.WARNING, __file__, 1, "appended", None, None))
    finally:
        handler.close()
    assert log_file.read_text() == "from an older version\nappended\n"
    assert (log_file.stat().st_mode & 0o777) == 0o600


def test_every_file_after_a_rollover_is_private_too(tmp_path: Path) -> None:
    log_file = tmp_path / "tokendesk.log"
    handler = FileWhenWritten(log_file, max_bytes=200)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_umask = os.umask(0o022)
    try:
        for i in range(40):
            handler.handle(
                logging.LogRecord("t", logging.WARNING, __file__, 1, f"line {i:02d} " + "x" * 40, None, None)
            )
    finally:
        os.umask(old_umask)
        handler.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["tokendesk.log", "tokendesk.log.1", "tokendesk.log.2", "tokendesk.log.3"]
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}


def test_a_record_after_close_is_dropped_not_a_reopened_file(tmp_path: Path) -> None:
    """logging.shutdown() and configure_logging() close handlers that another thread may still log to."""
    log_file = tmp_path / "tokendesk.log"
    handler = FileWhenWritten(log_file)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.handle(logging.LogRecord("t", logging.WARNING, __file__, 1, "before close", None, None))
    handler.close()
    handler.handle(logging.LogRecord("t", logging.WARNING, __file__, 1, "after close", None, None))
    assert log_file.read_text() == "before close\n"
