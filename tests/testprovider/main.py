"""Entry point of the test-only provider (run by path from the test plugin mirror).

It starts the way the real providers do (serve_lazily): the handshake line goes out before the
provider's own modules load, so bench/fanout.py compares like with like.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tfnimble.plugin.serve import serve_lazily

if __name__ == "__main__":
    serve_lazily("example_provider:ExampleProvider", "registry.terraform.io/ito/example", "0.0.0")
