"""The configuration layer's entry point: read, parse and build in one call."""

from __future__ import annotations

from pykeepalived.config.build import build_model
from pykeepalived.config.diag import BLOCK_PROCESSES, NOWHERE, READINGS, ConfigErr, Diagnostic, Loc, Reporter
from pykeepalived.config.lexer import Lexer
from pykeepalived.config.model import Model
from pykeepalived.config.parser import Node, Parser


def load_config(
    path: str, config_id: str | None = None, all_config: bool = False, process: str | None = None
) -> tuple[Model, list[Diagnostic]]:
    """Parse keepalived.conf at `path` (glob allowed); never raises on bad input.

    `config_id` defaults to the short hostname (keepalived -i). Returns the model with keepalived's
    defaults applied and every diagnostic in file order; with `process` ("vrrp", "checker", "bfd")
    only those keepalived's process of that name reports (BLOCK_PROCESSES).
    """
    model, diags, used_random = _load(path, config_id, all_config, None, process)
    seed = dict(model.global_defs.options).get("random_seed")
    if used_random and isinstance(seed, int):
        # `random_seed N` makes ${_RANDOM} repeatable, as keepalived documents it: the whole file is
        # read again with glibc's random() seeded by srandom(N). (keepalived 2.2.7's own parser
        # clears the seed before using it, so there it has no effect.)
        model, diags, _ = _load(path, config_id, all_config, seed, process)
    return model, diags


def config_files(path: str, config_id: str | None = None, all_config: bool = False) -> list[str]:
    """The files read for `path`, main file first, named as keepalived's parser names them in its
    `Opening file '...'.` lines (lib/parser.c open_conf_file: relative includes as matched)."""
    lexer = Lexer(Reporter(), config_id, all_config)
    for _ in lexer.read_main(path):
        pass
    return lexer.opened


def _load(path: str, config_id: str | None, all_config: bool, random_seed: int | None,
          process: str | None) -> tuple[Model, list[Diagnostic], bool]:
    rep = Reporter()
    lexer = Lexer(rep, config_id, all_config, random_seed)
    try:
        parser = Parser(lexer.read_main(path), rep)
        root = parser.parse()
        model = build_model(root, rep)
    except RecursionError:
        rep.error(NOWHERE, "configuration too deeply nested", ConfigErr.FATAL)
        return Model(), rep.diags, lexer.used_random
    if process is None:
        return model, stopped_reading(rep.diags, root, parser.after), lexer.used_random
    return model, [d for d in rep.diags if process in processes_of(d, root)], lexer.used_random


ALL_PROCESSES = frozenset({"vrrp", "checker", "bfd"})


def stopped_reading(diags: list[Diagnostic], root: Node, after: dict[Loc, int]) -> list[Diagnostic]:
    """The messages keepalived -t prints when a keyword misses its parameter (Diagnostic.stops):
    its readings of the file (READINGS: the parent, then each child's) run one after the other in
    one process, and the first one acting on such a line exits there. What the readings before it
    found is printed (their checks after reading too), what that reading found before the line, and
    nothing else."""
    stops = [d for d in diags if d.stops]
    if not stops:
        return diags
    rank = {p: k for k, p in enumerate(READINGS)}

    def ranks(d: Diagnostic) -> set[int]:
        procs = d.procs if d.procs is not None else processes_of(d, root)
        return {rank[p] for p in procs} | ({0} if procs == ALL_PROCESSES else set())

    fatal = min(stops, key=lambda d: min(ranks(d)))
    dying = min(ranks(fatal))
    at = after.get(fatal.loc, 0)

    def printed(d: Diagnostic) -> bool:
        if d.stops:
            return d is fatal
        r = ranks(d)
        if any(k < dying for k in r):
            return True
        return dying in r and d.loc.line > 0 and after.get(d.loc, -1) <= at

    return [d for d in diags if printed(d)]


def stopping_reading(diags: list[Diagnostic]) -> str | None:
    """The reading of keepalived -t that a missing parameter stops (None: all complete)."""
    procs = [p for d in diags if d.stops and d.procs for p in d.procs]
    return min(procs, key=READINGS.index) if procs else None


def processes_of(d: Diagnostic, root: Node) -> frozenset[str]:
    """The processes that report `d`: those of the top-level block whose lines (from its keyword to
    its closing brace, in the same file) hold it; every process for the rest (the top level,
    global_defs, a block dropped for bad arguments, a file included from inside a block); for a
    message without a line, those the builder said (Diagnostic.procs)."""
    if d.procs is not None:
        return d.procs
    before = [n for n in root.children if n.loc.file == d.loc.file and 0 < n.loc.line <= d.loc.line]
    if before:
        n = max(before, key=lambda n: n.loc.line)
        if n.end.file != n.loc.file or not n.end.line or d.loc.line <= n.end.line:
            return BLOCK_PROCESSES.get(n.kw, ALL_PROCESSES)
    return ALL_PROCESSES
