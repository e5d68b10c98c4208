"""HTTP_GET / SSL_GET `regex` of a url block, keepalived's PCRE2 keywords on Python's `re`.

# Theory of operation
keepalived (check_http.c check_regex) runs PCRE2 over the response as it streams in, *headers
included*: the subject is the whole response from its status line, and the offsets count from there.
`regex_min_offset N` starts the search at byte N (a lookbehind may still look before it, as
PCRE2's start_offset allows); `regex_max_offset M` accepts a match only if it starts at byte M or
before (keepalived stores M + 1 as the first refused position). keepalived takes the first match
found: if it starts beyond M the url fails, it does not look for a later one that would start
earlier (none can: the search is leftmost). Both offsets set with min > max are ignored with
keepalived's `regex min offset N > regex_max_offset M - ignoring`.

`regex_options` are PCRE2 compile options. Those with a Python equivalent are mapped:
caseless → IGNORECASE, multiline → MULTILINE, dotall → DOTALL, extended → VERBOSE, utf → the
subject is decoded as UTF-8 and matched as text (offsets stay byte offsets), ucp → Unicode classes
(with utf; without ucp a utf pattern uses ASCII classes as PCRE2 does), firstline → the match must start
at or before the first newline after the start offset. Options that only tune PCRE2's optimiser or
restrict the pattern syntax change no result and are accepted silently (no_auto_possess,
no_start_optimize, no_dotstar_anchor, no_auto_capture, auto_callout, never_backslash_c, never_utf,
never_ucp). The rest (ungreedy, dollar_endonly, dupnames, allow_empty_class, alt_bsux, alt_circumflex,
alt_verbnames, match_unset_backref, use_offset_limit) have no `re` equivalent: they are ignored with a
warning.
`regex_stack START MAX` sizes PCRE2's JIT stack; `re` has no such limit, so it is accepted and
changes nothing. A pattern `re` cannot compile logs keepalived's `Invalid regex: 'P' at offset N: E`
and the url then has no regex, as in keepalived.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

PCRE2_OPTIONS = (
    "allow_empty_class", "alt_bsux", "auto_callout", "caseless", "dollar_endonly", "dotall", "dupnames",
    "extended", "firstline", "match_unset_backref", "multiline", "never_ucp", "never_utf",
    "no_auto_capture", "no_auto_possess", "no_dotstar_anchor", "no_start_optimize", "ucp", "ungreedy",
    "utf", "never_backslash_c", "alt_circumflex", "alt_verbnames", "use_offset_limit",
)
_FLAGS = {"caseless": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL, "extended": re.VERBOSE}
_NO_EFFECT = frozenset({"no_auto_possess", "no_start_optimize", "no_dotstar_anchor", "no_auto_capture",
                        "auto_callout", "never_backslash_c", "never_utf", "never_ucp"})
_HANDLED = frozenset({*_FLAGS, "utf", "ucp", "firstline"})


@dataclass(frozen=True, slots=True)
class CompiledRegex:
    regex: re.Pattern[bytes] | re.Pattern[str]
    utf: bool
    firstline: bool


def unsupported_options(options: tuple[str, ...]) -> list[str]:
    """Options of `regex_options` that Python's `re` cannot honour (unknown words are ignored, as
    keepalived's regex_options_handler does)."""
    return [o for o in options if o in PCRE2_OPTIONS and o not in _HANDLED and o not in _NO_EFFECT]


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str, options: tuple[str, ...] = ()) -> CompiledRegex | str:
    """The compiled regex, or keepalived's error text if it does not compile."""
    flags = 0
    for o in options:
        flags |= _FLAGS.get(o, 0)
    utf = "utf" in options
    try:
        if utf:
            if "ucp" not in options:
                flags |= re.ASCII
            rx: re.Pattern[bytes] | re.Pattern[str] = re.compile(pattern, flags)
        else:
            rx = re.compile(pattern.encode("utf-8", "surrogateescape"), flags)
    except re.error as e:
        return f"Invalid regex: '{pattern}' at offset {e.pos or 0}: {e.msg}"
    return CompiledRegex(rx, utf, "firstline" in options)


def regex_matches(rx: CompiledRegex, subject: bytes, min_offset: int = 0,
                  max_offset: int | None = None) -> bool:
    """Whether the response `subject` (status line, headers and body) matches, with keepalived's
    offsets: the search starts at byte `min_offset`, the match must start at byte `max_offset` or
    before (None: anywhere)."""
    if min_offset > len(subject):
        return False
    if rx.utf:
        text = subject.decode("utf-8", "surrogateescape")
        start = len(subject[:min_offset].decode("utf-8", "surrogateescape"))
        m = rx.regex.search(text, start)  # type: ignore[call-overload]
        if m is None:
            return False
        at = len(text[:m.start()].encode("utf-8", "surrogateescape"))
    else:
        m = rx.regex.search(subject, min_offset)  # type: ignore[call-overload]
        if m is None:
            return False
        at = m.start()
    if rx.firstline:
        nl = subject.find(b"\n", min_offset)  # PCRE2: the first newline after the start offset
        if nl >= 0 and at > nl:
            return False
    return max_offset is None or at <= max_offset
