# Theory of operation
# -------------------
# The preprocessing pass of keepalived's lib/parser.c, kept apart from the grammar (style-anchors
# §8.4). It reads the main file line by line and yields `Segment`s: the words of one piece of a line,
# each carrying its file and line number. Braces outside double quotes split a line, so
# `virtual_ipaddress { 192.0.2.1 }` becomes the segments `virtual_ipaddress`, `{`, `192.0.2.1`, `}`
# on the same line (keepalived hands the words between braces over as one entry).
#
# Per physical line, in keepalived's order: `$NAME=VALUE` definitions (multi-line with trailing `\`),
# `$NAME` / `${NAME}` substitution (repeated until stable), comment removal (`#`/`!` outside quotes,
# `\#` `\!` literal), `@ID` / `@^ID` conditionals against the config id, `~SEQ(...)` / `~LST(...)`
# expansion, and `include PATTERN` (glob with csh braces, relative to the including file's
# directory; missing files logged but not fatal; loops refused).
#
# White space is keepalived's, byte for byte: words are separated by the six ASCII characters C's
# isspace() accepts in the C locale (WHITE_SPACE), and a line loses only leading and trailing blanks
# (space, tab) and trailing CRs; a NUL ends the line (keepalived reads lines as C strings). Nothing
# else separates words: not U+00A0, U+0085, U+2028 (which Python's str.split() and `\s` take for
# white space), not \x1c-\x1f, and not a stray byte that is not UTF-8 (kept as a surrogate escape).
#
# Speed: most lines contain none of the special characters (nor any white space Python knows and
# keepalived does not), so they take a single `str.split()`; the others go through a few compiled
# regular expressions, never a per-character loop.
"""keepalived.conf preprocessing and tokenising (lib/parser.c)."""

from __future__ import annotations

import glob as globmod
import os
import random
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pykeepalived.config.command_words import WHITE_SPACE
from pykeepalived.config.diag import NOWHERE, ConfigErr, Diagnostic, Loc, Reporter
from pykeepalived.config.glibc_random import GlibcRandom
from pykeepalived.config.include_check import (
    ALL,
    INCLUDE_B,
    INCLUDE_M,
    INCLUDE_R,
    INCLUDE_W,
    KIND_FLAGS,
    apply_include_check,
    has_wildcards,
    missing,
)

MAX_LINE = 1024  # keepalived MAXBUF: longer lines are dropped
MAX_INCLUDE_DEPTH = 32
# Lines ~SEQ and ~LST may generate in one file (keepalived has no limit: a typo such as
# ~SEQ(i,1,3000000000) runs until memory is gone). A million lines take pykeepalived ~6 s and
# ~300 MB; the limit leaves twice that.
MAX_GENERATED = 2_000_000


@dataclass(frozen=True, slots=True)
class Segment:
    """The words of one line piece; `words == ("{",)` or `("}",)` for a brace."""

    loc: Loc
    words: tuple[str, ...]
    raw: str  # the piece's text after comment removal (quoted keywords re-parse it)


BLANK = " \t"  # isblank() in the C locale: what decomment() strips from both ends of a line
# The characters str.split() (and `\s`) take for white space that keepalived does not: a line holding
# one goes the slow way, where words are split on WHITE_SPACE only. tests/config/test_lexer_bytes.py
# checks this list against str.isspace() over all of Unicode.
PY_ONLY_SPACE = "\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPECIAL = re.compile(r'["#!$@~{}\\' + PY_ONLY_SPACE + "]")
_WORDS = re.compile(r"[^ \t\n\v\f\r]+")
_TOKEN = re.compile(r'"([^"]*)"|([{}])|([^ \t\n\v\f\r"{}]+)')
_COMMENT_PREFIX = re.compile(r'(?:[^"#!\\]|\\.?|"[^"]*"?)*')
_DEF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
# $NAME ends at a blank, ',' or ')'; ${NAME ARGS} takes arguments after a space (${_RANDOM 1 9})
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?: [^}]*)?)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=[ \t,)]|$)")
_RANDOM_ARGS = re.compile(r" [ 0-9]*[0-9]")  # ${_RANDOM MIN MAX}: digits and spaces, no space last
_COND = re.compile(r"@(\^?)([^ \t]*)[ \t]+(.*)$")  # the id ends at the first blank; none: no line
_INCLUDE = re.compile(r"include([rmwba]?)[ \t\n\v\f\r][ \t]*(.*)$")


