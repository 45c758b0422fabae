"""`python main.py k1 ...`: the continual-learning experiment; `k1 generate` samples text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

import torch
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trainlab.k1.continual import BASELINE_CHOICES, BASELINES
from trainlab.k1.data import DOMAINS, SOURCES
from trainlab.k1.settings import K1Settings
from trainlab.runstore import (
    CHECKPOINT_DB,
    RunFolderError,
    new_run_dir,
    read_json,
    write_json,
)

SETTINGS_FILE = "settings.json"
console = Console(stderr=True)


class UsageError(Exception):
    """Bad input: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def update_fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def name_list(allowed: tuple[str, ...], allow_empty: bool) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown name {unknown[0]!r}; choose from {', '.join(allowed)}"
            )
        if not names and not allow_empty:
            raise argparse.ArgumentTypeError("needs at least one name")
        if len(set(names)) != len(names):
            raise argparse.ArgumentTypeError(f"repeated name in {text!r}")
        return names

    return parse


def run_parser() -> Parser:
    p = Parser(prog="main.py k1", description="K-1 continual learning over text domains.")
    p.add_argument("--domains", type=name_list(DOMAINS, False), default=",".join(DOMAINS),
                   help="training order, comma-separated (%(default)s)")  # fmt: skip
    p.add_argument("--source", choices=SOURCES, default="embedded",
                   help="embedded: offline text from Python/NumPy/SciPy; hf: WikiText-2, "
                   "CodeParrot, arXiv via HF datasets (%(default)s)")  # fmt: skip
    p.add_argument("--steps-per-domain", type=positive_int, default=200)
    p.add_argument("--chunk-steps", type=positive_int, default=50,
                   help="steps between graph checkpoints (%(default)s)")  # fmt: skip
    p.add_argument("--update-fraction", type=update_fraction, default=0.5,
                   help="share of groups K-1 updates, in (0, 1] (%(default)s)")  # fmt: skip
    p.add_argument("--refresh-every", type=positive_int, default=10,
                   help="steps between group selections (%(default)s)")  # fmt: skip
    p.add_argument("--baselines", type=name_list(BASELINE_CHOICES, True),
                   default=",".join(BASELINES),
                   help=f"comma-separated from {', '.join(BASELINE_CHOICES)}; empty for none "
                   "(%(default)s)")  # fmt: skip
    p.add_argument("--match-params", action="store_true",
                   help="size every method to the routed-agent model's parameter count "
                   "(dense-style models widened, progressive columns narrowed); needs 2+ "
                   "methods")  # fmt: skip
    p.add_argument("--structure", choices=("on", "off"), default="off",
                   help="on: add k1_agents and k1_structure (routed agents; grow / prune / "
                   "merge / reorganize with rollback) to the comparison (%(default)s)")  # fmt: skip
    p.add_argument("--phase2-after", type=int, default=150,
                   help="k1_structure: steps before phase 2 (%(default)s)")  # fmt: skip
    p.add_argument("--positions", choices=("learned", "rope"), default="learned",
                   help="learned embeddings or rotary (RoPE) (%(default)s)")  # fmt: skip
    p.add_argument("--seeds", type=positive_int, default=3)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--d-model", type=positive_int, default=64,
                   help="model width; 4 layers, 4 heads (%(default)s)")  # fmt: skip
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch; 1 suits the small model and shared "
                   "machines; 0 = torch default (%(default)s)")  # fmt: skip
    p.add_argument("--output-dir", type=Path, default=Path("runs"))
    p.add_argument("--resume", type=Path, help="continue an interrupted run folder")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="bf16/fp16 autocast on CUDA (%(default)s)")  # fmt: skip
    return p


def generate_parser() -> Parser:
    p = Parser(prog="main.py k1 generate", description="Sample text from a K-1 checkpoint.")
    p.add_argument("--checkpoint", type=Path, required=True, help="an after_*.pt snapshot")
    p.add_argument("--prompt", default="")
    p.add_argument("--max-new-tokens", type=positive_int, default=200)
    p.add_argument("--temperature", type=float, default=0.8, help="<= 0: greedy (%(default)s)")
    p.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                   help="KV-cache while sampling (%(default)s)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    return p


def explain_parser() -> Parser:
    p = Parser(prog="main.py k1 explain", description="Agents serving each token; their trust.")
    p.add_argument("--checkpoint", type=Path, required=True,
                   help="an after_*.pt snapshot of an agent model (k1_agents, k1_structure, "
                   "moe, k1_replay)")  # fmt: skip
    p.add_argument("--text", required=True)
    p.add_argument("--top", type=positive_int, default=2, help="agents per layer (%(default)s)")
    return p


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


def settings_from(args: argparse.Namespace) -> K1Settings:
    return K1Settings(
        domains=args.domains,
        source=args.source,
        steps_per_domain=args.steps_per_domain,
        chunk_steps=args.chunk_steps,
        update_fraction=args.update_fraction,
        refresh_every=args.refresh_every,
        baselines=args.baselines,
        seeds=args.seeds,
        structure=args.structure == "on",
        match_params=args.match_params,
        phase2_after=args.phase2_after,
        batch_size=args.batch_size,
        d_model=args.d_model,
        positions=args.positions,
        output_dir=args.output_dir,
        device=args.device,
        threads=args.threads,
        amp=args.amp,
    )


def resolve_resume(path: Path) -> Path:
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


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        console=console,
    )


def execute(run_dir: Path, settings: K1Settings, resume: bool) -> dict[str, str]:
    """Run (or resume) the graph with progress bars; returns the report's paths."""
    from graphs.k1 import build_k1_graph, initial_state, run_config
    from trainlab.k1.experiment import plan_jobs
    from trainlab.runstore import open_checkpointer

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

        graph, _ = build_k1_graph(saver, on_event)
        config = run_config(run_dir, settings)
        snapshot = graph.get_state(config)
        for chunk in snapshot.values.get("chunks", []):
            job = jobs.index({"method": chunk["method"], "seed": chunk["seed"]})
            progress.update(tasks[job], advance=chunk["end"] - chunk["start"])
        if snapshot.values.get("report") and not snapshot.next:
            return snapshot.values["report"]
        start = None if snapshot.values else initial_state(settings, run_dir)
        out = graph.invoke(start, config, durability="sync")
    return out["report"]


def run(argv: list[str]) -> int:
    args = run_parser().parse_args(argv)
    if args.resume is not None:
        run_dir = resolve_resume(args.resume)
        settings = K1Settings.model_validate(read_json(run_dir / SETTINGS_FILE))
    else:
        settings = settings_from(args)
        run_dir = new_run_dir(settings.output_dir) / "k1"
        write_json(run_dir / SETTINGS_FILE, settings.model_dump(mode="json"))
    if settings.threads:
        torch.set_num_threads(settings.threads)
    console.print(f"K-1 run folder: {run_dir}")
    report = execute(run_dir, settings, resume=args.resume is not None)
    results = read_json(Path(report["results_json"]))
    console.print(Path(report["results_md"]).read_text())
    goal = results["goal"]
    verdict = goal["note"] if goal["met"] is None else f"goal met: {goal['met']}"
    console.print(f"{verdict}; outputs in {run_dir}")
    return 0


def main(argv: list[str]) -> int:
    try:
        if argv and argv[0] == "generate":
            return generate(argv[1:])
        if argv and argv[0] == "explain":
            return explain(argv[1:])
        return run(argv)
    except (UsageError, ValidationError, RunFolderError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        print(f"k1: error: {message}", file=sys.stderr)
        return 2
