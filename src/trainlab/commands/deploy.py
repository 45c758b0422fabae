"""`python main.py deploy RUN_DIR`: ONNX export with parity, INT8, pruning and distillation."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from trainlab.commands.options import (
    OneLineParser,
    add_settings_flags,
    fail,
    one_line_error,
    settings_from,
)
from trainlab.deploy.settings import DeploySettings


def build_parser() -> tuple[OneLineParser, dict[str, str]]:
    """The deploy parser (RUN_DIR, then one flag per DeploySettings field) and field → flag."""
    parser = OneLineParser(
        prog="main.py deploy",
        description="Export a run's best model to ONNX (parity-checked), quantize it to INT8, "
        "prune and distill it, and measure every artifact side by side in RUN_DIR/deploy/.",
    )
    run_dir = DeploySettings.model_fields["run_dir"]
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help=run_dir.description)
    flags = add_settings_flags(parser, DeploySettings, "deploy", skip=("run_dir",))
    return parser, flags | {"run_dir": "RUN_DIR"}


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    args = parser.parse_args(argv)
    try:  # settings first: a bad value answers before torch is imported
        settings: DeploySettings = settings_from(DeploySettings, args)
    except ValidationError as exc:
        return fail(one_line_error(exc, flags))
    from trainlab.deploy.export import ParityError
    from trainlab.deploy.pipeline import run_deploy
    from trainlab.deploy.source import DeployInputError, locate
    from trainlab.training.data import DataUnavailableError

    try:
        source = locate(settings.run_dir, settings.trial)
    except DeployInputError as exc:
        return fail(one_line_error(exc))
    print(f"deploying {source.trial_dir}: {', '.join(settings.steps)}")
    try:
        written = run_deploy(settings, source, print)
    except DataUnavailableError as exc:  # raised before anything is written
        return fail(one_line_error(exc))
    except ParityError as exc:
        fail(one_line_error(exc))
        return 1
    print("written: " + ", ".join(str(p) for p in written))
    return 0
