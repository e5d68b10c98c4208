"""Model -> JSON-able structure for golden files (locations dropped)."""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from typing import Any

from pykeepalived.config.diag import Loc


def to_jsonable(v: Any) -> Any:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {
            f.name: to_jsonable(getattr(v, f.name))
            for f in dataclasses.fields(v)
            if not isinstance(getattr(v, f.name), Loc) and "Loc" not in str(f.type)
        }
    if isinstance(v, tuple | list):
        return [to_jsonable(x) for x in v]
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(v)
    return v
