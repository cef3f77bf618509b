"""The one entry point of the bundled providers: which provider it serves is the name it was
started by (Terraform runs ``terraform-provider-NAME_vVERSION``), so one frozen runtime serves
both ``nimble`` and ``glance``, and each release zip holds a complete copy of it."""

from __future__ import annotations

import os
import sys


def provider_name(executable: str) -> str:
    """``terraform-provider-nimble_v0.9.0`` -> ``nimble``; anything else -> ``""``."""
    base = os.path.basename(executable)
    if not base.startswith("terraform-provider-"):
        return ""
    return base.removeprefix("terraform-provider-").split("_v", 1)[0]


def restore_library_path(env: dict[str, str]) -> None:
    """Undo the bootloader's LD_LIBRARY_PATH for the programs the provider runs (qemu-img, ssh,
    iscsiadm), so they load the system's libraries, not the bundle's. The dynamic loader read
    it at exec already, so this process keeps finding its own."""
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        env["LD_LIBRARY_PATH"] = original
    else:
        env.pop("LD_LIBRARY_PATH", None)


def main() -> None:
    if getattr(sys, "frozen", False):
        restore_library_path(os.environ)  # type: ignore[arg-type]
    name = provider_name(sys.executable if getattr(sys, "frozen", False) else sys.argv[0])
    if name == "nimble":
        from tfnimble.nimble.main import main as serve
    elif name == "glance":
        from tfnimble.glance.main import main as serve
    else:
        sys.exit(
            f"{os.path.basename(sys.executable)}: this bundle serves terraform-provider-nimble "
            "and terraform-provider-glance; run it under one of those names"
        )
    serve()


if __name__ == "__main__":
    main()
