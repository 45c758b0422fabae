"""Command-line entry: `python main.py [SUBCOMMAND] ...`; no subcommand runs the HPO lab."""

from __future__ import annotations

import importlib
import sys

from trainlab.commands.options import exit_code

# Each subcommand is a module of trainlab.commands exposing `main(argv: list[str]) -> int`.
SUBCOMMANDS: tuple[str, ...] = ("train", "experiment", "components", "k1", "propose", "ask")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv.pop(0) if argv and argv[0] in SUBCOMMANDS else "lab"
    module = importlib.import_module(f"trainlab.commands.{name}")
    try:
        return module.main(argv)
    except SystemExit as exc:  # argparse's --help or a bad flag
        return exit_code(exc)
