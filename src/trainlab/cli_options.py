"""Command-line options shared by every job that trains (the lab, `train`, experiments)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from trainlab.config import DataSettings, TrainSettings, default_data_dir


def one_line_error(exc: Exception, flags: Mapping[str, str]) -> str:
    """One line for the user: for validation errors, each bad field named by its flag."""
    if not isinstance(exc, ValidationError):
        return " ".join(str(exc).split())
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{flags.get(field, field)}: {message}" if field else message)
    return "; ".join(parts)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        choices=["cifar10", "digits", "synthetic"],
        default="cifar10",
        help="cifar10 (downloaded once), digits (scikit-learn, offline) or synthetic (tests)",
    )
    group.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="dataset cache, shared by all runs (default: %(default)s)",
    )
    group.add_argument(
        "--val-split",
        type=fraction,
        default=0.0,
        help="hold this fraction of train out for validation; 0 validates on the test split "
        "(recorded as val_and_test_same_dataset) (default: %(default)s)",
    )


def add_train_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument(
        "--epochs", type=positive_int, default=20, help="epochs per trial (%(default)s)"
    )
    group.add_argument(
        "--patience", type=positive_int, default=8, help="early-stopping patience (%(default)s)"
    )
    group.add_argument("--seed", type=int, default=1337, help="seed for everything (%(default)s)")
    group.add_argument(
        "--scheduler",
        choices=["none", "cosine", "onecycle"],
        default="cosine",
        help="learning-rate schedule; cosine has a short linear warmup; onecycle peaks at --lr "
        "(OneCycleLR) (%(default)s)",
    )
    group.add_argument(
        "--augment",
        choices=["none", "basic", "strong"],
        default="basic",
        help="basic: random crop + flip; strong: also mild colour jitter (%(default)s)",
    )
    group.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mixed precision on CUDA (bf16 where supported, else fp16) (%(default)s)",
    )
    group.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (%(default)s)")
    group.add_argument(
        "--num-workers",
        type=int,
        default=4,
        help="DataLoader workers where one is still used (data is in memory) (%(default)s)",
    )
    group.add_argument(
        "--save-checkpoints",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep checkpoint_best.pt per trial (%(default)s)",
    )
    group.add_argument(
        "--width", type=positive_int, default=64, help="ResNet-9 base width (%(default)s)"
    )
    group.add_argument(
        "--output-dir",
        type=Path,
        default=Path("runs"),
        help="run folders are created here as <timestamp>/ (%(default)s)",
    )


def train_settings_from(args: argparse.Namespace) -> TrainSettings:
    return TrainSettings(
        epochs=args.epochs,
        patience=args.patience,
        scheduler=args.scheduler,
        augment=args.augment,
        amp=args.amp,
        device=args.device,
        seed=args.seed,
        save_checkpoints=args.save_checkpoints,
        num_workers=args.num_workers,
        model_width=args.width,
    )


def data_settings_from(args: argparse.Namespace) -> DataSettings:
    return DataSettings(dataset=args.dataset, data_dir=args.data_dir, val_split=args.val_split)
