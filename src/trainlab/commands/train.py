"""`python main.py train ...`: train one configuration into <output-dir>/<timestamp>/trial_0/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from trainlab import space
from trainlab.commands.options import (
    OneLineParser,
    add_settings_flags,
    fail,
    one_line_error,
    settings_from,
)
from trainlab.config import DataSettings, TrainSettings


def build_parser() -> tuple[OneLineParser, dict[str, str]]:
    """The train parser (the hyperparameters, TrainSettings, DataSettings) and field → flag."""
    parser = OneLineParser(
        prog="main.py train",
        description="Train one hyperparameter configuration (ResNet-9) and write its artifacts.",
    )
    group = parser.add_argument_group("hyperparameters (the search space; nothing is clamped)")
    space.add_flags(group)
    parser.add_argument(
        "--output-dir", type=Path, default=Path("runs"),
        help="the run folder is created here as <timestamp>/ (default: runs)",
    )  # fmt: skip
    flags = add_settings_flags(parser, TrainSettings, "training")
    flags |= add_settings_flags(parser, DataSettings, "data")
    return parser, space.FLAGS | flags


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    args = parser.parse_args(argv)
    try:  # settings first: a bad value answers before torch is imported
        hparams = space.hparams_from_args(args)
        settings: TrainSettings = settings_from(TrainSettings, args)
        data_settings: DataSettings = settings_from(DataSettings, args)
    except (ValueError, ValidationError) as exc:
        return fail(one_line_error(exc, flags))
    from trainlab.runstore import new_run_dir, write_json
    from trainlab.training.data import DataUnavailableError, load_splits
    from trainlab.training.device import resolve_device
    from trainlab.training.trainer import run_trial

    try:
        resolve_device(settings.device)
        data = load_splits(data_settings, settings.seed)
    except (ValueError, DataUnavailableError) as exc:
        return fail(one_line_error(exc, flags))

    run_dir = new_run_dir(args.output_dir)
    trial_dir = run_dir / "trial_0"
    write_json(
        run_dir / "config.json",
        {
            "hparams": hparams.model_dump(),
            "train": settings.model_dump(mode="json"),
            "data": data_settings.model_dump(mode="json"),
        },
    )
    print(f"training {hparams.brief()} on {data.name} for up to {settings.epochs} epochs")
    with _progress(settings.epochs) as update:
        summary = run_trial(hparams, settings, data, trial_dir, on_epoch=update)

    best = f"best val acc {_fmt(summary.best_val_acc)} (epoch {summary.best_epoch})"
    line = f"{summary.status}: {best}, test acc {_fmt(summary.test_acc)}"
    if summary.val_and_test_same_dataset:
        line += " (the test split also served as validation)"
    print(line + (f" - {summary.reason}" if summary.reason else ""))
    if summary.oom_adjusted:
        batch = summary.effective_hparams.train_batch_size
        print(f"out of memory: batch size stepped down to {batch}")
    artifacts = ", ".join(sorted(p.name for p in trial_dir.iterdir()))
    print(f"artifacts in {trial_dir}: {artifacts}")
    return 0 if summary.status == "complete" else 1


@contextmanager
def _progress(epochs: int) -> Iterator[Callable[[dict], None]]:
    """A rich progress bar over epochs; yields the on_epoch callback that advances it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("epoch"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn(
            "loss {task.fields[loss]}  val acc {task.fields[acc]}  {task.fields[ips]} img/s"
        ),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("train", total=epochs, loss="-", acc="-", ips="-")

        def update(row: dict) -> None:
            progress.update(
                task,
                completed=row["epoch"],
                loss=f"{row['train_loss']:.3f}",
                acc=f"{row['val_acc']:.3f}",
                ips=f"{row['images_per_sec']:,.0f}",
            )

        yield update


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
