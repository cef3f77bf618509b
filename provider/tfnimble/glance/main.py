"""terraform-provider-glance entry point."""

from tfnimble.plugin import serve

from .provider import GlanceProvider


def main() -> None:
    serve(GlanceProvider)


if __name__ == "__main__":
    main()