def short_hostname() -> str:
    return socket.gethostname().split(".", 1)[0]


def expand_braces(pattern: str) -> list[str]:
    """csh-style `{a,b}` expansion, as glob(GLOB_BRACE) does."""
    depth = 0
    start = -1
    for i, ch in enumerate(pattern):  # patterns are short; this runs once per include
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                inner = pattern[start + 1 : i]
                parts, d, cur = [], 0, ""
                for c in inner:
                    if c == "," and d == 0:
                        parts.append(cur)
                        cur = ""
                        continue
                    d += c == "{"
                    d -= c == "}"
                    cur += c
                parts.append(cur)
                out: list[str] = []
                for p in parts:
                    out.extend(expand_braces(pattern[:start] + p + pattern[i + 1 :]))
                return out
    return [pattern]


def split_words(text: str) -> tuple[list[str], bool]:
    """Normal-keyword tokenising: returns (words, unmatched_quote)."""
    if '"' not in text and "{" not in text and "}" not in text:
        return _WORDS.findall(text), False
    words: list[str] = []
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in WHITE_SPACE:
            pos += 1
        if pos >= n:
            break
        if text[pos] == '"':
            end = text.find('"', pos + 1)
            if end < 0:
                return words, True
            words.append(text[pos + 1 : end])
            pos = end + 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the pattern always matches a non-blank
            break
        words.append(m.group(0))
        pos = m.end()
    return words, False


