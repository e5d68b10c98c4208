# Theory of operation
# -------------------
# Value types for the declarative grammar. Each type turns the words after a keyword into a
# validated, immutable Python value (int, str, bool, tuple, ipaddress objects), reporting problems
# with keepalived's texts (`invalid number 'X'`, `number 'X' outside range [A, B]`, ...) and
# returning `INVALID` so that the parser drops the line, as keepalived ignores a bad line and carries
# on. `fmt` is the inverse used by the configuration dump, so that dump -> parse is the identity.
"""Keyword value types: numbers, timers, booleans, addresses, script strings."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from pykeepalived.config.command_words import WHITE_SPACE, CommandSyntaxError, split_quoted_escaped
from pykeepalived.config.diag import ConfigErr, Loc, Reporter

Value = object


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()


class MissingParameter(Exception):
    """A keyword without the word its keepalived handler reads unchecked (strvec_slot, null_strvec):
    keepalived prints `*** Configuration line starting ... is missing a parameter` and its process
    exits (exit 2); the parser reports it and stops the reading (parser.py). `position`: the index of
    the missing word in the line."""

    def __init__(self, position: int = 1) -> None:
        super().__init__(position)
        self.position = position


def missing(kw: str, loc: Loc, rep: Reporter, message: str | None) -> _Invalid:
    """A keyword without its value: keepalived's own message where its handler checks the word
    count (`message`; "" to ignore it silently), else MissingParameter."""
    if message is None:
        raise MissingParameter()
    if message:
        rep.error(loc, message.format(kw=kw))
    return INVALID

BOOL_WORDS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
_INT_RE = re.compile(r"[-+]?[0-9]+")  # not \d: keepalived reads ASCII digits only
_DEC_RE = re.compile(r"[-+]?([0-9]+)(?:\.([0-9]*))?")


def _q(word: str) -> str:
    """Quote a word for the dump if it would not survive tokenising."""
    if word == "" or any(c in word for c in ' \t"#!{}$@~\\') or word.startswith("include"):
        return '"' + word + '"'
    return word


class VType:
    """A value type: `parse` words -> value (or INVALID after reporting); `fmt` value -> words."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        raise NotImplementedError

    def fmt(self, value: Value) -> str:
        if isinstance(value, tuple):
            return " ".join(_q(str(v)) for v in value)
        return _q(str(value))


class Flag(VType):
    """A keyword without arguments (extra words ignored, as keepalived does)."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        return True

    def fmt(self, value: Value) -> str:
        return ""


class Bool(VType):
    """`[<BOOL>]`: no word means true."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            return True
        v = BOOL_WORDS.get(args[0])
        if v is None:
            rep.error(loc, f"Invalid {kw} parameter {args[0]}")
            return INVALID
        return v

    def fmt(self, value: Value) -> str:
        return "true" if value else "false"


def is_digits(word: str) -> bool:
    """C's isdigit() over every character: 0-9 only (str.isdigit() also takes '²' and '٢', which
    keepalived refuses and int() may not read)."""
    return word.isascii() and word.isdigit()


def int_in(word: str, lo: int, hi: int) -> int | None:
    """WORD as an integer in lo..hi (keepalived read_int_strvec), None when it is not one."""
    return int(word) if _INT_RE.fullmatch(word) and lo <= int(word) <= hi else None


def parse_int(word: str, lo: int, hi: int, loc: Loc, rep: Reporter) -> int | None:
    if not _INT_RE.fullmatch(word):
        rep.error(loc, f"invalid number '{word}'", ConfigErr.INVALID_NUMBER)
        return None
    v: int = int(word)
    if not lo <= v <= hi:
        rep.error(loc, f"number '{word}' outside range [{lo}, {hi}]", ConfigErr.INVALID_NUMBER)
        return None
    return v


def parse_decimal(word: str, lo: float, hi: float, digits: int, loc: Loc, rep: Reporter) -> int | None:
    """A decimal with `digits` fractional digits, as an integer in those units (µs for timers)."""
    m = _DEC_RE.fullmatch(word)
    if not m:
        rep.error(loc, f"invalid number '{word}'", ConfigErr.INVALID_NUMBER)
        return None
    scale = 10**digits
    frac = m.group(2) or ""
    units: int = int(m.group(1)) * scale + (int(frac[:digits].ljust(digits, "0")) if frac else 0)
    if len(frac) > digits and frac[digits] >= "5":
        units += 1
    if word.startswith("-"):
        units = -units
    if not round(lo * scale) <= units <= round(hi * scale):
        rep.error(
            loc, f"number '{word}' outside range [{lo:.{digits}f}, {hi:.{digits}f}]", ConfigErr.INVALID_NUMBER
        )
        return None
    return units


