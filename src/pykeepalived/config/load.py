"""The configuration layer's entry point: read, parse and build in one call."""

from __future__ import annotations

from pykeepalived.config.build import build_model
from pykeepalived.config.diag import NOWHERE, ConfigErr, Diagnostic, Reporter
from pykeepalived.config.lexer import Lexer
from pykeepalived.config.model import Model
from pykeepalived.config.parser import Parser


def load_config(
    path: str, config_id: str | None = None, all_config: bool = False
) -> tuple[Model, list[Diagnostic]]:
    """Parse keepalived.conf at `path` (glob allowed); never raises on bad input.

    `config_id` defaults to the short hostname (keepalived -i). Returns the model with keepalived's
    defaults applied and every diagnostic in file order.
    """
    model, diags, used_random = _load(path, config_id, all_config, None)
    seed = dict(model.global_defs.options).get("random_seed")
    if used_random and isinstance(seed, int):
        # `random_seed N` makes ${_RANDOM} repeatable, as keepalived documents it: the whole file is
        # read again with glibc's random() seeded by srandom(N). (keepalived 2.2.7's own parser
        # clears the seed before using it, so there it has no effect.)
        model, diags, _ = _load(path, config_id, all_config, seed)
    return model, diags


def _load(path: str, config_id: str | None, all_config: bool,
          random_seed: int | None) -> tuple[Model, list[Diagnostic], bool]:
    rep = Reporter()
    lexer = Lexer(rep, config_id, all_config, random_seed)
    try:
        root = Parser(lexer.read_main(path), rep).parse()
        model = build_model(root, rep)
    except RecursionError:
        rep.error(NOWHERE, "configuration too deeply nested", ConfigErr.FATAL)
        model = Model()
    return model, rep.diags, lexer.used_random
