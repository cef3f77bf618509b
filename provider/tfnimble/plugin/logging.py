"""Logs as hclog JSON lines on stderr, which `TF_LOG` / `TF_LOG_PROVIDER` display.

Every line the handler installed by `setup()` writes is scrubbed first: values registered
with `redact()` (passwords, private keys; at least 3 characters long) are replaced with
`***` in the message and its traceback. The engine registers the provider's sensitive
attributes when it is configured; anything else secret must be registered by its owner.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import threading
from typing import Any

_secrets: set[str] = set()
_lock = threading.Lock()

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}


def redact(secret: str | None) -> None:
    """Never let this value reach a log line."""
    if secret and len(secret) >= 3:
        with _lock:
            _secrets.add(secret)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `***`, longest first."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, "***")
    return text


class HclogJSONFormatter(logging.Formatter):
    def __init__(self, module: str) -> None:
        super().__init__()
        self.module = module

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        entry: dict[str, Any] = {
            "@level": _LEVELS.get(record.levelno, "info"),
            "@message": scrub(message),
            "@module": f"{self.module}.{record.name}",
            "@timestamp": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
        }
        return json.dumps(entry)


def setup(module: str) -> None:
    """Send our loggers to stderr as JSON; level from TF_LOG_PROVIDER / TF_LOG (default info)."""
    level_name = (os.environ.get("TF_LOG_PROVIDER") or os.environ.get("TF_LOG") or "").upper()
    level = {
        "TRACE": logging.DEBUG,
        "DEBUG": logging.DEBUG,
        "INFO": logging.INFO,
        "WARN": logging.WARNING,
        "ERROR": logging.ERROR,
    }.get(level_name, logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(HclogJSONFormatter(module))
    root = logging.getLogger("tfnimble")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for noisy in ("urllib3", "paramiko"):
        lg = logging.getLogger(noisy)
        lg.handlers[:] = [handler]
        lg.setLevel(max(level, logging.WARNING))
        lg.propagate = False
