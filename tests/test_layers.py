"""The package keeps its layers (DESIGN.md): import-linter's contracts in pyproject.toml fail on an
import from a layer above, and on an import cycle inside any package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_imports_inside_functions_say_why():
    # An import inside a function hides a dependency from the contracts above: it is allowed only
    # to keep an optional (or costly) dependency out of the import of the module, with a comment
    # on its line or the line above saying so.
    unexplained = []
    for path in sorted((ROOT / "webchat").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        lines = source.splitlines()
        for function in ast.walk(ast.parse(source)):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    line = lines[node.lineno - 1]
                    # A comment on the line, or on the line above its run of imports.
                    above = node.lineno - 2
                    while above > 0 and lines[above].strip().startswith(("import ", "from ")):
                        above -= 1
                    if "#" not in line and not lines[above].strip().startswith("#"):
                        unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}")
    assert not unexplained, "\n".join(unexplained)
