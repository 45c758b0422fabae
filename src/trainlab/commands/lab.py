"""`python main.py [options]`: run (or resume) the HPO lab (its own graph, graphs/hpo.py).

Arguments are parsed (and the settings validated) before torch, LangGraph or the graphs are
imported, so `--help` and a bad flag answer at once.
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from trainlab.commands.options import (
    OneLineParser,
    UsageError,
    add_settings_flags,
    changed_fields,
    exit_code,
    fail,
    flag_values,
    one_line_error,
    preflight,
    settings_from,
)
from trainlab.config import LabSettings

if TYPE_CHECKING:
    from trainlab.runstore import RunFolder

RUN_FILES = (
    "report.html",
    "report.md",
    "trials_summary.csv",
    "best_overall.json",
)  # those that exist are named
RESUME_MAY_CHANGE = ("rounds", "train.device", "ray_address", "gpus_per_trial", "cpus_per_trial")
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}

EPILOG = """subcommands: train, experiment, components, k1, propose, ask:
  `python main.py SUBCOMMAND --help`.
examples:
  python main.py --offline --dataset digits --rounds 3 --epochs 4 --width 16 --augment none
  python main.py --rounds 10 --epochs 20 --draw-graph          (CIFAR-10 on a GPU)
  python main.py --resume runs/20261125-101500                 (continue after a crash)
  python main.py --resume runs/20261125-101500 --rounds 20     (extend a run to 20 rounds)"""


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
        "--resume", type=Path, metavar="RUN_DIR",
        help="continue a run (wherever its folder now is); with --rounds N: extend it to N",
    )  # fmt: skip
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


def resume_settings(
    parser: OneLineParser, flags: dict[str, str], argv: list[str], run_dir: Path
) -> LabSettings:
    """The run's settings with the flags given beside --resume: --rounds may grow (more rounds
    extend the run) and --device may change (where it runs, not what it computes); any other
    change is refused with the reason."""
    started = load_run(run_dir)
    parser.set_defaults(**flag_values(started))
    asked: LabSettings = settings_from(LabSettings, parser.parse_args(argv))
    changed = [path for path in changed_fields(started, asked) if path not in RESUME_MAY_CHANGE]
    changed = [path for path in changed if not _same_database(started, asked, path)]
    if changed:
        raise UsageError(
            f"{flags.get(changed[0], changed[0])}: a resumed run keeps the settings it was "
            f"started with ({run_dir / 'config.json'}); only --rounds (to extend it) and "
            "--device may change"
        )
    if asked.rounds < started.rounds:
        raise UsageError(
            f"--rounds {asked.rounds}: the run was started for {started.rounds} rounds; "
            "with --resume, --rounds can only extend it"
        )
    return asked


def _same_database(started: LabSettings, asked: LabSettings, path: str) -> bool:
    """A database URL given again beside --resume (with its password) is the same URL."""
    if path not in ("checkpointer", "storage"):
        return False
    dumped = started.model_dump(include={path}), asked.model_dump(include={path})
    return dumped[0] == dumped[1]


def check_backends(settings: LabSettings) -> None:
    """The database servers answer and the Ray cluster is reachable (short timeouts), before
    any run folder exists; each failure is one UsageError line without a password."""
    from trainlab.execution.ray_backend import ExecutionSetupError, connect_ray
    from trainlab.persistence.urls import (
        DatabaseUrlError,
        check_database,
        parse_checkpointer_url,
        parse_storage_url,
    )

    try:
        for db in (
            parse_checkpointer_url(settings.checkpointer, Path(".")),
            parse_storage_url(settings.storage, Path(".")),
        ):
            if db.kind == "postgresql" or (db.option == "--storage" and settings.storage):
                check_database(db)
        if settings.ray_address is not None:
            connect_ray(settings.ray_settings)
    except (DatabaseUrlError, ExecutionSetupError) as exc:
        raise UsageError(str(exc)) from None


def run_lab(settings: LabSettings, folder: RunFolder, resuming: bool) -> int:
    """Run the lab graph to its end (or on from its last checkpoint) and print the trials."""
    from rich.console import Console

    from trainlab import lab
    from trainlab.graphs.hpo import build_hpo_graph
    from trainlab.graphs.shared import run_config
    from trainlab.persistence.stores import open_checkpointer_at
    from trainlab.persistence.urls import parse_checkpointer_url
    from trainlab.reporting.console import lab_display, run_banner
    from trainlab.reporting.graph_png import save_graph_png
    from trainlab.runstore import RunFolderError, write_json

    console = Console()
    db = parse_checkpointer_url(settings.checkpointer, folder.path)
    with open_checkpointer_at(db, must_exist=resuming) as saver:
        thread = folder.thread_id(saver)
        if resuming:  # --rounds may have extended it; a run from before run.json gets one
            write_json(folder.config, settings.model_dump(mode="json"))
            if not folder.record.is_file():
                folder.begin(thread)
        console.print(run_banner(settings, folder.path, resuming))
        runtime = lab.LabRuntime.create(settings, None, folder.path, probe_endpoints=True)
        console.print(runtime.mode)
        compiled, _ = build_hpo_graph(runtime, saver)
        config = run_config(thread, lab.hpo_supersteps(settings))
        state = compiled.get_state(config).values
        if resuming and not state:
            raise RunFolderError(f"{folder.checkpoints} holds no checkpoint of thread {thread}")
        from trainlab.search.lab_search import more_rounds

        if folder.finished and not more_rounds(settings, state, settings.rounds):
            console.print(f"Run {folder.path} already finished; nothing to resume.")
        else:
            if settings.draw_graph:
                renderer = save_graph_png(compiled.get_graph(xray=True), folder.graph_png)
                console.print(f"Graph saved to {folder.graph_png} ({renderer} renderer).")
            best = (state.get("best") or {}).get("best_val_acc")
            runtime.display = lab_display(console, settings.rounds, best)
            with runtime.display:
                state = _run_to_end(compiled, config, folder, settings, state)
    _print_results(console, folder, state)
    return 0


def _run_to_end(
    compiled: Any,
    config: dict[str, Any],
    folder: RunFolder,
    settings: LabSettings,
    state: dict[str, Any],
) -> dict[str, Any]:
    """Invoke until the graph's end: --rounds rounds recorded or the epoch budget spent.
    Resuming always invokes (pending writes of a killed step are applied, never mistaken for
    the end); a run that ended early (--rounds raised on resume) is reopened after its last
    record."""
    start = None if state else {"run_dir": str(folder.path)}
    compiled.invoke(start, config, durability="sync")
    state = compiled.get_state(config).values
    from trainlab.search.lab_search import more_rounds

    if more_rounds(settings, state, settings.rounds):
        folder.mark_finished(False)
        compiled.update_state(config, {"rounds": settings.rounds}, as_node="record")
        compiled.invoke(None, config, durability="sync")
        state = compiled.get_state(config).values
    return state


def _print_results(console: Any, folder: RunFolder, state: dict[str, Any]) -> None:
    """The table of every trial of the run (from its state: the same after any resume) and the
    run-level files that exist."""
    from trainlab.lab_history import full_state
    from trainlab.reporting.console import trials_table
    from trainlab.reporting.run_report import trial_rows
    from trainlab.state import FinalConfig, TrialSummary

    state = full_state(folder, state)
    finals = [FinalConfig.model_validate(f) for f in state["finals"]]
    trials = [TrialSummary.model_validate(t) for t in state["trials"]]
    best = state.get("best")
    rows = trial_rows(finals, trials)
    console.print(trials_table(rows, best and best["round"], best and best["best_val_acc"]))
    written = [name for name in RUN_FILES if (folder.path / name).is_file()]
    console.print(f"Artifacts: {folder.path} ({', '.join(written)})")


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.resume:
            settings = resume_settings(parser, flags, argv, args.resume)
            preflight(settings.train.device, args.resume, "--resume")
        else:
            settings = settings_from(LabSettings, args)
            preflight(settings.train.device, settings.output_dir)
        check_backends(settings)
    except SystemExit as exc:
        return exit_code(exc)
    except (UsageError, ValidationError) as exc:
        return fail(one_line_error(exc, flags), sys.stdout)
    from trainlab import lab
    from trainlab.reporting.trackers import TrackerUnavailableError
    from trainlab.runstore import RunFolder, RunFolderError
    from trainlab.training.data import DataUnavailableError

    resuming, run_dir = args.resume is not None, args.resume
    try:
        run_dir = run_dir or lab.start_run(settings)
        folder = RunFolder(run_dir)
        with folder.lock():
            return run_lab(settings, folder, resuming)
    except (RunFolderError, DataUnavailableError, TrackerUnavailableError) as exc:
        return fail(one_line_error(exc), sys.stdout)
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        then = f"python main.py --resume {run_dir}" if run_dir else "run it again"
        where = exc.filename or run_dir or settings.output_dir
        return fail(f"cannot write {where}: {exc.strerror}; free space or fix permissions, "
                    f"then {then}", sys.stdout)  # fmt: skip
