"""`make bench`: run every bench/bench_*.py, print one table, write bench/results/results.json.

Each bench module defines `main() -> list[dict]`; a row has `name`, `value`, `unit`, and optionally
`keepalived` (the same figure for keepalived 2.2.7 measured in the same run) and `goal`.

The package is byte-compiled first, as pip and Debian's packaging do at installation: a checkout
run with PYTHONDONTWRITEBYTECODE set (or from a read-only tree) would otherwise compile every
module from source at each daemon start, which costs start-up time (~0.15 s of CPU) and ~2.5 MB of
heap per process that an installed daemon does not pay.
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def main() -> int:
    only = sys.argv[1:]
    compileall.compile_dir(HERE.parent / "src" / "pykeepalived", quiet=1)
    rows: list[dict[str, object]] = []
    failed = 0
    for path in sorted(HERE.glob("bench_*.py")):
        if only and not any(o in path.stem for o in only):
            continue
        print(f"== {path.stem}", flush=True)
        try:
            for row in _load(path).main():
                row.setdefault("bench", path.stem)
                rows.append(row)
                ratio = ""
                k = row.get("keepalived")
                if isinstance(k, int | float) and k and isinstance(row["value"], int | float):
                    ratio = f"  ratio {row['value'] / k:.2f}"
                print(
                    f"  {row['name']:<58} {_fmt(row['value']):>12} {row['unit']:<6}"
                    f"  keepalived {_fmt(k) or '-':>10}{ratio}  goal {row.get('goal', '-')}",
                    flush=True,
                )
        except Exception:
            failed += 1
            traceback.print_exc()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {out / 'results.json'} ({len(rows)} figures)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