class Lexer:
    """Reads a config file tree and yields `Segment`s; problems go to the `Reporter`."""

    def __init__(self, rep: Reporter, config_id: str | None = None, all_config: bool = False,
                 random_seed: int | None = None) -> None:
        self.rep = rep
        self.config_id = short_hostname() if config_id is None else config_id
        self.all_config = all_config
        self.defs: dict[str, list[str]] = {}  # name -> lines (one for a simple definition)
        self._stack: list[str] = []  # real paths being read (include loop detection)
        self._pwd = "."
        self.files: list[str] = []
        self.opened: list[str] = []  # as keepalived names them in its `Opening file '...'.` lines
        # ${_RANDOM}: glibc's random() seeded by `random_seed` (as keepalived), else unseeded
        self._rand: random.Random | GlibcRandom = (
            random.Random() if random_seed is None else GlibcRandom(random_seed))
        self.used_random = False
        self.include_check = 0  # global_defs include_check (config/include_check.py)
        self.open_braces = 0  # `{` not yet closed by a `}`, over all files (see _count_brace)
        self.generated = 0  # lines generated by ~SEQ / ~LST (MAX_GENERATED)

    # -- files ---------------------------------------------------------------------------------
    def read_main(self, pattern: str) -> Iterator[Segment]:
        matches = sorted(globmod.glob(pattern)) if globmod.has_magic(pattern) else [pattern]
        if not matches or not os.path.isfile(matches[0]):
            self.rep.error(
                Loc("", 0),
                f"Configuration file '{pattern}' is not a regular non-executable file"
                if matches and os.path.exists(matches[0])
                else f"Unable to find configuration file {pattern}",
                ConfigErr.FILE_NOT_FOUND,
            )
            return
        if len(matches) > 1:
            self.rep.error(
                Loc("", 0),
                f"WARNING, multiple configuration file matches of {pattern}, starting with {matches[0]}",
                ConfigErr.MULTIPLE_FILES,
            )
        yield from map(self.check_segment, self._read_file(matches[0], matches[0]))
        if self.open_braces:
            self.rep.error(NOWHERE, f"There are {self.open_braces} missing '}}'s or extra '{{'s",
                           ConfigErr.MISSING_EOB)

    def _read_file(self, path: str, shown: str, named: str | None = None) -> Iterator[Segment]:
        real = os.path.realpath(path)
        if real in self._stack:
            self.rep.error(Loc(shown, 0), f"Include loop detected: {path} is already being read")
            return
        if len(self._stack) >= MAX_INCLUDE_DEPTH:
            self.rep.error(Loc(shown, 0), f"Includes nested too deeply at {path}")
            return
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as e:
            self.rep.error(
                Loc(shown, 0), f"Configuration file '{path}' open problem ({e.strerror}) - skipping"
            )
            return
        text = data.decode("utf-8", "surrogateescape")
        self._stack.append(real)
        self.files.append(path)
        self.opened.append(path if named is None else named)
        saved_pwd = self._pwd
        self._pwd = os.path.dirname(path) or "."
        try:
            yield from self._lines(text.split("\n"), shown)
        finally:
            self._pwd = saved_pwd
            self._stack.pop()

    def check_segment(self, seg: Segment) -> Segment:
        """`include_check` applies to the includes after it: seen here as the parser reads on."""
        if seg.words and seg.words[0] == "include_check":
            self.include_check, errors = apply_include_check(self.include_check, seg.words[1:])
            for e in errors:
                self.rep.error(seg.loc, e)
        return seg

    def _file_error(self, loc: Loc, flags: int, check: int, msg: str) -> None:
        """keepalived file_config_error(): an error only when the include has that check."""
        if flags & check:
            self.rep.error(loc, msg, ConfigErr.FILE_NOT_FOUND)
        else:
            self.rep.diags.append(_info(loc, msg))

    def _include(self, loc: Loc, kind: str, pat: str) -> Iterator[Segment]:
        """`include PATTERN`: the rest of the line is one pattern, quotes and blanks included
        (keepalived: `include a.conf b.conf` looks for a file named "a.conf b.conf")."""
        flags = self.include_check | KIND_FLAGS.get(kind, 0) | (ALL if self.all_config else 0)
        full = pat if os.path.isabs(pat) else os.path.join(self._pwd, pat)
        found: list[str] = []
        alternatives = expand_braces(full)
        any_missing = False
        for alt in alternatives:
            if missing(alt):
                any_missing = True
            found.extend(
                sorted(globmod.glob(alt))
                if globmod.has_magic(alt)
                else ([alt] if os.path.exists(alt) else [])
            )
        if not found:
            if any_missing:
                self._file_error(loc, flags, INCLUDE_B if len(alternatives) > 1 else INCLUDE_M,
                                 f"Config files missing '{pat}'.")
            elif has_wildcards(full) and flags & INCLUDE_W:
                self._file_error(loc, flags, INCLUDE_W, f"No config files matched '{pat}'.")
            return
        if any_missing:
            self._file_error(loc, flags, INCLUDE_B, f'Some config files missing: "{pat}".')
            if flags & INCLUDE_B:
                return
        for f in found:
            if not os.path.isfile(f) or os.access(f, os.X_OK):
                self._file_error(
                    loc, flags, INCLUDE_R,
                    f"Configuration file '{f}' is not a regular non-executable file - skipping"
                )
                continue
            shown = f if os.path.isabs(pat) else os.path.normpath(f)
            # keepalived reads in the including file's directory: a relative pattern's matches as such
            named = f if os.path.isabs(pat) else f.removeprefix(os.path.join(self._pwd, ""))
            yield from self._read_file(f, shown, named)

    # -- lines ---------------------------------------------------------------------------------
    def _lines(self, lines: list[str], shown: str) -> Iterator[Segment]:
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            i += 1
            lineno = i
            if len(line) * 4 >= MAX_LINE and _line_bytes(line) >= MAX_LINE:
                self.rep.error(Loc(shown, lineno), "line too long - ignoring")
                continue
            text = _clean(line)
            if not text:
                continue
            if _SPECIAL.search(text) is None and not text.startswith("include"):
                words = text.split()
                if words:  # a line of \f or \v only has no words
                    yield Segment(Loc(shown, lineno), tuple(words), text)
                continue
            loc = Loc(shown, lineno)
            if '"' in text and _quote_left_open(text):
                self.rep.error(loc, f"Unterminated quote '{_unescape(text)}'")
            at_done = text[0] == "@"  # keepalived: the config id first, then a definition
            if at_done:
                text = self._conditional(text)
                if not text:
                    continue
            m = _DEF.match(text)
            if m:
                name, value = m.group(1), m.group(2).lstrip(BLANK)
                if value.endswith("\\") or value == "":
                    body: list[str] = []
                    if value.endswith("\\"):
                        body.append(value[:-1].rstrip(BLANK))
                    elif value == "" and i < n and _clean(lines[i]).endswith("\\"):
                        pass
                    else:
                        self.defs[name] = [value]
                        continue
                    while i < n:
                        nxt = _clean(lines[i])
                        i += 1
                        if nxt.endswith("\\"):
                            body.append(nxt[:-1].rstrip(BLANK))
                            continue
                        if nxt:
                            body.append(nxt)
                        break
                    self.defs[name] = [b for b in body if b]
                else:
                    self.defs[name] = [value]
                continue
            yield from self._logical(text, loc, at_done=at_done)

    def _logical(self, text: str, loc: Loc, depth: int = 0, at_done: bool = False) -> Iterable[Segment]:
        """One logical line's segments, in keepalived's order: `@ID`, ~SEQ/~LST, `$` substitution
        (then the line is read again if it starts with `@` or still holds a `$`), comments, include.
        A plain line's come as a list (a ~SEQ of a million lines makes a million of them: no
        generator each), an include's or a ~SEQ's lazily. `at_done`: `@ID` was handled."""
        if depth > 16:
            self.rep.error(loc, "Parameter/sequence nesting too deep")
            return ()
        if not text:
            return ()
        if text[0] == "@" and not at_done:
            text = self._conditional(text)
            if not text:
                return ()
        if text[0] == "~":  # keepalived reads ~SEQ/~LST before substituting, any other ~ line as is
            text = self._decomment(text)
            if text.startswith("~SEQ"):
                return self._seq(text, loc, depth)
            if text.startswith("~LST"):
                return self._lst(text, loc, depth)
            return self._words(text, loc)
        if "$" in text:
            expanded, stable = self._substitute(text, loc)
            if len(expanded) > 1 or not stable:  # a multi-line definition's lines, or a loop
                return self._each_logical(expanded, loc, depth + 1)
            new = expanded[0].strip(BLANK)  # no more to substitute
            if new != text:
                if not new:
                    return ()
                if new[0] == "@" or "$" in new:  # keepalived reads it again
                    return self._logical(new, loc, depth + 1)
                text = new
        text = self._decomment(text)
        if not text:
            return ()
        if text.startswith("include"):
            im = _INCLUDE.match(text)
            if im:
                return self._include(loc, im.group(1), im.group(2))
        return self._words(text, loc)

    def _conditional(self, text: str) -> str:
        """`@ID LINE` / `@^ID LINE`: LINE if this is (is not) config id ID, else nothing."""
        m = _COND.match(text)
        if m is None:
            return ""
        neg, ident, rest = m.group(1) == "^", m.group(2), m.group(3)
        return "" if (ident == self.config_id) == neg else rest

    def _words(self, text: str, loc: Loc) -> Iterable[Segment]:
        if "{" in text or "}" in text:
            return self._brace_segments(text, loc)
        seg = self._segment(text, text, loc)
        return () if seg is None else (seg,)

    def _each_logical(self, lines: list[str], loc: Loc, depth: int) -> Iterator[Segment]:
        for line in lines:
            yield from self._logical(line.strip(BLANK), loc, depth)

    def _brace_segments(self, text: str, loc: Loc) -> Iterator[Segment]:
        for piece in _brace_pieces(text):
            if piece == "{" or piece == "}":
                self._count_brace(piece, loc)
                yield Segment(loc, (piece,), piece)
            elif (seg := self._segment(piece, text, loc)) is not None:
                yield seg

    def _segment(self, piece: str, line: str, loc: Loc) -> Segment | None:
        """The words of a piece of `line` between braces (None: no words)."""
        words, unmatched = split_words(piece)
        if unmatched:
            self.rep.error(loc, f"Unmatched quote: '{line}'", ConfigErr.UNMATCHED_QUOTE)
        if not words:
            return None
        if "\\" in piece:
            return Segment(loc, tuple(map(_unescape, words)), _unescape(piece))
        return Segment(loc, tuple(words), piece)

    def _count_brace(self, brace: str, loc: Loc) -> None:
        """keepalived's read_line() counts the braces of the whole input, block structure aside."""
        if brace == "{":
            self.open_braces += 1
        elif self.open_braces:
            self.open_braces -= 1
        else:
            self.rep.error(loc, "Extra '}' found", ConfigErr.UNEXPECTED_EOB)

    @staticmethod
    def _decomment(text: str) -> str:
        if "#" not in text and "!" not in text:
            return text
        m = _COMMENT_PREFIX.match(text)
        end = m.end() if m else 0
        kept = text[:end].rstrip(BLANK)
        if end < len(text) and (len(text) - len(text.rstrip("\\"))) % 2:
            # keepalived's decomment() keeps a trailing `\` of the comment (line "continuation"),
            # which is then a word of its own: a comment line ending in `\` is `Unknown keyword '\'`
            kept += "\\"
        return kept

    def _predefined(self, name: str, args: str, loc: Loc) -> str | None:
        if name == "_PWD":
            return os.path.abspath(self._pwd)
        if name == "_INSTANCE":
            return self.config_id
        if name == "_HASH":
            return "\\#"
        if name == "_BANG":
            return "\\!"
        if name == "_ENV":
            return os.environ.get(args.strip(), "")
        if name == "_RANDOM":
            parts = args.split(" ")  # digits and spaces only (_RANDOM_ARGS)
            parts = [x for x in parts if x]
            lo = int(parts[0]) if parts else 0
            hi = int(parts[1]) if len(parts) > 1 else 32767
            if lo > hi:
                self.rep.error(loc, f"_RANDOM min {lo} > max {hi}")
                return str(lo)
            self.used_random = True
            return str(self._rand.randint(lo, hi))
        return None

    def _substitute(self, text: str, loc: Loc) -> tuple[list[str], bool]:
        """`$NAME` and `${NAME}` replaced until nothing changes: ([text], True); a line that is a
        multi-line definition alone: (its lines, False); still changing after 32 rounds: False."""
        defs = self.defs
        changed = False

        def repl(m: re.Match[str]) -> str:
            nonlocal changed
            name = m.group(1) or m.group(3)
            args = m.group(2) or ""
            if args.strip(" ") and name != "_ENV" and (name != "_RANDOM" or not _RANDOM_ARGS.fullmatch(args)):
                return m.group(0)  # keepalived: arguments are digits, for a definition that takes some
            value = defs.get(name)
            if value is not None:
                changed = True
                return " ".join(value)
            if name.startswith("_"):
                v = self._predefined(name, args, loc)
                if v is not None:
                    changed = True
                    return v
            return m.group(0)

        for _ in range(32):
            whole = text.strip(BLANK)
            if whole[:1] == "$":
                lines = defs.get(whole[2:-1] if whole[1:2] == "{" and whole[-1] == "}" else whole[1:])
                if lines is not None and len(lines) != 1:
                    return list(lines), False
            changed = False
            text = _VAR.sub(repl, text)
            if not changed or "$" not in text:
                return [text], True
        return [text], False

    def _seq(self, text: str, loc: Loc, depth: int) -> Iterator[Segment]:
        """`~SEQ[x](VAR, [START,] [STEP,] END) LINE`, read as keepalived's add_seq() reads it: blanks
        only around the parts, numbers as strtol(), its messages; LINE once per value."""
        parsed = self._seq_params(text, loc)
        if parsed is None:
            self.rep.error(loc, f"Invalid ~SEQ specification '{text}'")
            return
        var, start, step, end, hexa, rest = parsed
        v = start
        while True:  # the first value always, as keepalived
            if not self._generate(loc):
                return
            self.defs[var] = [format(v, "x") if hexa else str(v)]
            yield from self._logical(rest, loc, depth + 1)
            v += step
            if (step > 0 and v > end) or (step < 0 and v < end):
                break  # VAR keeps its last value, as in keepalived

    def _generate(self, loc: Loc) -> bool:
        """Count one generated line; False (said once, fatal) past MAX_GENERATED."""
        self.generated += 1
        if self.generated <= MAX_GENERATED:
            return True
        if self.generated == MAX_GENERATED + 1:
            self.rep.error(loc, f"~SEQ/~LST generate more than {MAX_GENERATED} lines - ignoring the rest",
                           ConfigErr.FATAL)
        return False

    def _seq_params(self, text: str, loc: Loc) -> tuple[str, int, int, int, bool, str] | None:
        hexa = text[4:5] == "x"
        p = _skip_blanks(text, 5 if hexa else 4)
        if text[p : p + 1] != "(":
            return None
        p = var_start = _skip_blanks(text, p + 1)
        while p < len(text) and text[p] not in " \t,)":
            p += 1
        var = text[var_start:p]
        p = _skip_blanks(text, p)
        if p >= len(text) or text[p] == ")" or not var:
            self.rep.error(loc, f"Invalid ~SEQ definition '{text}'")
            return None
        p = _skip_blanks(text, p + 1)  # past the ',' (or whatever stands there: keepalived's quirk)
        close = text.find(")", p)
        if close < 0 or close - p + 2 > 64:  # keepalived's buffer for the numbers
            self.rep.error(loc, f"~SEQ parameter strings too long '{text}'")
            return None
        params, _ = self._substitute(text[p : close + 1], loc)
        if len(params) > 1:
            self.rep.error(loc, f"~SEQ parameter is multiline definition '{text}'")
            return None
        nums, tail = _strtol_list(params[0])
        if tail != ")" or not 1 <= len(nums) <= 3:
            self.rep.error(loc, f"Invalid ~SEQ definition '{text}'")
            return None
        if len(nums) == 1:
            end = nums[0]
            step, start = (-1 if end < 1 else 1), (-1 if end < 0 else 1)
        elif len(nums) == 2:
            start, end = nums
            step = 1 if start <= end else -1
        else:
            start, step, end = nums
            if not step or (start < end and step < 0) or (start > end and step > 0):
                self.rep.error(loc, f"Invalid ~SEQ values '{text}'")
                return None
        if hexa and (start < 0 or end < 0):
            self.rep.error(loc, f"~SEQx is only valid for positive numbers '{text}'")
            return None
        return var, start, step, end, hexa, text[close + 1 :].lstrip(BLANK)

    def _lst(self, text: str, loc: Loc, depth: int) -> Iterator[Segment]:
        """`~LST(VAR, V1, V2...) LINE` or `~LST({VAR1,VAR2}, {V1,V2}, ...) LINE`, read as keepalived's
        add_lst() reads it: LINE once per set of values (missing ones empty)."""
        parsed = self._lst_params(text, loc)
        if parsed is None:
            self.rep.error(loc, f"Invalid ~LST specification '{text}'")
            return
        names, rows, rest = parsed
        for row in rows:  # the names keep their last values, as in keepalived
            if not self._generate(loc):
                return
            for name, value in zip(names, row, strict=True):
                self.defs[name] = [value]
            yield from self._logical(rest, loc, depth + 1)

    def _lst_params(self, text: str, loc: Loc) -> tuple[list[str], list[list[str]], str] | None:
        p = _skip_blanks(text, 4)
        if text[p : p + 1] != "(":
            return None
        names, p, end = _lst_words(text, _skip_blanks(text, p + 1), " \t,}")
        if names is None or (end == "}" and text[p : p + 1] != "}"):
            return None
        if text[p : p + 1] == "}":
            p = _skip_blanks(text, p + 1)
        if text[p : p + 1] != ",":
            return None
        p = _skip_blanks(text, p + 1)
        rows: list[list[str]] = []
        while True:
            values, p, end = _lst_words(text, p, " \t,})", len(names))
            if values is None:
                if end == "many":
                    self.rep.error(loc, f"~LST specification has too many values '{text}'")
                return None
            rows.append(values + [""] * (len(names) - len(values)))
            if text[p : p + 1] == "}" and end == "}":
                p = _skip_blanks(text, p + 1)
            if text[p : p + 1] == ")":
                return names, rows, text[p + 1 :].lstrip(BLANK)
            if text[p : p + 1] != ",":
                return None
            p = _skip_blanks(text, p + 1)


