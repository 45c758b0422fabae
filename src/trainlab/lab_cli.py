"""`python main.py [options]`: run (or resume) the HPO lab."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from graphs.hpo import build_hpo_graph, recursion_limit
from trainlab import lab
from trainlab.cli_options import (
    add_data_options,
    add_tracker_option,
    add_train_options,
    data_settings_from,
    non_negative_int,
    positive_int,
    train_settings_from,
)
from trainlab.config import DEFAULT_MODELS, ROLES, LabSettings
from trainlab.reporting.console import RichLabDisplay, run_banner, trials_table
from trainlab.reporting.graph_png import save_graph_png
from trainlab.reporting.run_report import trial_rows
from trainlab.reporting.trackers import TrackerUnavailableError
from trainlab.runstore import RunFolderError, open_checkpointer, read_json
from trainlab.state import FinalConfig, TrialSummary
from trainlab.training.data import DataUnavailableError

EPILOG = """subcommands: train (one trial), and more: `python main.py SUBCOMMAND --help`.
examples:
  python main.py --offline --dataset digits --rounds 3 --epochs 4 --width 16 --augment none
  python main.py --rounds 10 --epochs 20 --draw-graph          (CIFAR-10 on a GPU)
  python main.py --resume runs/20261125-101500                 (continue after a crash)"""


class LabError(RuntimeError):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="The HPO lab: consultants propose, a supervisor decides, the executor "
        "trains, the analyst and researcher read the curves; repeated for --rounds rounds.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lab_group = parser.add_argument_group("lab")
    lab_group.add_argument("--rounds", type=positive_int, default=10, help="HPO rounds (10)")
    lab_group.add_argument(
        "--consult-turns", type=positive_int, default=2, help="consultant exchanges (2)"
    )
    lab_group.add_argument(
        "--stagnation-rounds",
        type=non_negative_int,
        default=3,
        metavar="K",
        help="after K rounds without a new best, ask for a research proposal; 0: never (3)",
    )
    lab_group.add_argument(
        "--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run"
    )
    lab_group.add_argument(
        "--draw-graph", action="store_true", help="save the workflow as RUN_DIR/graph.png"
    )
    lab_group.add_argument(
        "--offline", action="store_true", help="use the offline policies even if keys are set"
    )
    lab_group.add_argument(
        "--anonymize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="never name the dataset or model in agent-facing text (True)",
    )
    lab_group.add_argument(
        "--search-provider",
        choices=["gemini", "cse", "offline"],
        default="gemini",
        help="where the researcher looks for remedies (gemini)",
    )
    add_tracker_option(lab_group)
    for role in ROLES:
        lab_group.add_argument(
            f"--models.{role}",
            default=DEFAULT_MODELS[role],
            metavar="ID",
            help=f"LLM model id for {role} ({DEFAULT_MODELS[role]})",
        )
    add_train_options(parser)
    add_data_options(parser)
    return parser


def settings_from(args: argparse.Namespace) -> LabSettings:
    return LabSettings(
        rounds=args.rounds,
        consult_turns=args.consult_turns,
        stagnation_rounds=args.stagnation_rounds,
        output_dir=args.output_dir,
        anonymize=args.anonymize,
        offline=args.offline,
        search_provider=args.search_provider,
        models={role: getattr(args, f"models.{role}") for role in ROLES},
        draw_graph=args.draw_graph,
        tracker=args.tracker,
        train=train_settings_from(args),
        data=data_settings_from(args),
    )


def load_run(run_dir: Path) -> LabSettings:
    """The settings a run was started with, from its config.json."""
    config = run_dir / "config.json"
    if not config.is_file():
        raise LabError(f"cannot resume {run_dir}: no config.json there (not a lab run folder)")
    try:
        return LabSettings.model_validate(read_json(config))
    except (ValueError, ValidationError) as exc:
        raise LabError(f"cannot resume {run_dir}: config.json is unreadable ({exc})") from exc


def run_lab(settings: LabSettings, run_dir: Path, resuming: bool, console: Console) -> int:
    """Run the graph to the end (or on from its last checkpoint) and print the trials."""
    with open_checkpointer(run_dir, must_exist=resuming) as saver:
        display = RichLabDisplay(console, settings.rounds)
        runtime = lab.LabRuntime.create(settings, display, run_dir)
        console.print(run_banner(settings, run_dir, resuming))
        console.print(runtime.mode)
        compiled, _ = build_hpo_graph(runtime, saver)
        config = {
            "configurable": {"thread_id": run_dir.name},
            "recursion_limit": recursion_limit(settings.rounds, settings.consult_turns),
        }
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


def _print_results(console: Console, run_dir: Path, state: dict) -> None:
    finals = [FinalConfig.model_validate(f) for f in state["finals"]]
    trials = [TrialSummary.model_validate(t) for t in state["trials"]]
    best = state.get("best")
    console.print(trials_table(trial_rows(finals, trials), best and best["round"]))
    console.print(f"Artifacts: {run_dir} (report.html, report.md, trials_summary.csv, …)")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.resume:
            settings, run_dir, resuming = load_run(args.resume), args.resume, True
        else:
            settings = settings_from(args)
            run_dir, resuming = lab.start_run(settings), False
        return run_lab(settings, run_dir, resuming, console)
    except (LabError, RunFolderError, DataUnavailableError, TrackerUnavailableError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
