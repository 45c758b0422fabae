"""`python main.py suggest`: a first configuration with the reason for each value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from trainlab.commands.options import (
    OneLineParser,
    add_settings_flags,
    fail,
    one_line_error,
    settings_from,
)
from trainlab.config import DataSettings
from trainlab.tools.settings import SuggestSettings

if TYPE_CHECKING:
    from trainlab.tools.suggest import Suggestion


def build_parser() -> tuple[OneLineParser, dict[str, str]]:
    """The suggest parser (SuggestSettings, DataSettings) and field → flag."""
    parser = OneLineParser(
        prog="main.py suggest",
        description="Analyse the model and the data, run the LR range test and the batch "
        "finder, and print a first configuration with the reason for each value.",
    )
    flags = add_settings_flags(parser, SuggestSettings, "suggest")
    return parser, flags | add_settings_flags(parser, DataSettings, "data")


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    args = parser.parse_args(argv)
    try:  # settings first: a bad value answers before torch is imported
        settings: SuggestSettings = settings_from(SuggestSettings, args)
        data_settings: DataSettings = settings_from(DataSettings, args)
    except ValidationError as exc:
        return fail(one_line_error(exc, flags))
    from trainlab.runstore import new_run_dir, write_json
    from trainlab.tools.lr_range import plot_lr_find
    from trainlab.tools.suggest import suggest
    from trainlab.training.data import DataUnavailableError, load_splits
    from trainlab.training.device import resolve_device

    try:
        device = resolve_device(settings.device)
        data = load_splits(data_settings, settings.seed)
    except (ValueError, DataUnavailableError) as exc:
        return fail(one_line_error(exc, flags))
    result = suggest(
        data,
        width=settings.width,
        epochs=settings.epochs,
        device=device,
        seed=settings.seed,
        max_memory_mb=settings.max_memory_mb,
        lr_steps=settings.lr_steps,
    )
    out = new_run_dir(settings.output_dir, "-suggest")
    plot_lr_find(result.lr_range, out / "lr_find.png")
    write_json(out / "suggestion.json", result.to_json())
    print(report(result, data.name, settings.width, settings.epochs))
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
