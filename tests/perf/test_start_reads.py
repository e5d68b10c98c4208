"""How often the parent reads keepalived.conf at start (issue 15): once, as keepalived's parent, unless
the read has effects of its own in the parent (config_save_dir, tmp_config_directory, a failed include
check), which then happen where they did (daemon/parent/parent_files.py). A real parent is started
(no instance, so no child reads the file) with `pykeepalived.config.load_config` wrapped to record
every read, in whichever fork makes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

WRAPPER = textwrap.dedent("""
    import os, sys
    import pykeepalived.config as config
    real = config.load_config
    def counted(*args, **kwargs):
        with open(os.environ["READS"], "a") as f:
            f.write(f"{os.getpid()}\\n")
        return real(*args, **kwargs)
    config.load_config = counted
    from pykeepalived.cli import main
    sys.argv[0] = "pykeepalived"
    raise SystemExit(main())
""")


def _in_loop(pid: int) -> bool:
    """The parent's loop has started: its main thread waits in sigtimedwait() (Parent.run)."""
    try:
        return "sigtimedwait" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def _reads_at_start(tmp_path: Path, global_defs: str) -> tuple[int, str]:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(f"global_defs {{\n{global_defs}\n}}\n")
    reads = tmp_path / "reads"
    log = tmp_path / "log"
    argv = [sys.executable, "-c", WRAPPER, "-n", "-l", "-G", "-f", str(conf),
            "-p", str(tmp_path / "parent.pid")]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, READS=str(reads), TMPDIR=str(tmp_path)))
    try:
        deadline = time.monotonic() + 30
        while not _in_loop(proc.pid):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the parent did not reach its loop"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return len(reads.read_text().split()), log.read_text()


def test_the_parent_reads_the_configuration_once_at_start(tmp_path: Path) -> None:
    n, log = _reads_at_start(tmp_path, "  reload_file")
    assert "Configuration file" in log and "Stopped" in log
    assert n == 1


@pytest.mark.parametrize("keyword", ["config_save_dir {dir}", "tmp_config_directory {dir}"])
def test_a_read_with_effects_in_the_parent_is_made_where_they_happen(tmp_path: Path, keyword: str) -> None:
    save = tmp_path / "save"
    n, _ = _reads_at_start(tmp_path, "  " + keyword.format(dir=save))
    assert n == 2
    if keyword.startswith("config_save_dir"):
        assert [p.name.rsplit(".", 1)[-1] for p in save.iterdir()] == ["0"]  # its copy, numbered 0
