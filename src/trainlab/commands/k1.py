"""`python main.py k1 ...`: the continual-learning experiment; `k1 generate` samples text;
`k1 explain` shows the agents serving each token."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trainlab.commands.options import (
    OneLineParser,
    UsageError,
    add_settings_flags,
    fail,
    one_line_error,
    positive_int,
    preflight,
    settings_from,
)
from trainlab.k1.settings import K1Settings

SETTINGS_FILE = "settings.json"


def run_parser() -> tuple[OneLineParser, dict[str, str]]:
    """The K-1 parser (every K1Settings field, plus --resume) and field → flag."""
    parser = OneLineParser(
        prog="main.py k1", description="K-1 continual learning over text domains."
    )
    parser.add_argument("--resume", type=Path, help="continue an interrupted run folder")
    return parser, add_settings_flags(parser, K1Settings, "k1")


def generate_parser() -> OneLineParser:
    p = OneLineParser(prog="main.py k1 generate", description="Sample text from a K-1 checkpoint.")
    p.add_argument("--checkpoint", type=Path, required=True, help="an after_*.pt snapshot")
    p.add_argument("--prompt", default="")
    p.add_argument("--max-new-tokens", type=positive_int, default=200)
    p.add_argument("--temperature", type=float, default=0.8, help="<= 0: greedy (%(default)s)")
    p.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                   help="KV-cache while sampling (%(default)s)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    return p


def explain_parser() -> OneLineParser:
    p = OneLineParser(
        prog="main.py k1 explain", description="Agents serving each token; their trust."
    )
    p.add_argument("--checkpoint", type=Path, required=True,
                   help="an after_*.pt snapshot of an agent model (k1_agents, k1_structure, "
                   "moe, k1_replay)")  # fmt: skip
    p.add_argument("--text", required=True)
    p.add_argument("--top", type=positive_int, default=2, help="agents per layer (%(default)s)")
    return p


def resolve_resume(path: Path) -> Path:
    from trainlab.runstore import CHECKPOINT_DB

    for candidate in (path / "k1", path):
        if (candidate / SETTINGS_FILE).is_file() and (candidate / CHECKPOINT_DB).is_file():
            return candidate
    raise UsageError(f"--resume {path}: not a resumable K-1 run folder")


def generate(argv: list[str]) -> int:
    from trainlab.k1.experiment import generate_text

    args = generate_parser().parse_args(argv)
    if not args.checkpoint.is_file():
        raise UsageError(f"--checkpoint {args.checkpoint}: no such file")
    text = generate_text(
        args.checkpoint, args.prompt, args.max_new_tokens, args.temperature, args.seed,
        args.device, args.cache,
    )  # fmt: skip
    print(text)
    return 0


def explain(argv: list[str]) -> int:
    from trainlab.k1.explain import NotAnAgentModel, explain_tokens, render

    args = explain_parser().parse_args(argv)
    if not args.checkpoint.is_file():
        raise UsageError(f"--checkpoint {args.checkpoint}: no such file")
    try:
        print(render(explain_tokens(args.checkpoint, args.text, args.top)))
    except NotAnAgentModel as exc:
        raise UsageError(str(exc)) from None
    return 0


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def execute(run_dir: Path, settings: K1Settings, resume: bool) -> dict[str, str]:
    """Run (or resume) the graph with progress bars; returns the report's paths."""
    from trainlab.graphs.k1 import build_k1_graph, initial_state, new_thread_id, run_config
    from trainlab.k1.experiment import plan_jobs
    from trainlab.runstore import RunFolder, open_checkpointer

    jobs = plan_jobs(settings)
    total = len(settings.domains) * settings.steps_per_domain
    with open_checkpointer(run_dir, must_exist=resume) as saver, _progress() as progress:
        tasks = [
            progress.add_task(f"{j['method']:>6} seed {j['seed']}", total=total, loss=0.0)
            for j in jobs
        ]

        def on_event(kind: str, payload: dict[str, Any]) -> None:
            if kind == "step":
                progress.update(tasks[payload["job"]], advance=1, loss=payload["loss"])

        folder = RunFolder(run_dir)
        if not folder.record.is_file():  # record the thread (a run from before: its own)
            folder.begin(folder.thread_id(saver) if resume else new_thread_id(run_dir))
        graph, _ = build_k1_graph(saver, on_event)
        config = run_config(run_dir, settings)
        snapshot = graph.get_state(config)
        for chunk in snapshot.values.get("chunks", []):
            job = jobs.index({"method": chunk["method"], "seed": chunk["seed"]})
            progress.update(tasks[job], advance=chunk["end"] - chunk["start"])
        if snapshot.values.get("report") and not snapshot.next:  # the folder may have moved
            return _rebased(snapshot.values["report"], Path(snapshot.values["run_dir"]), run_dir)
        start = None if snapshot.values else initial_state(settings, run_dir)
        out = graph.invoke(start, config, durability="sync")
    return out["report"]


def _rebased(paths: dict[str, str], old: Path, new: Path) -> dict[str, str]:
    """The report's paths under the run folder where it is now."""
    return {name: str(new / Path(path).relative_to(old)) for name, path in paths.items()}


def run(argv: list[str]) -> int:
    parser, flags = run_parser()
    args = parser.parse_args(argv)
    from trainlab.runstore import new_run_dir, read_json, write_json

    try:
        if args.resume is not None:
            run_dir = resolve_resume(args.resume)
            settings = K1Settings.model_validate(read_json(run_dir / SETTINGS_FILE))
            preflight(settings.device, run_dir, "--resume")
        else:
            settings = settings_from(K1Settings, args)
            preflight(settings.device, settings.output_dir)
            run_dir = new_run_dir(settings.output_dir) / "k1"
            write_json(run_dir / SETTINGS_FILE, settings.model_dump(mode="json"))
    except ValidationError as exc:
        return fail(one_line_error(exc, flags))
    import torch
    from rich.console import Console

    if settings.threads:
        torch.set_num_threads(settings.threads)
    console = Console(stderr=True)
    console.print(f"K-1 run folder: {run_dir}")
    report = execute(run_dir, settings, resume=args.resume is not None)
    results = read_json(Path(report["results_json"]))
    console.print(Path(report["results_md"]).read_text())
    goal = results["goal"]
    verdict = goal["note"] if goal["met"] is None else f"goal met: {goal['met']}"
    console.print(f"{verdict}; outputs in {run_dir}")
    return 0


def main(argv: list[str]) -> int:
    from trainlab.runstore import RunFolderError

    try:
        if argv and argv[0] == "generate":
            return generate(argv[1:])
        if argv and argv[0] == "explain":
            return explain(argv[1:])
        return run(argv)
    except (UsageError, RunFolderError) as exc:
        return fail(one_line_error(exc))
