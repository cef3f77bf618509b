"""Fixtures of the simulator tests; the helpers live in sim_testkit.py (a unique module
name, so test files can import them whatever other conftest.py pytest loaded first)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_testkit import api, sim, target_scope  # noqa: F401
