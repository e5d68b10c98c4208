# Theory of operation
# -------------------
# Walks the lexer's segments against the declarative grammar (grammar.py) and builds a tree of
# `Node`s holding validated values, as keepalived's process_stream() walks its keyword vectors:
#   * `}` closes the current block; at the root it is `Extra '}' found` (plus `Unknown keyword '}'`);
#   * an unexpected `{` is `Unexpected '{' - ignoring`, and the lines of the block it opens are read
#     at the current level (so the contents of a misspelt block produce errors too);
#   * an unknown keyword is `Unknown keyword 'X'`, with a "did you mean" hint (pykeepalived addition);
#   * at end of input, open blocks give `There are N missing '}'s or extra '{'s`.
# A bad value drops that one line (the value type has already reported it), like keepalived.
"""Grammar-driven parser: segments -> validated keyword tree."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, replace

from pykeepalived.config.diag import NOWHERE, ConfigErr, Loc, Reporter
from pykeepalived.config.grammar import ROOT, Kw
from pykeepalived.config.lexer import Segment
from pykeepalived.config.types import INVALID, Value


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
        self._peeked: Segment | None = None
        self.rep = rep
        self._orphans = 0
        self._last_loc = NOWHERE
        self.end_loc = NOWHERE
        self._instance: str | None = None  # the vrrp_instance being read, for "(VI)" in messages

    def _name_instance(self, n0: int) -> None:
        d = self.rep.diags
        for k in range(n0, len(d)):
            if "(VI)" in d[k].message:
                d[k] = replace(d[k], message=d[k].message.replace("(VI)", f"({self._instance})"))

    def _next(self) -> Segment | None:
        if self._peeked is not None:
            p: Segment = self._peeked
            self._peeked = None
            return p
        s = next(self._it, None)
        if s is not None:
            self._last_loc = s.loc
        return s

    def _peek(self) -> Segment | None:
        if self._peeked is None:
            self._peeked = next(self._it, None)
            if self._peeked is not None:
                self._last_loc = self._peeked.loc
        return self._peeked

    def parse(self) -> Node:
        children, missing = self._level(ROOT, 0)
        missing += self._orphans
        if missing:
            self.rep.error(
                NOWHERE, f"There are {missing} missing '}}'s or extra '{{'s", ConfigErr.MISSING_EOB
            )
        return Node("root", NOWHERE, None, tuple(children))

    def _level(self, table: dict[str, Kw], depth: int) -> tuple[list[Node], int]:
        """Parse keywords until the closing brace; returns (nodes, missing closing braces)."""
        out: list[Node] = []
        while True:
            seg = self._next()
            if seg is None:
                return out, depth
            w0 = seg.words[0]
            if w0 == "}":
                if depth:
                    self.end_loc = seg.loc
                    return out, 0
                if self._orphans:
                    self._orphans -= 1
                else:
                    self.rep.error(seg.loc, "Extra '}' found", ConfigErr.UNEXPECTED_EOB)
                self.rep.error(seg.loc, "Unknown keyword '}'", ConfigErr.UNKNOWN_KEYWORD)
                continue
            if w0 == "{":
                self.rep.error(seg.loc, "Unexpected '{' - ignoring", ConfigErr.UNEXPECTED_BOB)
                if depth == 0:
                    self._orphans += 1
                continue
            spec = table.get(w0)
            if spec is None:
                close = difflib.get_close_matches(w0, table.keys(), n=1, cutoff=0.75)
                self.rep.error(
                    seg.loc,
                    f"Unknown keyword '{w0}'",
                    ConfigErr.UNKNOWN_KEYWORD,
                    hint=f"    did you mean '{close[0]}'?" if close else None,
                )
                continue
            kw = spec.alias or w0
            if spec.deprecated:
                self.rep.error(seg.loc, spec.deprecated.format(kw=w0), ConfigErr.DEPRECATED)
            if not spec.is_block:
                assert spec.vtype is not None
                n0 = len(self.rep.diags)
                v = spec.vtype.parse(w0, seg.words[1:], seg.raw, seg.loc, self.rep)
                if self._instance is not None and len(self.rep.diags) > n0:
                    self._name_instance(n0)
                if v is not INVALID:
                    out.append(Node(kw, seg.loc, v, spelt=w0))
                continue
            args: Value = None
            if spec.args is not None:
                args = spec.args.parse(w0, seg.words[1:], seg.raw, seg.loc, self.rep)
            nxt = self._peek()
            if nxt is None or nxt.words[0] != "{":
                # keepalived reads the next line as the block opener whatever it is
                self._next()
                if nxt is not None and nxt.words[0] == "}":
                    self.rep.error(
                        seg.loc, f"'{{' missing from beginning of block {w0}", ConfigErr.MISSING_BOB
                    )
                    continue
            else:
                self._next()
            if spec.items is not None:
                items, missing = self._items(depth + 1)
                node = Node(kw, seg.loc, args, (), tuple(items), spelt=w0, end=self.end_loc)
            else:
                assert spec.block is not None
                outer = self._instance
                if w0 == "vrrp_instance" and isinstance(args, str):
                    self._instance = args
                kids, missing = self._level(spec.block, depth + 1)
                self._instance = outer
                node = Node(kw, seg.loc, args, tuple(kids), spelt=w0, end=self.end_loc)
            if args is not INVALID:
                out.append(node)
            if missing:
                return out, missing

    def _items(self, depth: int) -> tuple[list[Item], int]:
        items: list[Item] = []
        while True:
            seg = self._next()
            if seg is None:
                return items, depth
            if seg.words[0] == "}":
                self.end_loc = seg.loc
                return items, 0
            if seg.words[0] == "{":
                continue
            items.append(Item(seg.loc, seg.words, seg.raw))
