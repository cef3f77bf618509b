"""Entry point of the test-only provider (run by path from the test plugin mirror)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from example_provider import ExampleProvider
from tfnimble.plugin import serve

if __name__ == "__main__":
    serve(ExampleProvider)
