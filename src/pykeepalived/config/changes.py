# Theory of operation
# -------------------
# A builder reads a block keyword by keyword through a table of small handlers (build.py's
# vrrp_instance table, build_lvs.py's virtual_server / real_server tables, the words of a route or
# rule line in routes.py / rules.py) and makes the frozen record once, when the block or line is
# read: one dataclasses.replace() per keyword would cost ~10-25 µs each (a ~SEQ may repeat a
# keyword a million times). `changes(Record)` collects
# the keyword arguments of the record's constructor. Its `set()` takes the constructor's own
# parameters (a ParamSpec bound to the record's dataclass signature, less the leading required ones
# given to `make()`), so mypy checks every field name and value type a handler sets against the
# record: the record's field list is the only one, and no mutable twin of it is needed.
# The `*_of` accessors give a keyword node's value (validated by the grammar's value type, an
# invalid line dropped) with the type that value type produces, for mypy to check where it goes.
"""Typed pending field values of a frozen record, and typed keyword node values."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from pykeepalived.config.types import IPAddr

if TYPE_CHECKING:  # the records' modules (routes.py, rules.py) use it without the parser
    from pykeepalived.config.model import Options
    from pykeepalived.config.parser import Node

P = ParamSpec("P")
R = TypeVar("R")


class Changes(Generic[P, R]):
    """The keyword arguments of a record's constructor, collected: the last value of a field wins."""

    __slots__ = ("_cls", "kw")

    def __init__(self, cls: Callable[..., R]) -> None:
        self._cls = cls
        self.kw: dict[str, Any] = {}

    def set(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Set fields by name (mypy: the record's own parameter names and types)."""
        if args:
            raise TypeError("Changes.set() takes field names")
        self.kw.update(kwargs)

    def make(self, *required: Any) -> R:
        """The record: its leading required fields, then the fields set."""
        return self._cls(*required, **self.kw)


def changes(cls: Callable[Concatenate[Any, P], R]) -> Changes[P, R]:
    """For a record with one required field (given to make())."""
    return Changes(cls)


def changes2(cls: Callable[Concatenate[Any, Any, P], R]) -> Changes[P, R]:
    """For a record with two required fields (given to make())."""
    return Changes(cls)


def changes3(cls: Callable[Concatenate[Any, Any, Any, P], R]) -> Changes[P, R]:
    """For a record with three required fields (given to make())."""
    return Changes(cls)


def int_of(c: Node) -> int:
    """An Int or Timer keyword's value (a Timer's in µs)."""
    assert isinstance(c.value, int)
    return c.value


def bool_of(c: Node) -> bool:
    """A Bool or Flag keyword's value."""
    assert isinstance(c.value, bool)
    return c.value


def str_of(c: Node) -> str:
    """A Str or Choice keyword's value."""
    assert isinstance(c.value, str)
    return c.value


def words_of(c: Node) -> tuple[str, ...]:
    """A Words keyword's value."""
    assert isinstance(c.value, tuple)
    return c.value


def ip_of(c: Node) -> IPAddr:
    """An Addr keyword's value."""
    assert isinstance(c.value, IPAddr)
    return c.value


def script_of(c: Node) -> tuple[str, str, str]:
    """A Script keyword's value: (command, user, group)."""
    assert isinstance(c.value, tuple) and len(c.value) == 3
    return c.value


def options(node: Node, skip: set[str]) -> Options:
    """Keywords kept generically, as (keyword, value) pairs in file order."""
    out: list[tuple[str, object]] = []
    for c in node.children:
        if c.kw in skip:
            continue
        if c.items or (c.value is None and not c.children):
            out.append((c.kw, tuple(i.words for i in c.items)))
        elif c.children:
            out.append((c.kw, (c.value, options(c, set()))))
        else:
            out.append((c.kw, c.value))
    return tuple(out)
