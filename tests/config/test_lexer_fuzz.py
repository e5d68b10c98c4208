"""Fuzz the lexer against keepalived 2.2.7 (issue 20.5): odd bytes in and between words.

Each example is a valid configuration with lines whose words are glued or separated by bytes the two
lexers could disagree on: the six ASCII spaces keepalived splits on, the characters only Python calls
white space (U+00A0, U+0085, U+2028, U+3000, \\x1c-\\x1f), bytes that are not UTF-8, NULs (which end a
line for keepalived), comment characters. The words are made visible by the messages they cause:
`Unknown keyword 'W'` (the first word of a line), `WARNING - interface W ... doesn't exist` (the
second one), `Truncating auth_pass to 8 characters` (the byte length of a password), `VRRP parsed
invalid IP W` (a virtual address). keepalived -t and pykeepalived -t run in one namespace on the same
file; their exit statuses and their messages, byte for byte, must be the same. Bounded: 60 examples,
each a keepalived -t (~50 ms) and our -t in this process; one more runs the pykeepalived command.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from differential import keepalived_cli, messages, our_cli, our_output  # type: ignore[import-not-found]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("keepalived") is None, reason="needs root and keepalived"
    ),
]

C_SPACE = [" ", "\t", "\f", "\v", "\r"]  # isspace() in the C locale ("\n" ends the line)
PY_SPACE = ["\xa0", "\x85", "\u2028", "\u3000", "\x1c", "\x1f"]  # str.split() only
NOT_UTF8 = ["\udcff", "\udca0", "\udc85"]  # lone bytes 0xff, 0xa0, 0x85 (surrogate-escaped)
LETTERS = list("abcxyz019_-.")

odd = st.sampled_from(PY_SPACE + NOT_UTF8 + ["é"])
sep = st.lists(st.sampled_from(C_SPACE + PY_SPACE), min_size=1, max_size=3).map("".join)
blank = st.lists(st.sampled_from(C_SPACE + PY_SPACE), max_size=2).map("".join)
# a word that can never be a keyword, an include, a conditional, a definition or a comment
word = st.lists(st.sampled_from(LETTERS) | odd, min_size=1, max_size=5).map(lambda w: "kw" + "".join(w))
tail = st.sampled_from(["", " # comment", "!x", "#\xa0y", "\x00ignored tail", ' "open', ' # "in a comment'])


@st.composite
def junk_line(draw: st.DrawFn) -> str:
    """Words that are no keyword: keepalived names the first one."""
    words = draw(st.lists(word, min_size=1, max_size=3))
    text = draw(blank).lstrip("\r")  # (a leading CR is harmless; one before "\n" is a line end)
    for i, w in enumerate(words):
        text += (draw(sep) if i else "") + w
    return text + draw(blank) + draw(tail)


@st.composite
def quoted_line(draw: st.DrawFn) -> str:
    """A quoted first word (quotes and comment characters inside it are part of it)."""
    inside = draw(st.lists(st.sampled_from(LETTERS + C_SPACE + PY_SPACE + ["#", "!", "{", "}"]), max_size=5))
    return draw(blank).lstrip("\r") + '"kw' + "".join(inside) + '"' + draw(sep) + draw(word) + draw(tail)


@st.composite
def conditional_line(draw: st.DrawFn) -> str:
    """`@id` / `@^id` (the config id is differential.CONFIG_ID): the id ends at a blank only."""
    ident = draw(st.sampled_from(["testid", "other", "testid\xa0", "testid\f"]))
    glue = draw(st.sampled_from([" ", "\t", "\xa0", "\f"]))
    return "@" + draw(st.sampled_from(["", "^"])) + ident + glue + draw(junk_line())


@st.composite
def brace_line(draw: st.DrawFn) -> str:
    """Braces at the top level: cut where they stand, counted, and reported."""
    return draw(word) + draw(blank) + "{" + draw(blank) + draw(word) + draw(blank) + "}" + draw(blank)


@st.composite
def definition_lines(draw: st.DrawFn) -> list[str]:
    """`$NAME=VALUE` and a use of it: the value keeps its odd bytes, the name ends where keepalived's
    does (a blank, ',' or ')': a name glued to U+00A0 is not replaced)."""
    value = draw(word) + draw(st.sampled_from(["", " ", "\xa0", "\f"])) + draw(word)
    use = draw(st.sampled_from(["$DEF", "${DEF}", "$DEF\xa0x", "$DEF\tkwz", "kwx$DEF"]))
    cond = draw(st.sampled_from(["", "", "@testid ", "@other ", "@^other\t", "@testid\xa0"]))
    return [f"{cond}$DEF={value}", draw(blank).lstrip("\r") + use]


@st.composite
def seq_line(draw: st.DrawFn) -> str:
    """~SEQ with odd bytes around its parts: only blanks are skipped there."""
    pad = st.sampled_from(["", " ", "\t", "\xa0", "\f"])
    cond = draw(st.sampled_from(["", "@testid "]))
    head = f"{cond}~SEQ({draw(pad)}i{draw(pad)},{draw(pad)}1,{draw(pad)}2{draw(pad)})"
    return head + draw(pad) + draw(word) + draw(st.sampled_from(["$i", "${i}", "$i\xa0x"]))


@st.composite
def lst_line(draw: st.DrawFn) -> str:
    """~LST with odd bytes in and around its values."""
    pad = st.sampled_from(["", " ", "\t", "\xa0", "\f"])
    values = ",".join(draw(pad) + draw(word) + draw(pad) for _ in range(draw(st.integers(1, 3))))
    use = draw(st.sampled_from(["$v", "${v}"]))
    return f"~LST({draw(pad)}v{draw(pad)},{values}){draw(pad)}" + draw(word) + use


root_line = st.one_of(junk_line(), quoted_line(), conditional_line(), brace_line(), seq_line(), lst_line())


@st.composite
def config(draw: st.DrawFn) -> str:
    iface = "eth0" + draw(st.sampled_from(["", "", *C_SPACE, *PY_SPACE, *NOT_UTF8])) + draw(
        st.sampled_from(["", "x", "eth1"]))
    password = "ab" + "".join(draw(st.lists(odd | st.sampled_from(LETTERS + C_SPACE), max_size=8)))
    vips = [
        f"192.0.2.{n}/24" + draw(st.sampled_from(["", "", "\xa0", "\x1c", "\udcff", " \f"]))
        for n in draw(st.lists(st.integers(1, 254), min_size=1, max_size=3, unique=True))
    ]
    root = [*draw(st.lists(root_line, max_size=3)), *draw(st.one_of(st.just([]), definition_lines()))]
    inner = draw(st.lists(junk_line(), max_size=2))
    lines = [
        *root,
        "vrrp_instance VI_1 {",
        "    state BACKUP",
        f"    interface {iface}",
        "    virtual_router_id 51",
        "    priority 100",
        "    authentication {",
        "        auth_type PASS",
        f"        auth_pass {password.strip(' ')}",
        "    }",
        "    virtual_ipaddress {",
        *(f"        {v}" for v in vips),
        "    }",
        *(f"    {ln}" for ln in inner),
        "}",
        *draw(st.lists(root_line, max_size=2)),
    ]
    return "\n".join(lines) + "\n"


def _agree(ours: tuple[int, bytes], theirs: tuple[int, bytes], text: str) -> None:
    (oc, oe), (kc, ke) = ours, theirs
    om, km = messages(oe), messages(ke)
    assert (oc, om) == (kc, km), (
        f"file {text!r}\nkeepalived rc={kc}, only keepalived: {sorted(km - om)}\n"
        f"ours rc={oc}, only ours: {sorted(om - km)}"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=config())
def test_lexer_agrees_with_keepalived(netns: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "k.conf"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        _agree(our_output(path, {"lo", "eth0", "eth1"}), keepalived_cli(netns, path), text)


def test_cli_prints_the_file_s_bytes(netns: str, tmp_path: Path) -> None:
    """pykeepalived -t itself (not only its messages): odd bytes come out as they went in."""
    text = ("kw\udcff\xa0x y\n\x00\nkw\x1c\x85 z # c\n" + "vrrp_instance VI_1 {\n interface eth0\xa0\n"
            " virtual_router_id 51\n priority 100\n virtual_ipaddress {\n 192.0.2.1/2\u2028\n }\n}\n")
    path = tmp_path / "k.conf"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    _agree(our_cli(netns, path), keepalived_cli(netns, path), text)
