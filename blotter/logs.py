"""Logging: a rotating file in the platform's user log dir, mirrored to stderr with --verbose,
every line passed through the secrets redactor first."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from blotter.redaction import RedactingFilter

LOG_ENV_VAR = "BLOTTER_LOG_DIR"  # where the log file goes instead (tests, portable installs)
LOG_FILE = "blotter.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_QUIET_LIBRARIES = ("websockets", "aiohttp", "httpx", "httpcore", "qasync", "asyncio")


def log_dir() -> Path:
    override = os.environ.get(LOG_ENV_VAR)
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir("blotter", appauthor=False))


def setup_logging(verbose: bool = False) -> Path | None:
    """Log INFO and up to ``<user log dir>/blotter.log`` (rotated at 2 MB, 5 kept), and with
    ``verbose`` DEBUG and up to stderr as well; without it stderr gets warnings only. Returns
    the log file's path, or None when it could not be opened (said on stderr, not raised)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_blotter", False):
            root.removeHandler(handler)
            handler.close()
    redacting = RedactingFilter()
    formatter = logging.Formatter(FORMAT)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    _add(root, console, formatter, redacting)

    path: Path | None = log_dir() / LOG_FILE
    assert path is not None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
        file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
        _add(root, file_handler, formatter, redacting)
    except OSError as exc:
        print(f"blotter: cannot write the log file {path}: {exc}", file=sys.stderr)
        path = None
    if logging.lastResort is not None:
        logging.lastResort.addFilter(redacting)
    if not verbose:
        # the libraries' own chatter (connection closed, ...) is ours to report, as notices
        for name in _QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
    return path


def _add(
    root: logging.Logger,
    handler: logging.Handler,
    formatter: logging.Formatter,
    redacting: RedactingFilter,
) -> None:
    handler.setFormatter(formatter)
    handler.addFilter(redacting)
    handler._blotter = True  # type: ignore[attr-defined]  # ours: replaced on the next setup
    root.addHandler(handler)
