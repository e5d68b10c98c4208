"""No function over 150 lines in src (issue 14): a long function is a table of small handlers or a
sequence of named steps waiting to be written (config/grammar.py's keyword tables, config/routes.py's
_ROUTE_WORDS, config/build.py's _INSTANCE_KW, vrrp/receive.py's checks). A new one fails here."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
LIMIT = 150


def test_no_function_over_150_lines() -> None:
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LIMIT:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "\n".join(long)
