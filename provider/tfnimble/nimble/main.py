"""Entry point of terraform-provider-nimble (also ``python -m tfnimble.nimble.main``)."""

from __future__ import annotations

from typing import Any

ADDRESS = "registry.terraform.io/ito/nimble"


def _provider() -> Any:
    # Imported after the handshake line is out (see tfnimble.plugin.serve).
    from .provider import NimbleProvider

    return NimbleProvider()


def main() -> None:
    from tfnimble import __version__
    from tfnimble.plugin import serve

    serve(_provider, name="nimble", address=ADDRESS, version=__version__)


if __name__ == "__main__":
    main()
