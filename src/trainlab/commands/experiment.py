"""`python main.py experiment ...`: a component against its baseline over several seeds.

    python main.py experiment --optimizer lookahead --loss focal --seeds 5 --dataset digits
    python main.py experiment --model moe            # vs a plain MLP of equal parameter count
    python main.py experiment --all                  # every component, and summary.md

Results, plots and the trials land in <output-dir>/<timestamp>/experiments/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from trainlab.commands.options import (
    OneLineParser,
    add_settings_flags,
    fail,
    one_line_error,
    settings_from,
)
from trainlab.experiments.config import PLAIN, ExperimentConfig

DEFAULTS = {name: field.default for name, field in ExperimentConfig.model_fields.items()}


def build_parser() -> tuple[OneLineParser, dict[str, str]]:
    """The experiment parser (every ExperimentConfig field, plus --all) and field → flag."""
    parser = OneLineParser(
        prog="main.py experiment",
        description="Measure a component against its baseline over paired seeds "
        "(see `main.py components` for the names).",
    )
    parser.add_argument(
        "--all", action="store_true", help="every component against its baseline, in turn"
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path("runs"),
        help="results land in <output-dir>/<timestamp>/experiments/ (default: runs)",
    )  # fmt: skip
    return parser, add_settings_flags(parser, ExperimentConfig, "experiment")


def configs_from(args: argparse.Namespace) -> list[ExperimentConfig]:
    """One config, or with --all one per non-baseline component (the rest at baseline)."""
    if not args.all:
        return [settings_from(ExperimentConfig, args)]
    chosen = (args.optimizer, args.loss, args.model)
    if chosen != (DEFAULTS["optimizer"], DEFAULTS["loss"], DEFAULTS["model"]):
        raise ValueError("--all runs every component: leave out --optimizer, --loss and --model")
    from trainlab.components import registry

    field = {"optimizer": "optimizer", "loss": "loss", "architecture": "model"}
    return [
        settings_from(ExperimentConfig, args, **{field[c.kind]: c.name})
        for c in registry.REGISTRY.values()
        if c.baseline is not None and c.name != PLAIN
    ]


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    args = parser.parse_args(argv)
    try:
        configs = configs_from(args)
        from trainlab.training.device import resolve_device

        resolve_device(configs[0].device)
    except (ValueError, ValidationError) as exc:
        return fail(one_line_error(exc, flags))
    from rich.console import Console

    from trainlab.experiments.report import comparison_table, suite_markdown
    from trainlab.experiments.results import ExperimentResult
    from trainlab.experiments.runner import ExperimentRunner
    from trainlab.runstore import new_run_dir, write_json
    from trainlab.training.data import DataUnavailableError

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
        return fail(one_line_error(exc, flags))
    if len(results) > 1:
        (out / "summary.md").write_text(suite_markdown(results))
        write_json(out / "summary.json", [r.model_dump(mode="json") for r in results])
    console.print(f"results and plots in {out}")
    return 0
