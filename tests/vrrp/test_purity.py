"""The VRRP core does no I/O: no module in pykeepalived/vrrp imports an I/O or OS module."""

from __future__ import annotations

import ast
from pathlib import Path

import pykeepalived.vrrp

FORBIDDEN = {"socket", "asyncio", "os", "time", "subprocess", "select", "threading", "signal", "pyroute2"}
VRRP_DIR = Path(pykeepalived.vrrp.__file__).parent


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                roots.add(arg.value.split(".")[0])
    return roots


def test_vrrp_package_imports_no_io_modules() -> None:
    modules = sorted(VRRP_DIR.glob("*.py"))
    assert {m.name for m in modules} >= {"packet.py", "receive.py", "frames.py", "params.py"}
    offenders = {
        m.name: sorted(imported_roots(ast.parse(m.read_text(), str(m))) & FORBIDDEN) for m in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_walker_catches_forbidden_imports() -> None:
    sample = "import os.path\nfrom time import monotonic\nx = __import__('socket')\nimport asyncio as a\n"
    assert imported_roots(ast.parse(sample)) & FORBIDDEN == {"os", "time", "socket", "asyncio"}
