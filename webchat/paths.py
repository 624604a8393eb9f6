"""Where the templates and static files are: inside the package when installed from a wheel,
at the top of the repository in a source checkout (the design card's layout)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"webchat cannot find its {name}/ folder; reinstall the package")


TEMPLATES_DIR = _find("templates")
STATIC_DIR = _find("static")
