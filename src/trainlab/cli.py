"""Command-line entry: `python main.py [SUBCOMMAND] ...`; no subcommand runs the HPO lab."""

from __future__ import annotations

import importlib
import os
import sys

from trainlab.agents.credentials import EnvError, load_env
from trainlab.agents.resilience import CallPolicy
from trainlab.commands.options import exit_code, fail

# Each subcommand is a module of trainlab.commands exposing `main(argv: list[str]) -> int`.
SUBCOMMANDS: tuple[str, ...] = (
    "train",
    "experiment",
    "components",
    "k1",
    "propose",
    "ask",
    "research",
    "deploy",
    "suggest",
)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # `.env` once, up front: a bad file or variable is one line before anything runs
        CallPolicy.from_env(load_env())
    except EnvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("TRAINLAB_COMPONENTS"):  # modules that register user components
        from trainlab.components.custom import CustomComponentError, load_plugins

        try:
            load_plugins(os.environ)
        except CustomComponentError as exc:
            return fail(str(exc))
    name = argv.pop(0) if argv and argv[0] in SUBCOMMANDS else "lab"
    module = importlib.import_module(f"trainlab.commands.{name}")
    try:
        return module.main(argv)
    except SystemExit as exc:  # argparse's --help or a bad flag
        return exit_code(exc)