@dataclass(frozen=True, slots=True)
class Int(VType):
    lo: int = 0
    hi: int = 2**32 - 1
    msg: str | None = None  # follow-up message, "{kw}" and "{v}" substituted
    default: int | None = None  # the value without a word (where keepalived checks for one)

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            if self.default is not None:
                return self.default
            raise MissingParameter()
        v = parse_int(args[0], self.lo, self.hi, loc, rep)
        if v is None:
            rep.error(loc, (self.msg or "{kw} '{v}' invalid - ignoring").format(kw=kw, v=args[0]))
            return INVALID
        return v


@dataclass(frozen=True, slots=True)
class Timer(VType):
    """Seconds with microsecond resolution (keepalived read_decimal_unsigned_strvec, TIMER_HZ)."""

    lo: float = 0.0
    hi: float = 4294.967295
    digits: int = 6
    msg: str | None = None

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            raise MissingParameter()
        v = parse_decimal(args[0], self.lo, self.hi, self.digits, loc, rep)
        if v is None:
            rep.error(loc, (self.msg or "{kw} '{v}' is invalid").format(kw=kw, v=args[0]))
            return INVALID
        return v

    def fmt(self, value: Value) -> str:
        assert isinstance(value, int)
        s = str(abs(value)).rjust(self.digits + 1, "0")
        return ("-" if value < 0 else "") + s[: -self.digits] + "." + s[-self.digits :]


@dataclass(frozen=True, slots=True)
class Choice(VType):
    words: tuple[str, ...]
    ci: bool = False
    msg: str | None = None

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            raise MissingParameter()
        w = args[0]
        for c in self.words:
            if w == c or (self.ci and w.lower() == c.lower()):
                return c
        rep.error(loc, (self.msg or "Invalid {kw} '{v}' - ignoring").format(kw=kw, v=w))
        return INVALID


@dataclass(frozen=True, slots=True)
class Str(VType):
    """One word (further words ignored)."""

    maxlen: int = 0
    missing: str | None = None  # keepalived's message when the word is missing (see `missing`)

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            return missing(kw, loc, rep, self.missing)
        if self.maxlen and len(args[0]) > self.maxlen:
            rep.error(loc, f"{kw} '{args[0]}' too long - ignoring")
            return INVALID
        return args[0]


@dataclass(frozen=True, slots=True)
class Words(VType):
    """Any words, kept as a tuple (generic keywords validated only for their word count)."""

    min: int = 0
    max: int = 1000
    missing: str | None = None  # keepalived's message when a word is missing (see `missing`)

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if len(args) < self.min:
            if self.missing is None:
                raise MissingParameter(len(args) + 1)
            return missing(kw, loc, rep, self.missing)
        return tuple(args[: self.max])


IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(word: str) -> IPAddr | None:
    try:
        return ipaddress.ip_address(word.split("%", 1)[0])
    except ValueError:
        return None


def sockaddr_ip(word: str) -> IPAddr | None:
    """keepalived inet_stosockaddr: the address before any `-` range or `/` mask (`192.0.2.1/24`
    and `192.0.2.1-9` are 192.0.2.1), as unicast_src_ip, unicast_peer and mcast_dst_ip read it."""
    cut = min((i for i in (word.find("-"), word.find("/")) if i >= 0), default=len(word))
    return parse_ip(word[:cut])


@dataclass(frozen=True, slots=True)
class Addr(VType):
    family: int = 0  # 0: either
    multicast: bool = False
    msg: str | None = None
    sockaddr: bool = False  # read as keepalived's inet_stosockaddr (a mask or range is ignored)

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            raise MissingParameter()
        a = sockaddr_ip(args[0]) if self.sockaddr else parse_ip(args[0])
        if a is None or (self.family and a.version != self.family):
            rep.error(
                loc, (self.msg or "{kw} '{v}' is not a valid address - ignoring").format(kw=kw, v=args[0])
            )
            return INVALID
        if self.multicast and not a.is_multicast:
            rep.error(loc, f"{kw} [{args[0]}] is not multicast. Skipping")
            return INVALID
        return a


