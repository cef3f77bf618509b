"""Entry point of terraform-provider-glance (also ``python -m tfnimble.glance.main``)."""

from __future__ import annotations

from typing import Any

ADDRESS = "registry.terraform.io/ito/glance"


def _provider() -> Any:
    # Imported after the handshake line is out (see tfnimble.plugin.serve).
    from .provider import GlanceProvider

    return GlanceProvider()


def main() -> None:
    from tfnimble import __version__
    from tfnimble.plugin import serve

    serve(_provider, name="glance", address=ADDRESS, version=__version__)


if __name__ == "__main__":
    main()
