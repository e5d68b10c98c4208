"""Fill docs/performance.md from the benchmark suite's output (bench/results/results.json).

    make bench && python docs/gen_perf.py

The page's prose stays as written; only the block between the `results:begin` / `results:end`
markers is regenerated: one table per bench module, with keepalived's figure from the same run and
the goal when the bench states one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "results.json"
PAGE = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "No results yet: run `make bench`, then `python docs/gen_perf.py`.\n"
    out: list[str] = []
    by_bench: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_bench.setdefault(str(r.get("bench", "bench")), []).append(r)
    for bench, items in sorted(by_bench.items()):
        out += [f"### {bench}", "", "| figure | pykeepalived | keepalived 2.2.7 | unit | goal |",
                "|---|---|---|---|---|"]
        for r in items:
            out.append(f"| {r['name']} | {fmt(r.get('value'))} | {fmt(r.get('keepalived'))} | "
                       f"{r.get('unit', '')} | {fmt(r.get('goal'))} |")
        out.append("")
    return "\n".join(out)


def render(page: str, rows: list[dict[str, object]]) -> str:
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table(rows)}{END}{tail}"


def main() -> int:
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    PAGE.write_text(render(PAGE.read_text(), rows))
    print(f"{PAGE}: {len(rows)} figures", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