@dataclass(frozen=True, slots=True)
class Script(VType):
    """A quoted keyword: (command argv..., user, group) per keepalived.md §2.5."""

    optional: bool = False

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        m = _FIRST_WORD.match(raw)  # the keyword (and the C spaces after it)
        words = _split_quoted(raw[m.end() :] if m else "")
        if not words:
            if self.optional:
                return ()
            rep.error(loc, f"{kw} requires a script", ConfigErr.MISSING_PARAMETER)
            return INVALID
        if not script_argv(words[0]):
            rep.error(loc, f"{kw} requires a script", ConfigErr.MISSING_PARAMETER)
            return INVALID
        return (words[0], words[1] if len(words) > 1 else "", words[2] if len(words) > 2 else "")

    def fmt(self, value: Value) -> str:
        assert isinstance(value, tuple)
        if not value:
            return ""
        cmd, user, group = value
        q = "'" if '"' in str(cmd) else '"'
        parts = [q + str(cmd) + q]
        if user:
            parts.append(_q(str(user)))
        if group:
            parts.append(_q(str(group)))
        return " ".join(parts)


_FIRST_WORD = re.compile(r"[ \t\n\v\f\r]*[^ \t\n\v\f\r]*[ \t\n\v\f\r]*")


def _split_quoted(text: str) -> list[str]:
    """Split on C white space honouring "..." and '...' (quotes removed, backslashes kept)."""
    out: list[str] = []
    cur: list[str] = []
    have = False
    quote = ""
    for ch in text:  # script lines are short and rare
        if quote:
            if ch == quote:
                quote = ""
            else:
                cur.append(ch)
        elif ch in "\"'":
            quote = ch
            have = True
        elif ch in WHITE_SPACE:
            if have or cur:
                out.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(ch)
    if have or cur:
        out.append("".join(cur))
    return out


def script_argv(cmd: str) -> list[str]:
    """The argv a script string runs as: the daemon's split (config.command_words.split_quoted_escaped,
    keepalived's alloc_strvec_quoted_escaped); a line it rejects falls back to its plain words."""
    try:
        return split_quoted_escaped(cmd)
    except CommandSyntaxError:
        return cmd.split()


@dataclass(frozen=True, slots=True)
class Entry(VType):
    """A value-block entry kept as its words (parsed further by the model builder)."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        return tuple(args)


def read_hex_str(text: str, wildcard: bool = False) -> tuple[bytes, bytes] | None:
    """keepalived read_hex_str(): octets written as hex pairs, spaces allowed, a lone nibble is an
    octet; with `wildcard`, x/X is a wildcard nibble (mask bits set). Returns (data, mask) or None.

    keepalived 2.2.7 checks for failure with the value of the *last octet* (0xff is its error marker),
    so a string ending in the octet ff is rejected too ("00ff" is invalid): kept for the same verdict.
    """
    data, mask = bytearray(), bytearray()
    i, n = 0, len(text)
    last = 0

    def nib(c: str) -> int:
        if c in "0123456789abcdefABCDEF":
            return int(c, 16)
        return 0xFE if wildcard and c in "xX" else 0xFF

    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        v = nib(text[i])
        i += 1
        if v == 0xFF:
            return None
        m = 0x0F if v == 0xFE else 0
        v = 0 if v == 0xFE else v
        if i < n and text[i] != " ":
            v2 = nib(text[i])
            i += 1
            if v2 == 0xFF:
                return None
            m = (m << 4) | (0x0F if v2 == 0xFE else 0)
            v = (v << 4) | (0 if v2 == 0xFE else v2)
        data.append(v)
        mask.append(m)
        last = v
    if not data or last == 0xFF:
        return None
    return bytes(data), bytes(mask)


@dataclass(frozen=True, slots=True)
class HexStr(VType):
    """UDP_CHECK payload / require_reply: the words after the keyword as one hex string."""

    wildcard: bool = False
    optional: bool = False
    what: str = "payload"

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            if self.optional:
                return ""
            rep.error(loc, f"UDP_CHECK {kw} requires a {kw}")
            return INVALID
        text = " ".join(args)
        if read_hex_str(text, self.wildcard) is None:
            rep.error(loc, f"Invalid hex string for UDP_CHECK {self.what}")
            return INVALID
        return text

    def fmt(self, value: Value) -> str:
        return _q(str(value)) if value else ""
