# Theory of operation
# -------------------
# Walks the lexer's segments against the declarative grammar (grammar.py) and builds a tree of
# `Node`s holding validated values, as keepalived's process_stream() walks its keyword vectors:
#   * a block keyword must be followed by `{`; anything else is `Missing '{' at beginning of
#     configuration block`, and that line is then read as the first line of the block (a `}` there
#     closes it);
#   * `}` closes the current block; at the root it is `Unknown keyword '}'`;
#   * an unexpected `{` is `Unexpected '{' - ignoring`, and the lines of the block it opens are read
#     at the current level (so the contents of a misspelt block produce errors too);
#   * an unknown keyword is `Unknown keyword 'X'`, with a "did you mean" hint (pykeepalived addition);
#   * a value block (alloc_value_block) with words after its keyword is `Block X has extra
#     parameters Y ...`; one whose first line is not `{` only logs that the `{` is missing and takes
#     that line as an entry.
# `Extra '}' found` and `There are N missing '}'s or extra '{'s` count the braces themselves (the
# lexer does, as keepalived's read_line()), whatever the block structure made of them.
# A bad value drops that one line (the value type has already reported it), like keepalived.
"""Grammar-driven parser: segments -> validated keyword tree."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, replace

from pykeepalived.config.diag import NOWHERE, ConfigErr, Diagnostic, Loc, Reporter, reading_of
from pykeepalived.config.grammar import ROOT, Kw
from pykeepalived.config.lexer import Segment
from pykeepalived.config.types import INVALID, Addr, MissingParameter, Value, VType

HINTS = 1000  # unknown keywords that get a "did you mean" (see Parser._hint)


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a value block: its words."""

    loc: Loc
    words: tuple[str, ...]
    raw: str


@dataclass(frozen=True, slots=True)
class Node:
    kw: str  # canonical keyword
    loc: Loc
    value: Value = None  # scalar value, or block arguments
    children: tuple[Node, ...] = ()
    items: tuple[Item, ...] = ()
    spelt: str = ""  # keyword as written (deprecated alias), for messages
    end: Loc = NOWHERE  # the closing brace of a block
    text: str = ""  # an address keyword's value as written (`2001:db8::1/64`), for messages

    def get(self, kw: str) -> Node | None:
        found = None
        for c in self.children:
            if c.kw == kw:
                found = c
        return found

    def all(self, kw: str) -> list[Node]:
        return [c for c in self.children if c.kw == kw]