def _lst_words(text: str, p: int, stop: str, most: int = 0) -> tuple[list[str] | None, int, str]:
    """One ~LST group: words up to the group's end, `{a,b}` or a single word (then ',' or ')' ends
    it). Returns (words or None when malformed, position of the end character, the group's end
    character or "many" when more than `most` words)."""
    end = ","
    if text[p : p + 1] == "{":
        end, p = "}", _skip_blanks(text, p + 1)
    words: list[str] = []
    while True:
        q = p
        while p < len(text) and text[p] not in stop:
            p += 1
        words.append(text[q:p])
        p = _skip_blanks(text, p)
        c = text[p : p + 1]
        if c == end or (c == ")" and end == "," and most):
            return words, p, end
        if c != ",":
            return None, p, end
        p = _skip_blanks(text, p + 1)
        if most and len(words) >= most:
            return None, p, "many"


_BRACE_OR_QUOTE = re.compile(r'"[^"]*"|"|[{}]')


def _brace_pieces(text: str) -> list[str]:
    """The line cut at each brace outside double quotes (keepalived's read_line()): the pieces between
    braces, blanks stripped, and the braces alone. An unmatched quote ends the search."""
    out: list[str] = []
    start = 0
    for m in _BRACE_OR_QUOTE.finditer(text):
        tok = m.group()
        if tok[0] == '"':
            if len(tok) == 1:
                break
            continue
        piece = text[start : m.start()].strip(BLANK)
        if piece:
            out.append(piece)
        out.append(tok)
        start = m.end()
    piece = text[start:].strip(BLANK)
    if piece:
        out.append(piece)
    return out


