"""No keyword bag read outside config (issue 14): the configuration model keeps the keywords without
deep semantics, validated, as (keyword, value) pairs in `options` / `root_options` for the dump;
the runtime reads typed fields instead (GlobalDefs.vmac_prefix, VrrpInstance.promote_secondaries,
VipSpec...), so mypy checks every name it uses and a keyword is parsed once. This scans the AST of
src/ outside src/pykeepalived/config/ for those attributes: there must be none."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CONFIG = SRC / "pykeepalived" / "config"
BAGS = frozenset({"options", "root_options"})


def bag_reads() -> Counter[str]:
    reads: Counter[str] = Counter()
    for path in sorted(SRC.rglob("*.py")):
        if CONFIG in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in BAGS:
                reads[path.relative_to(SRC).as_posix()] += 1
    return reads


def test_no_keyword_bag_read_outside_config() -> None:
    found = dict(bag_reads())
    assert not found, f"keyword bags (options/root_options) read outside config: {found}; add a typed field"


# the one module that reads a vrrp_instance block outside config: it builds the Runtime entries
INSTANCE_BLOCK_READERS = {"pykeepalived/daemon/vrrp/runtimes.py"}


def test_the_vrrp_runtime_holds_no_instance_block() -> None:
    """The VRRP child's Runtime carries typed values (InstanceParams for the core, InstanceSetup for
    the wiring: config/instance_setup.py), not the configuration's vrrp_instance record: besides the
    builder, no module of the daemon or of the services beside it (control) imports that record."""
    importers = set()
    for package in ("daemon", "control"):
        for path in sorted((SRC / "pykeepalived" / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (isinstance(node, ast.ImportFrom) and node.module == "pykeepalived.config.model"
                        and any(a.name == "VrrpInstance" for a in node.names)):
                    importers.add(path.relative_to(SRC).as_posix())
    assert importers <= INSTANCE_BLOCK_READERS, importers - INSTANCE_BLOCK_READERS
