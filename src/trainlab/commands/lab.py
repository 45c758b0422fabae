"""`python main.py [options]`: run (or resume) the HPO lab (its own graph, graphs/hpo.py).

Arguments are parsed (and the settings validated) before torch, LangGraph or the graphs are
imported, so `--help` and a bad flag answer at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trainlab.commands.options import (
    OneLineParser,
    UsageError,
    add_settings_flags,
    exit_code,
    fail,
    one_line_error,
    settings_from,
)
from trainlab.config import LabSettings

EPILOG = """subcommands: train, experiment, components, k1, propose, ask:
  `python main.py SUBCOMMAND --help`.
examples:
  python main.py --offline --dataset digits --rounds 3 --epochs 4 --width 16 --augment none
  python main.py --rounds 10 --epochs 20 --draw-graph          (CIFAR-10 on a GPU)
  python main.py --resume runs/20261125-101500                 (continue after a crash)"""


def build_parser() -> tuple[OneLineParser, dict[str, str]]:
    """The lab's parser (every LabSettings field is a flag) and field → flag."""
    parser = OneLineParser(
        prog="python main.py",
        description="The HPO lab: consultants propose, a supervisor decides, the executor "
        "trains, the analyst and researcher read the curves; repeated for --rounds rounds.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run"
    )
    return parser, add_settings_flags(parser, LabSettings, "lab")


def load_run(run_dir: Path) -> LabSettings:
    """The settings a run was started with, from its config.json."""
    from trainlab.runstore import read_json

    config = run_dir / "config.json"
    if not config.is_file():
        raise UsageError(f"cannot resume {run_dir}: no config.json there (not a lab run folder)")
    try:
        return LabSettings.model_validate(read_json(config))
    except (ValueError, ValidationError) as exc:
        raise UsageError(f"cannot resume {run_dir}: config.json is unreadable ({exc})") from exc


def run_lab(settings: LabSettings, run_dir: Path, resuming: bool) -> int:
    """Run the lab graph to the end (or on from its last checkpoint) and print the trials."""
    from rich.console import Console

    from trainlab import lab
    from trainlab.graphs.hpo import build_hpo_graph
    from trainlab.graphs.shared import run_config
    from trainlab.reporting.console import lab_display
    from trainlab.reporting.graph_png import save_graph_png
    from trainlab.runstore import open_checkpointer

    console = Console()
    with open_checkpointer(run_dir, must_exist=resuming) as saver:
        display = lab_display(console, settings.rounds)
        runtime = lab.LabRuntime.create(settings, display, run_dir)
        console.print(runtime.mode)
        compiled, _ = build_hpo_graph(runtime, saver)
        config = run_config(run_dir.name, lab.hpo_supersteps(settings))
        snapshot = compiled.get_state(config)
        if resuming and snapshot.values and not snapshot.next:
            console.print(f"Run {run_dir} already finished; nothing to resume.")
            return 0
        if settings.draw_graph:
            renderer = save_graph_png(compiled.get_graph(xray=True), run_dir / "graph.png")
            console.print(f"Graph saved to {run_dir / 'graph.png'} ({renderer} renderer).")
        start = None if snapshot.values else {"run_dir": str(run_dir)}
        with display:
            compiled.invoke(start, config, durability="sync")
        state = compiled.get_state(config).values
    _print_results(console, run_dir, state)
    return 0


def _print_results(console: Any, run_dir: Path, state: dict[str, Any]) -> None:
    from trainlab.reporting.console import trials_table
    from trainlab.reporting.run_report import trial_rows
    from trainlab.state import FinalConfig, TrialSummary

    finals = [FinalConfig.model_validate(f) for f in state["finals"]]
    trials = [TrialSummary.model_validate(t) for t in state["trials"]]
    best = state.get("best")
    console.print(trials_table(trial_rows(finals, trials), best and best["round"]))
    console.print(f"Artifacts: {run_dir} (report.md, trials_summary.csv, best_overall.json)")


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    try:
        args = parser.parse_args(argv)
        settings = load_run(args.resume) if args.resume else settings_from(LabSettings, args)
    except SystemExit as exc:
        return exit_code(exc)
    except (UsageError, ValidationError) as exc:
        return fail(one_line_error(exc, flags), sys.stdout)
    from trainlab import lab
    from trainlab.runstore import RunFolderError
    from trainlab.training.data import DataUnavailableError

    try:
        run_dir = args.resume or lab.start_run(settings)
        return run_lab(settings, run_dir, resuming=args.resume is not None)
    except (RunFolderError, DataUnavailableError) as exc:
        return fail(one_line_error(exc), sys.stdout)
