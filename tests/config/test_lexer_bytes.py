"""The lexer splits words where keepalived does, byte for byte (issue 20.5), and the block structure
messages are keepalived's (issue 20.7). tests/config/test_lexer_fuzz.py compares with keepalived
itself; these pin the cases down without it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.command_words import WHITE_SPACE
from pykeepalived.config.diag import ConfigErr
from pykeepalived.config.lexer import PY_ONLY_SPACE
from pykeepalived.config.model import Model
from pykeepalived.config.to_params import instance_params
from pykeepalived.configtest import run_config_test

INSTANCE = """vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    authentication {{
        auth_type PASS
        auth_pass {pw}
    }}
    virtual_ipaddress {{
        192.0.2.1/24
    }}
}}
"""


def _load(tmp_path: Path, data: bytes) -> tuple[Model, list[tuple[int, str]]]:
    f = tmp_path / "k.conf"
    f.write_bytes(data)
    m, diags = load_config(str(f), "x")
    return m, [(d.loc.line, d.message) for d in diags]


def _test(tmp_path: Path, data: bytes) -> tuple[int, list[tuple[int, str]]]:
    f = tmp_path / "k.conf"
    f.write_bytes(data)
    code, diags = run_config_test(str(f), "x", interfaces={"lo", "eth0"})
    return code, [(d.loc.line, d.message) for d in diags if not d.log_only]


def test_white_space_is_the_c_locale_s() -> None:
    # keepalived's WHITE_SPACE is exactly the bytes isspace() accepts in the C locale...
    assert set(WHITE_SPACE) == {chr(b) for b in range(256) if bytes([b]).isspace()}
    # ...and PY_ONLY_SPACE every other character str.split() splits on (the fast path relies on it)
    only = re.compile("[" + PY_ONLY_SPACE + "]")
    python = {c for c in map(chr, range(0x110000)) if c.isspace()}
    assert {c for c in python if only.fullmatch(c)} == python - set(WHITE_SPACE)
    assert not any(only.fullmatch(c) for c in WHITE_SPACE)


@pytest.mark.parametrize("odd", ["\u00a0", "\u0085", "\u2028", "\u3000", "\x1c", "\x1f"])
def test_unicode_space_stays_in_the_password(tmp_path: Path, odd: str) -> None:
    """`auth_pass ab<U+00A0>cd` is one word, sent as its UTF-8 bytes (keepalived: 6162c2a06364)."""
    pw = f"ab{odd}cd"
    m, diags = _load(tmp_path, INSTANCE.format(pw=pw).encode())
    assert diags == []
    assert m.vrrp_instances[0].auth_pass == pw
    sent = instance_params(m, m.vrrp_instances[0]).auth_pass
    assert sent == pw.encode().ljust(8, b"\0")


def test_password_is_truncated_to_8_bytes_not_characters(tmp_path: Path) -> None:
    m, diags = _load(tmp_path, INSTANCE.format(pw="ab\u00a0cdefg").encode())  # 8 characters, 9 bytes
    assert diags == [(8, "Truncating auth_pass to 8 characters")]
    sent = instance_params(m, m.vrrp_instances[0]).auth_pass
    assert sent == b"ab\xc2\xa0cdef"


def test_a_byte_that_is_not_utf8_is_kept_and_sent(tmp_path: Path) -> None:
    m, diags = _load(tmp_path, INSTANCE.format(pw="ab\udcffcd").encode("utf-8", "surrogateescape"))
    assert diags == []
    assert instance_params(m, m.vrrp_instances[0]).auth_pass == b"ab\xffcd\0\0\0"


@pytest.mark.parametrize("sep", [" ", "\t", "\f", "\v", "\r"])
def test_c_white_space_separates(tmp_path: Path, sep: str) -> None:
    m, diags = _load(tmp_path, INSTANCE.format(pw=f"ab{sep}cd").encode())
    assert diags == [] and m.vrrp_instances[0].auth_pass == "ab"


def test_unknown_keyword_keeps_its_odd_bytes(tmp_path: Path) -> None:
    text = "foo\u00a0bar baz\nq\x1cw e\n\x1cfoo\n@x\u00a0notaline y\n"
    _, diags = _load(tmp_path, text.encode())
    assert diags == [
        (1, "Unknown keyword 'foo\u00a0bar'"),
        (2, "Unknown keyword 'q\x1cw'"),
        (3, "Unknown keyword '\x1cfoo'"),  # only blanks are stripped from a line
    ]  # line 4: the config id ends at the blank ("x\u00a0notaline" is not "x")


def test_nul_ends_the_line(tmp_path: Path) -> None:
    """keepalived reads lines as C strings: a NUL-only line is empty, a NUL cuts a line short."""
    code, diags = _test(tmp_path, b"\0\nglobal_defs {\n router_id ab\0cd ef\n}\n\0\0\n" + INSTANCE.format(
        pw="pw").encode())
    assert (code, diags) == (0, [])
    m, _ = _load(tmp_path, b"global_defs {\n router_id ab\0cd ef\n}\n")
    assert m.global_defs.router_id == "ab"


def test_lines_of_white_space_only(tmp_path: Path) -> None:
    code, diags = _test(tmp_path, b"\f\n\v \t\r\n \r\r\n" + INSTANCE.format(pw="pw").encode())
    assert (code, diags) == (0, [])


def test_line_length_is_counted_in_bytes(tmp_path: Path) -> None:
    long = "router_id " + "\u00e9" * 510  # 520 characters, 1030 bytes: over keepalived's 1024
    _, diags = _load(tmp_path, f"global_defs {{\n {long}\n}}\n".encode())
    assert diags == [(2, "line too long - ignoring")]


def test_block_without_opening_brace(tmp_path: Path) -> None:
    """keepalived reads the line after the keyword as the block's first line."""
    text = INSTANCE.format(pw="pw").replace("VI_1 {", "VI_1", 1)
    code, diags = _test(tmp_path, text.encode())
    assert (code, diags) == (5, [(2, "Missing '{' at beginning of configuration block"),
                                 (13, "Extra '}' found")])
    m, _ = _load(tmp_path, text.encode())
    assert m.vrrp_instances[0].priority == 100 and m.vrrp_instances[0].state == "BACKUP"


