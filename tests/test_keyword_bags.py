"""No keyword bag read outside config (issue 14): the configuration model keeps the keywords without
deep semantics, validated, as (keyword, value) pairs in `options` / `root_options` for the dump;
the runtime reads typed fields instead (GlobalDefs.vmac_prefix, VrrpInstance.promote_secondaries,
VipSpec...), so mypy checks every name it uses and a keyword is parsed once. This scans the AST of
src/ outside src/pykeepalived/config/ for those attributes. The modules still reading a bag are
listed with how many reads they have left: a new read, or one more read in a listed module, fails;
so does a count that went down (shrink the list when a read goes)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CONFIG = SRC / "pykeepalived" / "config"
BAGS = frozenset({"options", "root_options"})

# still to move to typed fields (issue 14); keep it shrinking
LEFT = {
    "pykeepalived/control/snmp_vrrp.py": 1,
    "pykeepalived/daemon/dump_data.py": 5,
}


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
    new = {p: n for p, n in found.items() if n > LEFT.get(p, 0)}
    assert not new, f"keyword bags (options/root_options) read outside config: {new}; add a typed field"
    gone = {p: n for p, n in LEFT.items() if found.get(p, 0) < n}
    assert not gone, f"fewer bag reads than listed (shrink LEFT): {gone}"
