"""`python main.py experiment ...`: a component against its baseline over several seeds.

    python main.py experiment --optimizer lookahead --loss focal --seeds 5 --dataset digits
    python main.py experiment --model moe            # vs a plain MLP of equal parameter count
    python main.py experiment --all                  # every component, and summary.md

Results, plots and the trials land in <output-dir>/<timestamp>/experiments/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from trainlab.cli_options import add_data_options, one_line_error
from trainlab.components import registry
from trainlab.components.cli import OneLineParser
from trainlab.experiments.config import PLAIN, ExperimentConfig
from trainlab.experiments.report import comparison_table, suite_markdown
from trainlab.experiments.runner import ExperimentResult, ExperimentRunner
from trainlab.runstore import new_run_dir, write_json
from trainlab.training.data import DataUnavailableError
from trainlab.training.trainer import resolve_device

# ExperimentConfig field -> the flag that sets it, so errors name what the user typed
FLAGS = {
    "model": "--model",
    "optimizer": "--optimizer",
    "loss": "--loss",
    "base_optimizer": "--base-optimizer",
    "seeds": "--seeds",
    "first_seed": "--first-seed",
    "epochs": "--epochs",
    "width": "--width",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "weight_decay": "--weight-decay",
    "val_split": "--val-split",
    "alpha": "--alpha",
}
DEFAULTS = {name: field.default for name, field in ExperimentConfig.model_fields.items()}


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="main.py experiment",
        description="Measure a component against its baseline over paired seeds "
        "(see `main.py components` for the names).",
    )
    what = parser.add_argument_group("what to compare (components by registry name)")
    what.add_argument("--optimizer", default=DEFAULTS["optimizer"], help="(%(default)s)")
    what.add_argument("--loss", default=DEFAULTS["loss"], help="(%(default)s)")
    what.add_argument(
        "--model",
        default=DEFAULTS["model"],
        help="an architecture is measured against a plain MLP of equal size (%(default)s)",
    )
    what.add_argument(
        "--base-optimizer",
        default=DEFAULTS["base_optimizer"],
        help="the baseline optimizer, and the one wrappers wrap (%(default)s)",
    )
    what.add_argument(
        "--all", action="store_true", help="every component against its baseline, in turn"
    )
    how = parser.add_argument_group("budget")
    how.add_argument(
        "--seeds", type=int, default=DEFAULTS["seeds"], help="paired seeds, ≥ 2 (%(default)s)"
    )
    how.add_argument("--first-seed", type=int, default=DEFAULTS["first_seed"], help="(%(default)s)")
    how.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="(%(default)s)")
    how.add_argument(
        "--width",
        type=int,
        default=DEFAULTS["width"],
        help="ResNet-9 width; blocks use 4× (%(default)s)",
    )
    how.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="(%(default)s)")
    how.add_argument(
        "--lr",
        type=float,
        default=None,
        help="one rate for every arm (default: each optimizer's own)",
    )
    how.add_argument(
        "--weight-decay", type=float, default=DEFAULTS["weight_decay"], help="(%(default)s)"
    )
    how.add_argument("--augment", choices=["none", "basic", "strong"], default=DEFAULTS["augment"])
    how.add_argument(
        "--device", default=DEFAULTS["device"], help="auto, cpu, cuda or cuda:N (%(default)s)"
    )
    how.add_argument(
        "--alpha", type=float, default=DEFAULTS["alpha"], help="significance level (%(default)s)"
    )
    how.add_argument("--output-dir", type=Path, default=Path("runs"), help="(%(default)s)")
    add_data_options(parser)
    parser.set_defaults(dataset=DEFAULTS["dataset"], val_split=DEFAULTS["val_split"])
    return parser


def configs_from(args: argparse.Namespace) -> list[ExperimentConfig]:
    """One config, or with --all one per non-baseline component (the rest at baseline)."""
    common = {
        "base_optimizer": args.base_optimizer,
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "val_split": args.val_split,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "width": args.width,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "weight_decay": args.weight_decay,
        "augment": args.augment,
        "device": args.device,
        "alpha": args.alpha,
    }
    if not args.all:
        return [
            ExperimentConfig(optimizer=args.optimizer, loss=args.loss, model=args.model, **common)
        ]
    chosen = (args.optimizer, args.loss, args.model)
    if chosen != (DEFAULTS["optimizer"], DEFAULTS["loss"], DEFAULTS["model"]):
        raise ValueError("--all runs every component: leave out --optimizer, --loss and --model")
    field = {"optimizer": "optimizer", "loss": "loss", "architecture": "model"}
    return [
        ExperimentConfig(**{field[c.kind]: c.name}, **common)
        for c in registry.REGISTRY.values()
        if c.baseline is not None and c.name != PLAIN
    ]


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # the parser already printed its one line
        return int(exc.code or 0)
    try:
        configs = configs_from(args)
        resolve_device(configs[0].device)
    except ValueError as exc:
        print(f"error: {one_line_error(exc, FLAGS)}", file=sys.stderr)
        return 2
    out = new_run_dir(args.output_dir) / "experiments"
    console, errors = Console(), Console(stderr=True)
    runner = ExperimentRunner(out, log=lambda line: errors.print(f"  {line}", highlight=False))
    results: list[ExperimentResult] = []
    try:
        for config in configs:
            errors.print(
                f"[bold]{config.name}[/]: {config.candidate.label} vs {config.baseline.label}"
            )
            result = runner.run(config)
            console.print(comparison_table(result))
            results.append(result)
    except DataUnavailableError as exc:
        print(f"error: {one_line_error(exc, FLAGS)}", file=sys.stderr)
        return 2
    if len(results) > 1:
        (out / "summary.md").write_text(suite_markdown(results))
        write_json(out / "summary.json", [r.model_dump(mode="json") for r in results])
    console.print(f"results and plots in {out}")
    return 0
