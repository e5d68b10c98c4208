"""No local user can make the daemon write somewhere else as root (issue 20, item 1).

A user who owns the directory the daemon writes its files to ($TMPDIR, config_save_dir, a track
file's directory) plants symlinks to a root-only file at every name the daemon could pick: the
temporary names of the old scheme (`PATH.<pid>.tmp`), the final names, the config_save_dir names;
and a regular file of their own, mode 0666, at a final name. After the signal dumps, a reload with
config_save_dir and a track file's init_file, the victim must be untouched and every file the
daemon wrote a regular file of root's with keepalived's mode, the same for keepalived 2.2.7 and
for pykeepalived."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, instance_conf, wait_for
from pykeepalived.options import SIGFUNCS
from pykeepalived.safefile import open_append, replace

NOBODY = 65534
SECRET = "precious root-only data\n"


@pytest.fixture
def victim() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pyka-victim-"))  # 0700, root's
    v = d / "victim"
    v.write_text(SECRET)
    yield v
    shutil.rmtree(d, ignore_errors=True)


def _as_nobody(*argv: str) -> None:
    subprocess.run(argv, user=NOBODY, group=NOBODY, check=True)


def _plant_link(path: Path, target: Path) -> None:
    _as_nobody("ln", "-sf", str(target), str(path))


def _root_file(path: Path) -> bool:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == 0 and st.st_size > 0


def test_safefile_refuses_symlinks(victim: Path, tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(victim)
    with pytest.raises(OSError):
        os.close(open_append(str(link)))
    replace(str(link), "mine\n", 0o600)
    assert victim.read_text() == SECRET
    assert not link.is_symlink() and link.read_text() == "mine\n"
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
@pytest.mark.parametrize("impl", ["ka", "py"])
def test_planted_links_and_files_are_not_followed(lab: Lab, nodes: list[Node], victim: Path,
                                                  impl: str) -> None:
    node = Node(lab["n1"], "", impl=impl)
    os.chown(node.dir, NOBODY, NOBODY)  # the attacker owns $TMPDIR and the directories below
    saved, tracked = node.dir / "saved", node.dir / "track"
    for d in (saved, tracked):
        _as_nobody("mkdir", "-m", "0755", str(d))
    tf = tracked / "tf"
    _plant_link(tf, victim)  # init_file ... overwrite must replace the link, not write through it
    node.conf.write_text(instance_conf(prio=150, state="MASTER", globals_=f"    config_save_dir {saved}\n",
                                       extra="    track_file {\n        tf weight 0\n    }\n") + f"""
vrrp_track_file tf {{
    file {tf}
    init_file 0 overwrite
}}
""")
    nodes.append(node.start())
    wait_for(lambda: node.has("192.0.2.100"), 20)
    assert victim.read_text() == SECRET, "init_file wrote through a symlink"
    assert _root_file(tf) and tf.read_text() == "0\n"
    pid = node.vrrp_pid()
    assert pid is not None
    for name in ("keepalived.data", "keepalived.stats", "keepalived.json"):
        _plant_link(node.dir / f"{name}.{pid}.tmp", victim)  # the old predictable temporary names
    _plant_link(node.dir / "keepalived.data", victim)  # a link at the final name
    stats = node.dir / "keepalived.stats"
    _as_nobody("sh", "-c", f"echo planted > {stats}; chmod 0666 {stats}")
    _plant_link(saved / f"keepalived_vrrp.{pid}.1.pre", victim)
    _plant_link(saved / f"keepalived_vrrp.{pid}.1.post", victim)

    node.signal(signal.SIGUSR1)
    os.kill(pid, signal.SIGUSR2)
    os.kill(pid, SIGFUNCS["JSON"])
    dumps = [node.dir / n for n in ("keepalived.data", "keepalived.stats", "keepalived.json")]
    wait_for(lambda: all(_root_file(p) for p in dumps), 15)
    node.signal(signal.SIGHUP)
    saves = [saved / f"keepalived_vrrp.{pid}.1.{w}" for w in ("pre", "post")]
    wait_for(lambda: all(_root_file(p) for p in saves), 15)

    assert victim.read_text() == SECRET
    for p in [*dumps, *saves]:
        assert stat.S_IMODE(p.lstat().st_mode) == 0o600, p  # 0666 less keepalived's umask 0177
    assert "VI_1" in dumps[0].read_text() and "planted" not in dumps[1].read_text()
    assert node.has("192.0.2.100")  # still MASTER: nothing of this disturbed the instance
