"""The house rules of design.md section 2, checked on the source: which package may import what,
how big a room may get, and that every venue is built the same way.

Every import counts, those under ``if TYPE_CHECKING:`` too: a type-only import still ties the
importing package to the other one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "blotter"

# package → the blotter modules it may import (prefixes); anything else of blotter is refused
ALLOWED_BLOTTER = {
    "core": ("blotter.core",),
    "venues": ("blotter.core", "blotter.venues"),
    "sim": ("blotter.sim",),
    "ui": ("blotter.core", "blotter.ui", "blotter.engine", "blotter.account_manager",
           "blotter.aio"),
}
# package → outside libraries it must never import (prefixes)
FORBIDDEN = {
    "core": ("PySide6", "shiboken6", "qasync", "httpx", "websockets", "aiohttp", "keyring",
             "platformdirs"),
    "venues": ("PySide6", "shiboken6", "qasync", "aiohttp", "keyring"),
    "sim": ("PySide6", "shiboken6", "qasync", "httpx", "websockets", "keyring"),
    "ui": ("httpx", "websockets", "aiohttp", "keyring"),
}
VENUES = ("bitfinex", "bybit", "b2trader")
MAX_MODULE_LINES = 700
MAX_CLASS_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str | None = None) -> list[str]:
    """Every module ``path`` imports (``from m import n`` counts as ``m`` and ``m.n``), relative
    imports resolved, TYPE_CHECKING ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module or _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            found.append(source)
            found += [f"{source}.{alias.name}" for alias in node.names]
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("package", sorted(ALLOWED_BLOTTER))
def test_package_keeps_to_its_imports(package: str) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    breaches = []
    for path in files:
        for name in imports(path):
            if name == "blotter":
                continue
            if name.startswith("blotter.") and not _under(name, ALLOWED_BLOTTER[package]):
                breaches.append(f"{path.relative_to(ROOT)} imports {name}")
            if _under(name, FORBIDDEN[package]):
                breaches.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not breaches, "\n".join(breaches)


def test_the_rule_sees_type_checking_and_relative_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from blotter.venues.base import VenueClient\nfrom . import theme\n"
        "from blotter import config\n",
        encoding="utf-8",
    )
    found = imports(probe, "blotter.ui.probe")
    assert {"blotter.venues.base", "blotter.ui.theme", "blotter.config"} <= set(found)


def test_no_getattr_probing_of_clients() -> None:
    for name in ("engine.py", "headless.py", "account_manager.py"):
        text = (PACKAGE / name).read_text(encoding="utf-8")
        assert not re.search(r"getattr\(\s*client", text), name


def test_no_room_too_big_to_live_in() -> None:
    too_big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            too_big.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_big.append(f"{path.relative_to(ROOT)}: class {node.name} {size} lines")
    assert not too_big, "\n".join(too_big)


# the modules every venue has, cut along the wire (design.md section 2); a venue may add
# modules only it needs, named for what they are
VENUE_MODULES = {"__init__", "spec", "requests", "replies", "orders", "stream", "notices",
                 "client"}


@pytest.mark.parametrize("venue", VENUES)
def test_every_venue_has_the_same_modules(venue: str) -> None:
    folder = PACKAGE / "venues" / venue
    names = {p.stem for p in folder.glob("*.py")}
    assert VENUE_MODULES <= names, sorted(VENUE_MODULES - names)
    assert not (folder / "codec.py").exists()


@pytest.mark.parametrize("venue", VENUES)
def test_every_venue_is_registered_and_simulated(venue: str) -> None:
    registry = (PACKAGE / "venues" / "registry.py").read_text(encoding="utf-8")
    assert f"blotter.venues.{venue}.spec import SPEC" in registry
    sim = PACKAGE / "sim" / venue
    assert {"server", "rest", "stream"} <= {p.stem for p in sim.glob("*.py")}


def test_a_venue_package_imports_nothing_when_its_spec_is_read() -> None:
    for venue in VENUES:
        init = (PACKAGE / "venues" / venue / "__init__.py").read_text(encoding="utf-8")
        assert "import" not in init, f"venues/{venue}/__init__.py imports: keep it a docstring"
