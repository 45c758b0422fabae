"""INT8 with onnxruntime's quantization tools: static (calibrated, QDQ) and dynamic."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from trainlab.deploy.export import INPUT

CALIBRATION_BATCH = 32


class _Batches(CalibrationDataReader):
    """Feeds calibration images to the quantizer, one batch per call."""

    def __init__(self, x: torch.Tensor) -> None:
        self._batches = iter(x.split(CALIBRATION_BATCH))

    def get_next(self) -> dict | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT: batch.numpy()}


def calibration_images(train_x: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """A seeded random subset of at most `count` training images."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(train_x), generator=gen)
    return train_x[order[:count]]


def preprocess(model_path: Path, out_path: Path) -> Path:
    """onnxruntime's recommended pre-pass (graph optimisation, Conv+BN fusion, shapes)."""
    with _quiet():
        # symbolic shape inference cannot follow torch.onnx's dynamic Reshape; onnx's can
        quant_pre_process(str(model_path), str(out_path), skip_symbolic_shape=True)
    return out_path


def quantize_int8_static(model_path: Path, out_path: Path, calibration: torch.Tensor) -> Path:
    """Per-channel INT8 weights and activations (QDQ), ranges calibrated on `calibration`."""
    with _quiet():
        quantize_static(
            str(model_path),
            str(out_path),
            _Batches(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
        )
    return out_path


def quantize_int8_dynamic(model_path: Path, out_path: Path) -> Path:
    """INT8 weights, activation ranges computed at run time: no calibration data needed."""
    with _quiet():
        quantize_dynamic(str(model_path), str(out_path), weight_type=QuantType.QInt8)
    return out_path


@contextlib.contextmanager
def _quiet():
    """The quantizer logs a warning per tensor at INFO/WARNING; keep errors only."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
