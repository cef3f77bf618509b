"""Fixtures for the protocol tests; the helpers live in plugin_process.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plugin_process import client_cert, plugin  # noqa: F401