def test_block_without_opening_brace_closed_at_once(tmp_path: Path) -> None:
    code, diags = _test(tmp_path, b"vrrp_instance VI_1\n}\n")
    assert code == 5
    assert diags[:2] == [(2, "Extra '}' found"), (2, "Missing '{' at beginning of configuration block")]


def test_value_block_without_opening_brace(tmp_path: Path) -> None:
    """alloc_value_block() only logs the missing `{` and takes the line as an entry."""
    text = INSTANCE.format(pw="pw").replace("virtual_ipaddress {", "virtual_ipaddress", 1)
    code, diags = _test(tmp_path, text.encode())
    assert (code, diags) == (5, [(13, "Extra '}' found")])
    m, all_diags = _load(tmp_path, text.encode())
    assert [str(v.address) for v in m.vrrp_instances[0].vips] == ["192.0.2.1"]
    assert (11, "'{' missing from beginning of block virtual_ipaddress") in all_diags
    logged = [d for d in load_config(str(tmp_path / "k.conf"), "x")[1] if d.log_only]
    assert [(d.level, d.format()) for d in logged] == [  # logged as keepalived logs it: no location
        (ConfigErr.OK, "'{' missing from beginning of block virtual_ipaddress")]


def test_value_block_extra_parameters(tmp_path: Path) -> None:
    text = INSTANCE.format(pw="pw").replace("virtual_ipaddress {", "virtual_ipaddress foo bar {", 1)
    code, diags = _test(tmp_path, text.encode())
    assert (code, diags) == (5, [(10, "Block virtual_ipaddress has extra parameters foo ...")])


