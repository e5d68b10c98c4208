# Theory of operation
# -------------------
# keepalived's include checks (lib/parser.c): each `include` has a set of checks, those of its
# keyword (include: none; includer: read; includem: read+match; includew: read+match+wildcard_match;
# includeb: read+brace_match; includea: all) or-ed with global_defs `include_check`, which takes
# effect for the includes that follow it. A failed check makes the message a file-not-found error
# (keepalived -t then fails); otherwise it is only logged.
#   read (R)           an entry that is a directory, not readable, not a regular non-executable file
#   match (M)          a name without wildcards that does not exist ("Config files missing '...'")
#   wildcard_match (W) a pattern with wildcards that matches nothing ("No config files matched")
#   brace_match (B)    an alternative of `{a,b}` that is missing (then the whole include is skipped)
# `include_check` alone sets all four; `include_check WORD...` sets read plus WORD (first word
# only; later ones need `+`/`-`), `+WORD` adds, `-WORD` removes.
"""include_check flags and the classification of an include pattern's misses."""

from __future__ import annotations

import glob as globmod
import os

INCLUDE_R = 0x01
INCLUDE_M = 0x02
INCLUDE_W = 0x04
INCLUDE_B = 0x08
ALL = INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B

KIND_FLAGS = {"": 0, "r": INCLUDE_R, "a": ALL, "w": INCLUDE_R | INCLUDE_M | INCLUDE_W,
              "m": INCLUDE_R | INCLUDE_M, "b": INCLUDE_R | INCLUDE_B}
WORDS = {"read": INCLUDE_R, "match": INCLUDE_M, "wildcard_match": INCLUDE_W, "brace_match": INCLUDE_B}


def apply_include_check(current: int, words: tuple[str, ...] | list[str]) -> tuple[int, list[str]]:
    """The new flags after `include_check WORDS...`, and keepalived's error messages."""
    if not words:
        return ALL, []
    flags, errors = current, []
    for i, word in enumerate(words):
        sign = word[0] if word[:1] in ("+", "-") else ""
        name = word[1:] if sign else word
        if not sign:
            if i == 0:
                flags = 0
            else:
                errors.append(f"Duplicate include_check '{word}' specified - ignoring")
                continue
        bit = WORDS.get(name, 0)
        if not bit:
            errors.append(f"Unknown include_check type '{name}' - ignoring")
            continue
        if not sign:
            flags = INCLUDE_R | bit
        elif sign == "+":
            flags |= bit
        else:
            flags &= ~bit
    return flags, errors


def has_wildcards(path: str) -> bool:
    return globmod.has_magic(path)


def missing(alternative: str) -> bool:
    """keepalived's missing_files / missing_directories for one brace alternative: a name without
    wildcards that does not exist, or a directory before the first wildcard that does not exist."""
    if not globmod.has_magic(alternative):
        return not os.path.exists(alternative)
    parts = alternative.split("/")
    fixed = []
    for p in parts:
        if globmod.has_magic(p):
            break
        fixed.append(p)
    directory = "/".join(fixed) or ("/" if alternative.startswith("/") else ".")
    return not os.path.isdir(directory)
