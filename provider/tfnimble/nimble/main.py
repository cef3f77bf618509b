"""Entry point of terraform-provider-nimble (also ``python -m tfnimble.nimble.main``)."""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()  # during the start-up imports: see serve_lazily()
    from tfnimble import __version__
    from tfnimble.plugin.serve import serve_lazily

    serve_lazily(
        "tfnimble.nimble.provider:NimbleProvider", "registry.terraform.io/ito/nimble", __version__
    )


if __name__ == "__main__":
    main()
