"""Never a traceback on any input; dump -> parse gives the same model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pykeepalived.config import load_config
from pykeepalived.config.dump import dump_model

HERE = Path(__file__).parent
SEEDS = [p.read_text() for p in sorted((HERE / "corpus").glob("*.conf"))]
ALPHABET = st.sampled_from(
    [
        *list('{}"#!$@~\\ \n\tabcdefgvrp_0123456789.:/-=(),'),
        "vrrp_instance ",
        "priority ",
        "interface eth0\n",
        "$X=",
        "${X}",
        "~SEQ(I,1,3) ",
        "~LST(A,1,2) ",
        "@x ",
        "include ",
        "virtual_ipaddress {",
        "192.0.2.1",
        "real_server ",
        "HTTP_GET {",
        "url {",
        "}\n",
    ]
)


def _load(text: str) -> tuple[object, list[object]]:
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as fh:
        fh.write(text)
    try:
        return load_config(fh.name, "x")  # type: ignore[return-value]
    finally:
        Path(fh.name).unlink()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(ALPHABET, max_size=80).map("".join))
def test_random_text_never_raises(text: str) -> None:
    _load(text)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(SEEDS), st.integers(0, 10_000), st.integers(0, 40), st.text(max_size=6))
def test_mutated_corpus_never_raises(seed: str, pos: int, cut: int, insert: str) -> None:
    p = pos % (len(seed) + 1)
    _load(seed[:p] + insert + seed[p + cut :])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(SEEDS))
def test_dump_reparse_same_model(seed: str) -> None:
    m1, _ = _load(seed)
    m2, _ = _load(dump_model(m1))  # type: ignore[arg-type]
    assert m1 == m2
