# Theory of operation
# -------------------
# Where the files written on signals go (keepalived.md §3.2/3.3). keepalived's tmp_dir is $TMPDIR
# when it is an absolute path, else /tmp (configure's KA_TMP_DIR). The state (SIGUSR1) files are
# keepalived.data for the VRRP child and keepalived_check.data / keepalived_bfd.data /
# keepalived_parent.data for the others; `state_dump_file PATH` (keepalived 2.3+) is a template: a
# path ending in `/` is a directory holding the usual names, a relative path is put in tmp_dir, and
# the process suffix (`_check`, `_bfd`, `_parent`) goes before the template's extension. With
# `data_use_instance` and an `instance` name or a network namespace (`net_namespace`, `-s`),
# `.NS_INST` goes before the extension as well, e.g. keepalived_check.ns1_inst.data.
# `stats_dump_file` and `json_dump_file` are placed by the same rules (keepalived's manual; its
# code of 2.3/2.4 parses them but still writes keepalived.stats and keepalived.json in tmp_dir);
# data_use_instance applies to the stats file too, as the manual says, and not to the JSON file.
"""Paths of the state, stats and JSON files, from global_defs and the command line."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pykeepalived.safefile import replace

if TYPE_CHECKING:
    from pykeepalived.config.model import DumpFileDefs, RootDefs

DEFAULT_TMP_DIR = "/tmp"


def tmp_dir() -> str:
    """keepalived set_tmp_dir(): $TMPDIR if it is an absolute path, else /tmp."""
    tmp = os.environ.get("TMPDIR")
    return tmp if tmp and tmp.startswith("/") else DEFAULT_TMP_DIR


@dataclass(frozen=True, slots=True)
class DumpPaths:
    state_dump_file: str | None = None
    stats_dump_file: str | None = None
    json_dump_file: str | None = None
    json_version: int = 1
    data_use_instance: bool = False
    instance: str | None = None
    namespace: str | None = None

    @classmethod
    def from_defs(cls, d: DumpFileDefs, root: RootDefs, namespace: str | None = None) -> DumpPaths:
        """From global_defs' dump file keywords, the top-level instance and net_namespace, and -s."""
        return cls(state_dump_file=d.state_dump_file, stats_dump_file=d.stats_dump_file,
                   json_dump_file=d.json_dump_file, json_version=d.json_version,
                   data_use_instance=d.data_use_instance, instance=root.instance,
                   namespace=namespace or root.net_namespace or None)

    def _place(self, template: str | None, default: str, suffix: str, use_instance: bool) -> str:
        if template and template.startswith("/"):
            directory = template if template.endswith("/") else template.rsplit("/", 1)[0] or "/"
        else:
            directory = tmp_dir()
        name = template.rsplit("/", 1)[-1] if template and not template.endswith("/") else default
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        tag = ""
        if use_instance and self.data_use_instance and (self.instance or self.namespace):
            tag = "." + "_".join(p for p in (self.namespace, self.instance) if p)
        return os.path.join(directory.rstrip("/") or "/", f"{stem}{suffix}{tag}{'.' + ext if dot else ''}")

    def state(self, process: str = "") -> str:
        """The SIGUSR1 file: process is "" (VRRP), "_check", "_bfd" or "_parent"."""
        return self._place(self.state_dump_file, "keepalived.data", process, True)

    def stats(self) -> str:
        return self._place(self.stats_dump_file, "keepalived.stats", "", True)

    def json(self) -> str:
        return self._place(self.json_dump_file, "keepalived.json", "", False)


def paths_of(model: Any, namespace: str | None = None) -> DumpPaths:
    """The DumpPaths of a loaded configuration Model (None: keepalived's defaults)."""
    if model is None:
        return DumpPaths(namespace=namespace)
    return DumpPaths.from_defs(model.global_defs.dump_files, model.root, namespace)


# ------------------------------------------------------------------ config_save_dir
_PROCESS = {"VrrpChild": "vrrp", "CheckerChild": "check", "BfdChild": "bfd"}
_reload_num = 0


def config_save_dir(model: Any) -> str | None:
    """global_defs `config_save_dir` without a trailing `/` (keepalived set_dir)."""
    if model is None:
        return None
    d: str | None = model.global_defs.config_save_dir
    if not d:
        return None
    return d[:-1] if d.endswith("/") and len(d) > 1 else d


def save_config(child: Any, post: bool) -> str | None:
    """keepalived save_config(): around each reload a child writes its data dump to
    DIR/keepalived_PROCESS.PID.N.pre (old configuration) and .post (new), N counting reloads."""
    global _reload_num
    directory = config_save_dir(getattr(child, "model", None))
    if directory is None:
        return None
    if not post:
        _reload_num += 1
    process = _PROCESS.get(type(child).__name__, type(child).__name__.lower())
    path = f"{directory}/keepalived_{process}.{os.getpid()}.{_reload_num}.{'post' if post else 'pre'}"
    status = getattr(child, "status", None)
    render = status.data_text if status is not None else getattr(child, "data_text", None)
    try:
        replace(path, render() if render is not None else "")
    except Exception:
        logging.getLogger("pykeepalived").info("Failed to open config_save file %s", path)
        return None
    return path
