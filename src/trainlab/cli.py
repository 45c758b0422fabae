"""Command-line entry: `python main.py [SUBCOMMAND] ...`; no subcommand runs the HPO lab."""

from __future__ import annotations

import importlib
import sys

# Each subcommand lives in its own module exposing `main(argv: list[str]) -> int`.
SUBCOMMANDS: dict[str, str] = {
    "train": "trainlab.training.cli",
    "experiment": "trainlab.experiments.cli",
    "components": "trainlab.components.cli",
    "k1": "trainlab.k1.cli",
    "propose": "trainlab.proposals.cli",
    "ask": "trainlab.proposals.ask_cli",
    "suggest": "trainlab.commands.suggest",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[argv[0]])
        return module.main(argv[1:])
    from trainlab.lab_cli import main as lab_main

    return lab_main(argv)
