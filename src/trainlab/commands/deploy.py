"""`python main.py deploy RUN_DIR`: ONNX export with parity, INT8, pruning and distillation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from trainlab.cli_options import one_line_error
from trainlab.components.cli import OneLineParser
from trainlab.deploy.export import ParityError
from trainlab.deploy.settings import STEPS, DeploySettings
from trainlab.deploy.source import DeployInputError, locate
from trainlab.training.data import DataUnavailableError

# DeploySettings field -> the flag that sets it, so errors name what the user typed
FLAGS = {name: "--" + name.replace("_", "-") for name in DeploySettings.model_fields}
FLAGS["run_dir"] = "RUN_DIR"
FIELDS = DeploySettings.model_fields


def _steps(text: str) -> tuple[str, ...]:
    steps = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown step {unknown[0]!r}; choose from {', '.join(STEPS)}"
        )
    return steps


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="main.py deploy",
        description="Export a run's best model to ONNX (parity-checked), quantize it to INT8, "
        "prune and distill it, and measure every artifact side by side in RUN_DIR/deploy/.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help=FIELDS["run_dir"].description)
    parser.add_argument("--trial", type=int, metavar="K", help=FIELDS["trial"].description)
    parser.add_argument(
        "--steps", type=_steps, default=STEPS, help=f"{FIELDS['steps'].description} (all)"
    )
    for name, kind in (
        ("sparsity", float),
        ("channel_sparsity", float),
        ("finetune_epochs", int),
        ("student_width", int),
        ("student_epochs", int),
        ("temperature", float),
        ("alpha", float),
        ("calibration_images", int),
        ("max_drop", float),
        ("repeats", int),
        ("device", str),
    ):
        info = FIELDS[name]
        default = "" if info.default is None else f" ({info.default})"
        parser.add_argument(FLAGS[name], type=kind, help=f"{info.description}{default}")
    return parser


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # the parser already printed its one line
        return int(exc.code or 0)
    given = {k: v for k, v in vars(args).items() if v is not None}
    try:
        settings = DeploySettings(**given)
        source = locate(settings.run_dir, settings.trial)
    except (ValidationError, DeployInputError) as exc:
        print(f"error: {one_line_error(exc, FLAGS)}", file=sys.stderr)
        return 2
    from trainlab.deploy.pipeline import run_deploy  # heavy imports only once input is good

    print(f"deploying {source.trial_dir}: {', '.join(settings.steps)}")
    try:
        written = run_deploy(settings, source, print)
    except DataUnavailableError as exc:  # raised before anything is written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ParityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("written: " + ", ".join(str(p) for p in written))
    return 0