def _clean(line: str) -> str:
    """A physical line as keepalived's read_line() and decomment() leave it (before comments go): cut
    at a NUL, trailing CRs removed, then leading and trailing blanks."""
    if "\0" in line:
        line = line[: line.index("\0")]
    return line.rstrip("\r").strip(BLANK)


def _line_bytes(line: str) -> int:
    """The line's length in the file (keepalived's buffer is MAXBUF bytes, not characters)."""
    return len(line.encode("utf-8", "surrogateescape"))


_QUOTE_SCAN = re.compile(r'["#!\\]')


def _quote_left_open(text: str) -> bool:
    r"""keepalived's decomment() scan: is a double quote still open at the end of the line? A `\`
    takes the next character with it; a quote after the comment start does not count."""
    quote = comment = False
    i = 0
    while m := _QUOTE_SCAN.search(text, i):
        c, i = m.group(), m.end()
        if c == '"':
            quote ^= not comment
        elif c == "\\":
            i += 1
        elif not quote:
            comment = True
    return quote


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in BLANK:
        i += 1
    return i


_STRTOL = re.compile(r"[ \t\n\v\f\r]*([-+]?)(0[xX](?=[0-9a-fA-F])[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?")


def _strtol_list(text: str) -> tuple[list[int], str]:
    """Numbers read by C's strtol(.., 0) and separated by ',' (blanks after each): ([numbers], the
    rest from the first character that is neither). No digits read as 0, as strtol()."""
    nums: list[int] = []
    p = 0
    while True:
        m = _STRTOL.match(text, p)
        assert m is not None  # everything in the pattern is optional
        digits = m.group(2) or ""
        base = 16 if digits[1:2] in ("x", "X") else 8 if digits[:1] == "0" else 10
        v = int(digits, base) if digits else 0
        nums.append(-v if m.group(1) == "-" else v)
        p = _skip_blanks(text, m.end() if digits else p)
        if text[p : p + 1] != "," or len(nums) == 3:
            return nums, text[p:]
        p += 1


def _unescape(word: str) -> str:
    if "\\" not in word:
        return word
    return word.replace("\\#", "#").replace("\\!", "!")


def _info(loc: Loc, msg: str) -> Diagnostic:
    return Diagnostic(loc, msg, ConfigErr.OK)