class Parser:
    def __init__(self, segments: Iterator[Segment], rep: Reporter) -> None:
        self._it = segments
        self.rep = rep
        self.end_loc = NOWHERE
        self._instance: str | None = None  # the vrrp_instance being read, for "(VI)" in messages
        self._hints_left = HINTS
        self._top: str | None = None  # the top-level block being read
        # After a keyword missing its parameter (keepalived: that reading's process exits), the
        # reading order of every line from there on, so that the diagnostics a reading would not
        # have reached can be told apart (load.py stopped_reading).
        self.after: dict[Loc, int] = {}

    def _parse_value(self, vtype: VType, seg: Segment) -> Value:
        try:
            return vtype.parse(seg.words[0], seg.words[1:], seg.raw, seg.loc, self.rep)
        except MissingParameter as e:
            w = seg.words
            text = (f"*** Configuration line starting `{w[0]}` is missing a parameter after keyword "
                    f"`{w[e.position - 1]}` at word position {e.position + 1}")
            self.rep.diags.append(Diagnostic(seg.loc, text, ConfigErr.MISSING_PARAMETER,
                                             procs=frozenset({reading_of(self._top)}), stops=True))
            self.after.setdefault(seg.loc, len(self.after))
            return INVALID

    def _name_instance(self, n0: int) -> None:
        d = self.rep.diags
        for k in range(n0, len(d)):
            if "(VI)" in d[k].message or "instance[VI]" in d[k].message:
                text = d[k].message.replace("(VI)", f"({self._instance})")
                d[k] = replace(d[k], message=text.replace("instance[VI]", f"instance[{self._instance}]"))

    def _hint(self, word: str, table: dict[str, Kw]) -> str | None:
        """"did you mean" for an unknown keyword: difflib takes ~30 µs a word, so a file of a million
        unknown keywords (one ~SEQ line makes it) gets hints for the first HINTS only."""
        if self._hints_left <= 0:
            return None
        self._hints_left -= 1
        close = difflib.get_close_matches(word, table.keys(), n=1, cutoff=0.75)
        return f"    did you mean '{close[0]}'?" if close else None

    def _next(self) -> Segment | None:
        seg = next(self._it, None)
        if self.after and seg is not None:
            self.after.setdefault(seg.loc, len(self.after))
        return seg

    def parse(self) -> Node:
        children = self._level(ROOT, 0, False)
        return Node("root", NOWHERE, None, tuple(children))

    def _level(self, table: dict[str, Kw], depth: int, need_bob: bool) -> list[Node]:
        """Parse keywords until the closing brace (or the end of the input)."""
        out: list[Node] = []
        while True:
            seg = self._next()
            if seg is None:
                return out
            w0 = seg.words[0]
            if need_bob:
                need_bob = False
                if w0 == "{":
                    continue
                self.rep.error(
                    seg.loc, "Missing '{' at beginning of configuration block", ConfigErr.MISSING_BOB
                )
            elif w0 == "{":
                self.rep.error(seg.loc, "Unexpected '{' - ignoring", ConfigErr.UNEXPECTED_BOB)
                continue
            if w0 == "}" and depth:
                self.end_loc = seg.loc
                return out
            spec = table.get(w0)
            if spec is None:
                self.rep.error(seg.loc, f"Unknown keyword '{w0}'", ConfigErr.UNKNOWN_KEYWORD,
                               hint=self._hint(w0, table))
                continue
            kw = spec.alias or w0
            if spec.deprecated:
                self.rep.error(seg.loc, spec.deprecated.format(kw=w0), ConfigErr.DEPRECATED)
            if not spec.is_block:
                assert spec.vtype is not None
                n0 = len(self.rep.diags)
                v = self._parse_value(spec.vtype, seg)
                if self._instance is not None and len(self.rep.diags) > n0:
                    self._name_instance(n0)
                if v is not INVALID:
                    text = seg.words[1] if isinstance(spec.vtype, Addr) and len(seg.words) > 1 else ""
                    out.append(Node(kw, seg.loc, v, spelt=w0, text=text))
                continue
            args: Value = None
            outer, top = self._instance, self._top
            if not depth:
                self._top = kw
            if spec.args is not None:
                args = self._parse_value(spec.args, seg)
            elif spec.items is not None and len(seg.words) > 1:
                self.rep.error(seg.loc, f"Block {w0} has extra parameters {seg.words[1]} ...")
            self.end_loc = NOWHERE
            if spec.items is not None:
                items = self._items(w0)
                node = Node(kw, seg.loc, args, (), tuple(items), spelt=w0, end=self.end_loc)
            else:
                assert spec.block is not None
                if w0 == "vrrp_instance" and isinstance(args, str):
                    self._instance = args
                kids = self._level(spec.block, depth + 1, True)
                node = Node(kw, seg.loc, args, tuple(kids), spelt=w0, end=self.end_loc)
            self._instance, self._top = outer, top
            if args is not INVALID:
                out.append(node)

    def _items(self, kw: str) -> list[Item]:
        """The entries of a value block, up to its `}` (keepalived's alloc_value_block)."""
        items: list[Item] = []
        need_bob = True
        while True:
            seg = self._next()
            if seg is None:
                return items
            if need_bob:
                need_bob = False
                if seg.words[0] == "{":
                    continue
                self.rep.log(seg.loc, f"'{{' missing from beginning of block {kw}")
            if seg.words[-1] == "}":  # a `}` alone, or a quoted "}" ending the line: the block ends
                self.end_loc = seg.loc
                if len(seg.words) > 1:
                    items.append(Item(seg.loc, seg.words[:-1], seg.raw))
                return items
            items.append(Item(seg.loc, seg.words, seg.raw))
