"""ONNX export parity and INT8 quantization on a tiny ResNet-9 trained on synthetic data."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch

from trainlab.config import TrainSettings
from trainlab.deploy.export import (
    Normalized,
    Parity,
    ParityError,
    accuracy,
    export_onnx,
    onnx_logits,
    parity,
    pixels,
    require_parity,
    torch_logits,
)
from trainlab.deploy.quantize import (
    calibration_images,
    preprocess,
    quantize_int8_dynamic,
    quantize_int8_static,
)
from trainlab.space import HParams
from trainlab.training.checkpoint import CHECKPOINT_BEST
from trainlab.training.models import ResNet9
from trainlab.training.trainer import run_trial

INT8_TOLERANCE_POINTS = 3.0  # INT8 may lose at most this much test accuracy on synthetic data
HP = HParams(
    optimizer="adam",
    learning_rate=0.01,
    train_batch_size=64,
    weight_decay=5e-4,
    label_smoothing=0.0,
)


@pytest.fixture(scope="module")
def trained(tiny_splits, tmp_path_factory) -> tuple[Normalized, Path, torch.Tensor]:
    """(model with normalisation, its ONNX file, test pixels) after 2 epochs on synthetic."""
    folder = tmp_path_factory.mktemp("trial")
    settings = TrainSettings(epochs=2, model_width=4, device="cpu", augment="none")
    run_trial(HP, settings, tiny_splits, folder)
    saved = torch.load(folder / CHECKPOINT_BEST, weights_only=True)
    net = ResNet9(tiny_splits.num_classes, tiny_splits.in_channels, width=4)
    net.load_state_dict(saved["model"])
    model = Normalized(net, saved["mean"], saved["std"]).eval()
    x = pixels(tiny_splits.test_x)
    return model, export_onnx(model, folder / "model.onnx", x), x


def test_export_is_a_valid_onnx_file_with_a_dynamic_batch_axis(trained):
    _, path, x = trained
    onnx.checker.check_model(onnx.load(str(path)))
    assert onnx_logits(path, x[:3]).shape[0] == 3
    assert onnx_logits(path, x[:17]).shape[0] == 17


def test_export_gives_pytorch_labels_on_every_image_and_near_identical_logits(trained):
    model, path, x = trained
    check = parity(torch_logits(model, x), onnx_logits(path, x))
    assert check.label_agreement == 1.0
    assert check.max_abs_logit_diff < 1e-4


def test_static_int8_keeps_accuracy_within_tolerance_and_shrinks_the_file(trained, tiny_splits):
    model, path, x = trained
    prepared = preprocess(path, path.with_name("prepared.onnx"))
    calibration = pixels(calibration_images(tiny_splits.train_x, 128, seed=0))
    int8 = quantize_int8_static(prepared, path.with_name("int8.onnx"), calibration)
    float_acc = accuracy(torch_logits(model, x), tiny_splits.test_y)
    int8_acc = accuracy(onnx_logits(int8, x), tiny_splits.test_y)
    assert float_acc > 0.9  # the tolerance below means something only for a model that learned
    assert 100 * (float_acc - int8_acc) <= INT8_TOLERANCE_POINTS
    assert int8.stat().st_size < path.stat().st_size


def test_dynamic_int8_needs_no_calibration_and_keeps_accuracy(trained, tiny_splits):
    model, path, x = trained
    prepared = preprocess(path, path.with_name("prepared_dyn.onnx"))
    int8 = quantize_int8_dynamic(prepared, path.with_name("int8_dyn.onnx"))
    float_acc = accuracy(torch_logits(model, x), tiny_splits.test_y)
    assert (
        100 * (float_acc - accuracy(onnx_logits(int8, x), tiny_splits.test_y))
        <= INT8_TOLERANCE_POINTS
    )


def test_calibration_images_are_a_seeded_subset_of_at_most_count(tiny_splits):
    first = calibration_images(tiny_splits.train_x, 100, seed=3)
    assert len(first) == 100
    assert torch.equal(first, calibration_images(tiny_splits.train_x, 100, seed=3))
    assert len(calibration_images(tiny_splits.train_x, 10_000, seed=3)) == len(tiny_splits.train_x)


def test_a_single_disagreeing_label_fails_the_export_with_the_numbers():
    require_parity(Parity(max_abs_logit_diff=1e-6, label_agreement=1.0), "ok.onnx")
    with pytest.raises(ParityError, match=r"disagree on 0\.50% of labels.*0\.03"):
        require_parity(Parity(max_abs_logit_diff=0.03, label_agreement=0.995), "bad.onnx")
