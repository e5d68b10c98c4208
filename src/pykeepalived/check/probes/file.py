"""FILE_CHECK probe: read the tracked file's number (keepalived's track_file semantics).

With weight 0 a non-zero value means down; otherwise the value times the weight (negated with
`reverse`) is added to the real server's weight. An unreadable or empty file counts as 0.
"""

from __future__ import annotations

from pathlib import Path

from pykeepalived.check.model import FileCheckSpec
from pykeepalived.check.probes import ProbeResult


def read_value(path: str) -> int:
    try:
        text = Path(path).read_text().split()
        return int(text[0]) if text else 0
    except (OSError, ValueError, IndexError):
        return 0


async def probe_file(spec: FileCheckSpec) -> ProbeResult:
    value = read_value(spec.file_path)  # a small local file: reading it does not block measurably
    if spec.weight == 0:
        if value != 0:
            return ProbeResult(False, f"FILE_CHECK track_file {spec.track_file} value {value}")
        return ProbeResult(True, weight=0)
    delta = value * spec.weight * (-1 if spec.reverse else 1)
    return ProbeResult(True, weight=delta)
