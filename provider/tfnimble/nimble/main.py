"""Entry point of terraform-provider-nimble (also ``python -m tfnimble.nimble.main``)."""

from __future__ import annotations


def main() -> None:
    from tfnimble.plugin import serve

    from .provider import NimbleProvider

    serve(NimbleProvider)


if __name__ == "__main__":
    main()
