# Theory of operation
# -------------------
# keepalived's syntax of a script command line (lib/parser.c: WHITE_SPACE_STR,
# alloc_strvec_quoted_escaped) and of its `user [group]` (lib/notify.c set_uid_gid), read while the
# configuration is built (config/types.py, build.py, lexer.py, routes.py) and again by the runtime
# that runs the scripts (track/command.py). The configuration package owns it so that it imports
# no runtime package.
"""Script command words and run-as users, as keepalived reads them."""

from __future__ import annotations

import grp
import pwd
from collections.abc import Sequence

# keepalived: lib/parser.c WHITE_SPACE_STR
WHITE_SPACE = " \t\f\n\r\v"

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


class CommandSyntaxError(ValueError):
    """A script command line keepalived would reject (unmatched quote, trailing backslash)."""


def split_quoted_escaped(text: str) -> list[str]:
    """Split like keepalived's alloc_strvec_quoted_escaped (lib/parser.c).

    Words are separated by white space; "..." and '...' group, quotes are removed, adjacent
    quoted and unquoted parts concatenate, and backslash escapes are processed both inside and
    outside quotes: \\a \\b \\E \\f \\n \\r \\t \\v, \\NNN (up to 3 octal digits), \\xHH (up to 2 hex
    digits), \\cC (control character), \\C = literal C.
    """
    words: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i] in WHITE_SPACE:
            i += 1
        if i >= n:
            break
        out: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            if c == "\\":
                i += 1
                if i >= n:
                    raise CommandSyntaxError(f"Missing escape char at end: '{text}'")
                e = text[i]
                if e == "x" and i + 1 < n and text[i + 1] in "0123456789abcdefABCDEF":
                    i += 1
                    val = 0
                    # at most 2 digits (keepalived >= 2.2.8; 2.2.7 consumed all hex digits, which
                    # broke its own man page example)
                    for _ in range(2):
                        if i < n and text[i] in "0123456789abcdefABCDEF":
                            val = (val << 4) | int(text[i], 16)
                            i += 1
                    out.append(chr(val))
                elif e == "c" and i + 1 < n:
                    out.append(chr(ord(text[i + 1]) & 0x1F))
                    i += 2
                elif "0" <= e <= "7":
                    val = 0
                    for _ in range(3):
                        if i < n and "0" <= text[i] <= "7":
                            val = (val << 3) + int(text[i])
                            i += 1
                        else:
                            break
                    out.append(chr(val & 0xFF))
                else:
                    out.append(_SIMPLE_ESCAPES.get(e, e))
                    i += 1
                continue
            if quote:
                if c == quote:
                    quote = ""
                else:
                    out.append(c)
                i += 1
                continue
            if c in "\"'":
                quote = c
                i += 1
                continue
            if c in WHITE_SPACE:
                break
            out.append(c)
            i += 1
        if quote:
            raise CommandSyntaxError(f"String '{text}': missing terminating {quote}")
        words.append("".join(out))
    return words


def resolve_user_group(user: str, group: str | None = None) -> tuple[int, int]:
    """Resolve `user [[:]group]` to (uid, gid) like lib/notify.c: set_uid_gid.

    The gid is the user's primary group unless a group is given (a leading ':' is accepted).
    Raises LookupError with keepalived's text when the user or group does not exist.
    """
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise LookupError(f"Script user '{user}' does not exist") from None
    gid = pw.pw_gid
    if group:
        gname = group[1:] if group.startswith(":") else group
        if gname:
            try:
                gid = grp.getgrnam(gname).gr_gid
            except KeyError:
                raise LookupError(f"Script group '{gname}' does not exist") from None
    return pw.pw_uid, gid


def cmd_str(argv: Sequence[str]) -> str:
    """keepalived's rendering of argv for system() and logs (lib/notify.c: cmd_str_r).

    Every word is wrapped in single quotes, except a first word starting with `<` or `>` (a bare
    redirection such as `</dev/tcp/127.0.0.1/80`).
    """
    parts = []
    for i, word in enumerate(argv):
        if i == 0 and word[:1] in ("<", ">"):
            parts.append(word)
        else:
            parts.append(f"'{word}'")
    return " ".join(parts)
