"""keepalived -t and pykeepalived -t on 136 real-world keepalived.conf files (tests/data/wild-configs,
from public repositories: SOURCES.tsv), in a namespace holding the interfaces they name (wild.py).

The exit status must be keepalived's on every file. The messages (as wild.messages reads them: each
`(Line N) text` once, the form that names the file or not alike) must be keepalived's on every file
but the few listed in EXPLAINED, each of which points at its entry in docs/compatibility.md
("keepalived -t on real-world files"); a file listed there that comes to match must leave the list.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from wild import compare, corpus, namespace, report  # type: ignore[import-not-found]

COMPAT = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"

# file -> the kind of difference (an anchor of docs/compatibility.md's list)
EXPLAINED: dict[str, str] = {}

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("keepalived") is None,
                       reason="needs root and keepalived"),
]


@pytest.fixture(scope="module")
def result() -> dict[str, tuple[tuple[int, int], set[tuple[int, str]], set[tuple[int, str]]]]:
    files = corpus()
    with namespace(files) as ns:
        return compare(ns, files)


def test_corpus_is_complete() -> None:
    files = corpus()
    listed = (files[0].parent / "SOURCES.tsv").read_text().splitlines()[1:]
    assert len(files) == 136 and sorted(ln.split("\t")[0] for ln in listed) == [f.name for f in files]


def test_exit_status_is_keepalived_s_on_every_file(result: dict) -> None:
    differ = {n: codes for n, (codes, _, _) in result.items() if codes[0] != codes[1]}
    assert not differ, report(result)


def test_messages_are_keepalived_s(result: dict) -> None:
    differ = {n for n, (_, a, b) in result.items() if a or b}
    assert differ - EXPLAINED.keys() == set(), report(result)
    assert EXPLAINED.keys() - differ == set(), "these now match keepalived: remove them from EXPLAINED"
    assert len(result) - len(differ) >= 136


def test_every_explained_difference_is_documented() -> None:
    text = COMPAT.read_text()
    missing = {kind for kind in EXPLAINED.values() if f'<a id="{kind}"></a>' not in text}
    assert not missing, f"no entry in docs/compatibility.md for {sorted(missing)}"
