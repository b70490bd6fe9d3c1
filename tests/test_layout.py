"""The house rules of design.md section 2, checked on the source: which package may import what."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "blotter"

# package → modules it must never import (prefix match)
FORBIDDEN = {
    "core": ("PySide6", "httpx", "websockets", "aiohttp", "keyring", "blotter.venues",
             "blotter.ui", "blotter.sim", "qasync"),
    "venues": ("PySide6", "blotter.ui", "blotter.sim", "qasync", "keyring"),
    "sim": ("blotter.venues", "blotter.core", "blotter.ui", "PySide6"),
    "ui": ("blotter.venues", "blotter.sim", "httpx", "websockets", "aiohttp", "keyring"),
}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (type names only, never run)."""
    nodes: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and (
            node.test.id == "TYPE_CHECKING"
        ):
            stack.extend(node.orelse)
            continue
        nodes.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_keeps_to_its_imports(package: str) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    breaches = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files
        for name in imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package])
    ]
    assert not breaches, "\n".join(breaches)
