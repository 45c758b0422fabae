"""`python main.py suggest`: a first configuration with the reason for each value."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainlab.cli_options import (
    add_data_options,
    data_settings_from,
    one_line_error,
    positive_int,
)
from trainlab.runstore import new_run_dir, write_json
from trainlab.tools.lr_range import plot_lr_find
from trainlab.tools.suggest import Suggestion, suggest
from trainlab.training.data import DataUnavailableError, load_splits
from trainlab.training.trainer import resolve_device

FLAGS = {"max_memory_mb": "--max-memory-mb"}


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py suggest",
        description="Analyse the model and the data, run the LR range test and the batch "
        "finder, and print a first configuration with the reason for each value.",
    )
    group = parser.add_argument_group("suggest")
    group.add_argument(
        "--width", type=positive_int, default=16, help="ResNet-9 base width to train (16)"
    )
    group.add_argument(
        "--epochs", type=positive_int, default=20, help="epochs you plan to train (20)"
    )
    group.add_argument(
        "--max-memory-mb",
        type=positive_float,
        help="memory budget for the batch finder (default: the device's free memory × 0.8)",
    )
    group.add_argument(
        "--lr-steps", type=positive_int, default=200, help="LR range test steps (200)"
    )
    group.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (auto)")
    group.add_argument("--seed", type=int, default=1337, help="seed (1337)")
    group.add_argument(
        "--output-dir",
        type=Path,
        default=Path("runs"),
        help="lr_find.png and suggestion.json go to <output-dir>/<timestamp>-suggest/ (runs)",
    )
    add_data_options(parser)
    return parser


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage and the error
        return int(exc.code or 0)
    try:
        device = resolve_device(args.device)
        data = load_splits(data_settings_from(args), args.seed)
    except (ValueError, DataUnavailableError) as exc:
        print(f"error: {one_line_error(exc, FLAGS)}", file=sys.stderr)
        return 2
    result = suggest(
        data,
        width=args.width,
        epochs=args.epochs,
        device=device,
        seed=args.seed,
        max_memory_mb=args.max_memory_mb,
        lr_steps=args.lr_steps,
    )
    out = new_run_dir(args.output_dir, "-suggest")
    plot_lr_find(result.lr_range, out / "lr_find.png")
    write_json(out / "suggestion.json", result.to_json())
    print(report(result, data.name, args.width, args.epochs))
    print(f"artifacts in {out}: lr_find.png, suggestion.json")
    return 0


def report(result: Suggestion, dataset: str, width: int, epochs: int) -> str:
    """The configuration, one line per value with its reason, and the command that trains it."""
    model, data, hp = result.model, result.data, result.hparams
    lines = [
        f"model: ResNet-9 width {width}, {model.parameters:,} parameters, "
        f"{model.flops_per_image / 1e6:.1f} MFLOPs per image (forward)",
        f"data: {dataset}, {data.train_images} training images {data.image_shape}, "
        f"{data.classes} classes, largest/smallest class {data.imbalance:.2f}",
        f"suggested in {result.seconds:.1f} s:",
    ]
    for name, value in [*hp.model_dump().items(), ("scheduler", result.scheduler)]:
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        lines.append(f"  {name:<17} {shown:<8} {result.reasons[name]}")
    lines.append(
        f"train it: python main.py train --dataset {dataset} --width {width} --epochs {epochs} "
        f"--optimizer {hp.optimizer} --lr {hp.learning_rate:.3g} --batch-size "
        f"{hp.train_batch_size} --weight-decay {hp.weight_decay:g} --label-smoothing "
        f"{hp.label_smoothing:g} --scheduler {result.scheduler}"
    )
    return "\n".join(lines)