def test_quoted_brace_is_a_word(tmp_path: Path) -> None:
    """Only braces outside quotes cut a line (and count); a quoted "}" still ends a value block."""
    m, diags = _load(tmp_path, b'global_defs {\n router_id "{x}"\n}\n')
    assert diags == [] and m.global_defs.router_id == "{x}"
    text = INSTANCE.format(pw="pw").replace("192.0.2.1/24", '192.0.2.1/24 "}"', 1)
    code, diags = _test(tmp_path, text.encode())
    assert (code, diags) == (5, [(13, "Unknown keyword '}'")])  # the blocks closed one line early


def test_seq_has_no_limit(tmp_path: Path) -> None:
    """keepalived expands every value of a ~SEQ (pykeepalived stopped at 100,000 without a word)."""
    m, diags = _load(tmp_path, b"global_defs {\n~SEQ(i,1,100002) router_id r$i\n}\n")
    assert diags == [] and m.global_defs.router_id == "r100002"


def test_did_you_mean_for_the_first_unknown_keywords_only(tmp_path: Path) -> None:
    """The hint (a pykeepalived addition) costs ~30 µs a word: a million unknown keywords from one
    ~SEQ line get it for the first HINTS."""
    from pykeepalived.config.parser import HINTS

    f = tmp_path / "k.conf"
    f.write_bytes(f"~SEQ(i,1,{HINTS + 5}) global_defz$i\n".encode())
    diags = load_config(str(f), "x")[1]
    assert [d.message for d in diags[:2]] == [f"Unknown keyword 'global_defz{i}'" for i in (1, 2)]
    assert {d.hint for d in diags[:HINTS]} == {"    did you mean 'global_defs'?"}
    assert {d.hint for d in diags[HINTS:]} == {None} and len(diags) == HINTS + 5


def test_script_words_split_on_c_spaces_only(tmp_path: Path) -> None:
    """A script line is split as keepalived's alloc_strvec_quoted_escaped(): the command keeps a
    U+00A0 (before it and inside it), a form feed separates the user."""
    text = ("vrrp_script a {\n script \u00a0/bin/true\u00a0x\n}\n"
            "vrrp_script b {\n script \"/bin/true\u00a0y\"\n}\n"
            "vrrp_script c {\n script\f/bin/true\fnobody\n}\n")
    m, _ = _load(tmp_path, text.encode())
    assert [s.script for s in m.vrrp_scripts] == [
        ("\u00a0/bin/true\u00a0x", "", ""), ("/bin/true\u00a0y", "", ""), ("/bin/true", "nobody", "")]


def test_unterminated_quote(tmp_path: Path) -> None:
    """keepalived's decomment() reports a quote left open (a quote in a comment does not count)
    before the words are read."""
    _, diags = _load(tmp_path, b'kwa "b # c" "d\nkwc # "x\n')
    line = 'kwa "b # c" "d'
    assert diags == [(1, f"Unterminated quote '{line}'"), (1, f"Unmatched quote: '{line}'"),
                     (1, "Unknown keyword 'kwa'"), (2, "Unknown keyword 'kwc'")]


def test_generated_lines_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ~SEQ typo (~SEQ(i,1,3000000000)) would run until memory is gone, as in keepalived; past
    MAX_GENERATED lines pykeepalived says so (fatal: -t exit 4, a reload keeps the running file)."""
    from pykeepalived.config import lexer

    monkeypatch.setattr(lexer, "MAX_GENERATED", 5)
    f = tmp_path / "k.conf"
    f.write_bytes(b"global_defs {\n~SEQ(a,1,3000000000) ~SEQ(b,1,2) router_id r${a}_$b\n"
                  b"~LST(c,x,y) router_id $c\n}\n")
    code, diags = run_config_test(str(f), "x", interfaces={"lo"})
    assert [(d.loc.line, d.message) for d in diags] == [
        (2, "~SEQ/~LST generate more than 5 lines - ignoring the rest")]
    assert code == 4
    # generated: a=1, r1_1, r1_2, a=2, r2_1; the 6th (r2_2) is refused, and the ~LST
    assert load_config(str(f), "x")[0].global_defs.router_id == "r2_1"
