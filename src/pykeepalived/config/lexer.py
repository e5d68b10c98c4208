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
# Speed: most lines contain none of the special characters, so they take a single
# `str.split()`; the others go through a few compiled regular expressions, never a per-character loop.
"""keepalived.conf preprocessing and tokenising (lib/parser.c)."""

from __future__ import annotations

import glob as globmod
import os
import random
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from pykeepalived.config.diag import ConfigErr, Diagnostic, Loc, Reporter
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


@dataclass(frozen=True, slots=True)
class Segment:
    """The words of one line piece; `words == ("{",)` or `("}",)` for a brace."""

    loc: Loc
    words: tuple[str, ...]
    raw: str  # the piece's text after comment removal (quoted keywords re-parse it)


_SPECIAL = re.compile(r'["#!$@~{}\\]')
_TOKEN = re.compile(r'"([^"]*)"|([{}])|([^\s"{}]+)')
_COMMENT_PREFIX = re.compile(r'(?:[^"#!\\]|\\.?|"[^"]*"?)*')
_DEF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\s[^}]*)?)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=[\s,)]|$)")
_COND = re.compile(r"@(\^?)(\S*)\s*(.*)$")
_SEQLST = re.compile(r"~(SEQx?|LST)\(")
_INCLUDE = re.compile(r"include([rmwba]?)\s+(.*)$")


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
        return text.split(), False
    words: list[str] = []
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " \t\r\n\f\v":
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
        # ${_RANDOM}: glibc's random() seeded by `random_seed` (as keepalived), else unseeded
        self._rand: random.Random | GlibcRandom = (
            random.Random() if random_seed is None else GlibcRandom(random_seed))
        self.used_random = False
        self.include_check = 0  # global_defs include_check (config/include_check.py)

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

    def _read_file(self, path: str, shown: str) -> Iterator[Segment]:
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

    def _include(self, loc: Loc, kind: str, spec: str) -> Iterator[Segment]:
        words, _ = split_words(spec)
        flags = self.include_check | KIND_FLAGS.get(kind, 0) | (ALL if self.all_config else 0)
        for pat in words:
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
                continue
            if any_missing:
                self._file_error(loc, flags, INCLUDE_B, f'Some config files missing: "{pat}".')
                if flags & INCLUDE_B:
                    continue
            for f in found:
                if not os.path.isfile(f) or os.access(f, os.X_OK):
                    self._file_error(
                        loc, flags, INCLUDE_R,
                        f"Configuration file '{f}' is not a regular non-executable file - skipping"
                    )
                    continue
                shown = f if os.path.isabs(pat) else os.path.normpath(f)
                yield from self._read_file(f, shown)

    # -- lines ---------------------------------------------------------------------------------
    def _lines(self, lines: list[str], shown: str) -> Iterator[Segment]:
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            i += 1
            lineno = i
            if len(line) >= MAX_LINE:
                self.rep.error(Loc(shown, lineno), "line too long - ignoring")
                continue
            text = line.strip()
            if not text:
                continue
            if _SPECIAL.search(text) is None and not text.startswith("include"):
                yield Segment(Loc(shown, lineno), tuple(text.split()), text)
                continue
            if "\0" in text:
                continue
            loc = Loc(shown, lineno)
            m = _DEF.match(text)
            if m:
                name, value = m.group(1), m.group(2).lstrip()
                if value.endswith("\\") or value == "":
                    body: list[str] = []
                    if value.endswith("\\"):
                        body.append(value[:-1].rstrip())
                    elif value == "" and i < n and lines[i].rstrip().endswith("\\"):
                        pass
                    else:
                        self.defs[name] = [value]
                        continue
                    while i < n:
                        nxt = lines[i].strip()
                        i += 1
                        if nxt.endswith("\\"):
                            body.append(nxt[:-1].rstrip())
                            continue
                        if nxt:
                            body.append(nxt)
                        break
                    self.defs[name] = [b for b in body if b]
                else:
                    self.defs[name] = [value]
                continue
            yield from self._logical(text, loc)

    def _logical(self, text: str, loc: Loc, depth: int = 0) -> Iterator[Segment]:
        if depth > 16:
            self.rep.error(loc, "Parameter/sequence nesting too deep")
            return
        if "$" in text:
            expanded = self._substitute(text, loc)
            if expanded is None:
                return
            if len(expanded) > 1 or expanded[0] != text:
                for piece in expanded:
                    yield from self._logical(piece.strip(), loc, depth + 1)
                return
        text = self._decomment(text)
        if not text:
            return
        if text[0] == "@":
            m = _COND.match(text)
            if m is None:
                return
            neg, ident, rest = m.group(1) == "^", m.group(2), m.group(3)
            if (ident == self.config_id) == neg or not rest:
                return
            text = rest
        if text[0] == "~":
            sm = _SEQLST.match(text)
            if sm:
                yield from self._seq_lst(text, sm, loc, depth)
                return
        if text.startswith("include"):
            im = _INCLUDE.match(text)
            if im:
                yield from self._include(loc, im.group(1), im.group(2))
                return
        yield from self._segments(text, loc)

    def _segments(self, text: str, loc: Loc) -> Iterator[Segment]:
        words, unmatched = split_words(text)
        if unmatched:
            self.rep.error(loc, f"Unmatched quote: '{text}'", ConfigErr.UNMATCHED_QUOTE)
        if "{" not in words and "}" not in words:
            if words:
                yield Segment(loc, tuple(_unescape(w) for w in words), _unescape(text))
            return
        cur: list[str] = []
        for w in words:
            if w == "{" or w == "}":
                if cur:
                    yield Segment(loc, tuple(cur), " ".join(cur))
                    cur = []
                yield Segment(loc, (w,), w)
            else:
                cur.append(_unescape(w))
        if cur:
            yield Segment(loc, tuple(cur), " ".join(cur))

    @staticmethod
    def _decomment(text: str) -> str:
        if "#" not in text and "!" not in text:
            return text
        m = _COMMENT_PREFIX.match(text)
        end = m.end() if m else 0
        kept = text[:end].rstrip()
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
            parts = args.split()
            try:
                lo = int(parts[0]) if parts else 0
                hi = int(parts[1]) if len(parts) > 1 else 32767
            except ValueError:
                self.rep.error(loc, f"Invalid _RANDOM parameters '{args.strip()}'")
                return "0"
            if lo > hi:
                self.rep.error(loc, f"_RANDOM min {lo} > max {hi}")
                return str(lo)
            self.used_random = True
            return str(self._rand.randint(lo, hi))
        return None

    def _substitute(self, text: str, loc: Loc) -> list[str] | None:
        for _ in range(32):
            if text.strip() in (f"${k}" for k in self.defs) or (
                text.startswith("${") and text.endswith("}") and text[2:-1] in self.defs
            ):
                key = text.strip().lstrip("$").strip("{}")
                if len(self.defs[key]) != 1:
                    return list(self.defs[key])

            changed = False

            def repl(m: re.Match[str]) -> str:
                nonlocal changed
                name = m.group(1) or m.group(3)
                if name in self.defs:
                    changed = True
                    return " ".join(self.defs[name])
                if name.startswith("_"):
                    v = self._predefined(name, m.group(2) or "", loc)
                    if v is not None:
                        changed = True
                        return v
                return m.group(0)

            text = _VAR.sub(repl, text)
            if not changed:
                break
        return [text]

    def _seq_lst(self, text: str, sm: re.Match[str], loc: Loc, depth: int) -> Iterator[Segment]:
        kind = sm.group(1)
        close = _matching_paren(text, sm.end())
        if close < 0:
            self.rep.error(loc, f"Missing ')' in {text}")
            return
        inner = text[sm.end() : close]
        rest = text[close + 1 :].strip()
        if kind == "LST":
            yield from self._lst(inner, rest, loc, depth)
            return
        args = [a.strip() for a in inner.split(",")]
        try:
            nums = [int(a, 0) for a in args[1:]]
        except ValueError:
            self.rep.error(loc, f"Invalid ~SEQ parameters '{inner}'")
            return
        var = args[0]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var) or not 1 <= len(nums) <= 3:
            self.rep.error(loc, f"Invalid ~SEQ parameters '{inner}'")
            return
        if len(nums) == 1:
            end = nums[0]
            start, step = (1, 1) if end >= 1 else (-1, -1)
        elif len(nums) == 2:
            start, end = nums
            step = 1 if end >= start else -1
        else:
            start, step, end = nums
        if step == 0 or (kind == "SEQx" and min(start, end) < 0):
            self.rep.error(loc, f"Invalid ~SEQ parameters '{inner}'")
            return
        saved = self.defs.get(var)
        v = start
        count = 0
        while (v <= end if step > 0 else v >= end) and count < 100000:
            self.defs[var] = [format(v, "x") if kind == "SEQx" else str(v)]
            yield from self._logical(rest, loc, depth + 1)
            v += step
            count += 1
        _restore(self.defs, var, saved)

    def _lst(self, inner: str, rest: str, loc: Loc, depth: int) -> Iterator[Segment]:
        inner = inner.strip()
        if inner.startswith("{"):
            groups = re.findall(r"\{([^}]*)\}", inner)
            if not groups:
                self.rep.error(loc, f"Invalid ~LST parameters '{inner}'")
                return
            names = [g.strip() for g in groups[0].split(",")]
            rows = [[x.strip() for x in g.split(",")] for g in groups[1:]]
        else:
            parts = [p.strip() for p in inner.split(",")]
            names = [parts[0]]
            rows = [[p] for p in parts[1:]]
        if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", nm) for nm in names):
            self.rep.error(loc, f"Invalid ~LST parameters '{inner}'")
            return
        saved = {nm: self.defs.get(nm) for nm in names}
        for row in rows:
            for k, nm in enumerate(names):
                self.defs[nm] = [row[k] if k < len(row) else ""]
            yield from self._logical(rest, loc, depth + 1)
        for nm, old in saved.items():
            _restore(self.defs, nm, old)


def _restore(defs: dict[str, list[str]], name: str, old: list[str] | None) -> None:
    if old is None:
        defs.pop(name, None)
    else:
        defs[name] = old


def _matching_paren(text: str, start: int) -> int:
    depth = 1
    for i in range(start, len(text)):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _unescape(word: str) -> str:
    if "\\" not in word:
        return word
    return word.replace("\\#", "#").replace("\\!", "!")


def _info(loc: Loc, msg: str) -> Diagnostic:
    return Diagnostic(loc, msg, ConfigErr.OK)
