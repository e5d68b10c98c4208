"""The generated documentation pages stay in step with the grammar and the bench output format."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from pykeepalived.config.grammar import ROOT, Kw

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def keywords(table: dict[str, Kw]) -> set[str]:
    out = set(table)
    for spec in table.values():
        if spec.block:
            out |= keywords(spec.block)
    return out


def test_compatibility_page_is_current_and_complete() -> None:
    page = (DOCS / "compatibility.md").read_text()
    assert page == load("gen_compat").render(), "run: python docs/gen_compat.py > docs/compatibility.md"
    for kw in keywords(ROOT):
        assert f"| `{kw}` |" in page, kw
    assert "| `pykeepalived_metrics_address` | extension |" in page


def test_performance_page_fills_from_bench_rows() -> None:
    gen = load("gen_perf")
    page = (DOCS / "performance.md").read_text()
    assert gen.BEGIN in page and gen.END in page
    rows = [{"bench": "bench_core", "name": "advert encode", "value": 1.5, "unit": "us", "keepalived": None,
             "goal": "< 5"}]
    out = gen.render(page, rows)
    assert "| advert encode | 1.5 | - | us | < 5 |" in out
    assert out.startswith(page.split(gen.BEGIN)[0]) and out.endswith(page.split(gen.END)[1])


def test_design_state_diagram_is_current() -> None:
    gen = load("gen_design")
    page = (DOCS / "design.md").read_text()
    assert page == gen.render(page), "run: python docs/gen_design.py"
    # every reason the core can give for a transition appears in the diagram
    from pykeepalived.vrrp.effects import Reason

    for r in Reason:
        assert r.value in gen.mermaid(), r
