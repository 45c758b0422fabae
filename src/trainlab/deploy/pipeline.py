"""`deploy` end to end: each step writes its ONNX file(s) and measured rows, then the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from trainlab.deploy import bench, distill, prune, quantize
from trainlab.deploy.export import (
    Normalized,
    accuracy,
    export_onnx,
    onnx_logits,
    parity,
    pixels,
    require_parity,
    torch_logits,
)
from trainlab.deploy.report import ArtifactRow, write_outputs
from trainlab.deploy.retrain import finetune_hparams, retrain, retrain_settings
from trainlab.deploy.settings import DeploySettings
from trainlab.deploy.source import Source
from trainlab.training.data import ImageSplits
from trainlab.training.device import resolve_device
from trainlab.training.models import ResNet9

OUT_DIR = "deploy"


@dataclass
class _Job:
    settings: DeploySettings
    source: Source
    data: ImageSplits
    out: Path
    test_x: torch.Tensor  # float pixels in [0, 1]
    reference_acc: float  # the teacher's float32 test accuracy in PyTorch
    say: Callable[[str], None]
    rows: list[ArtifactRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def wrap(self, net: nn.Module) -> Normalized:
        return Normalized(net, self.source.checkpoint["mean"], self.source.checkpoint["std"])

    def width(self) -> int:
        return self.source.checkpoint["model_width"]


def run_deploy(settings: DeploySettings, source: Source, say: Callable[[str], None]) -> list[Path]:
    """Run the chosen steps on the source trial; returns the report files written."""
    data = source.data()
    test_x = pixels(data.test_x)
    teacher = Normalized(source.teacher(), source.checkpoint["mean"], source.checkpoint["std"])
    reference_acc = accuracy(torch_logits(teacher, test_x), data.test_y)
    out = settings.run_dir / OUT_DIR
    job = _Job(settings, source, data, out, test_x, reference_acc, say)
    for step in settings.steps:
        say(f"{step} ...")
        STEPS[step](job)
    header = {
        "machine": bench.machine(),
        "load_average_1min": bench.load_average(),
        "source": f"{source.trial_dir} (checkpoint_best.pt)",
        "dataset": f"{data.name}, test split of {len(data.test_y)} images",
        "reference_test_acc": round(reference_acc, 4),  # float32 teacher in PyTorch
        "rejected_when": f"test accuracy drops more than {settings.max_drop} points",
        "latency": f"median of {settings.repeats} repeats after {bench.WARMUP} warm-up runs",
        "settings": settings.model_dump(mode="json"),
    }
    return write_outputs(out, job.rows, header, job.notes)


def _add_row(
    job: _Job, name: str, path: Path, model: nn.Module | None, params: int, nonzero: int, note: str
) -> ArtifactRow:
    """Score the ONNX file on the test split, time it (and its PyTorch model), record a row."""
    settings = job.settings
    acc = accuracy(onnx_logits(path, job.test_x), job.data.test_y)
    ort_speed = bench.onnx_latency(path, job.test_x, settings.repeats)
    torch_speed = bench.torch_latency(model, job.test_x, settings.repeats) if model else None
    drop = 100 * (job.reference_acc - acc)
    row = ArtifactRow(
        name=name,
        file=path.name,
        test_acc=acc,
        drop_points=drop,
        size_kb=path.stat().st_size / 1024,
        params=params,
        nonzero_params=nonzero,
        ort_ms_b1=ort_speed.ms_per_image_b1,
        ort_ips_b64=ort_speed.images_per_s_b64,
        torch_ms_b1=torch_speed.ms_per_image_b1 if torch_speed else None,
        torch_ips_b64=torch_speed.images_per_s_b64 if torch_speed else None,
        rejected=drop > settings.max_drop,
        note=note,
    )
    job.rows.append(row)
    job.say(f"  {name}: test acc {acc:.4f}, {row.size_kb:.1f} KB")
    return row


def _export_checked(job: _Job, model: nn.Module, filename: str) -> tuple[Path, str]:
    """Export `model`, require label parity with PyTorch on the test split; (path, note)."""
    path = export_onnx(model, job.out / filename, job.test_x)
    check = parity(torch_logits(model, job.test_x), onnx_logits(path, job.test_x))
    require_parity(check, filename)
    note = (
        f"parity: labels agree {check.label_agreement:.0%}, "
        f"max abs logit diff {check.max_abs_logit_diff:.2g}"
    )
    return path, note


def _add_float_model(job: _Job, name: str, net: nn.Module, filename: str, note: str) -> None:
    model = job.wrap(net)
    path, parity_note = _export_checked(job, model, filename)
    params, nonzero = prune.parameter_count(net), prune.parameter_count(net, nonzero=True)
    _add_row(job, name, path, model, params, nonzero, "; ".join(filter(None, [note, parity_note])))


def export_step(job: _Job) -> None:
    _add_float_model(job, "float32", job.source.teacher(), "model.onnx", "")


def quantize_step(job: _Job) -> None:
    settings, teacher = job.settings, job.source.teacher()
    params = prune.parameter_count(teacher)
    prepared = quantize.preprocess(job.out / "model.onnx", job.out / "model_prepared.onnx")
    calibration = pixels(
        quantize.calibration_images(job.data.train_x, settings.calibration_images, 0)
    )
    try:
        static = quantize.quantize_int8_static(
            prepared, job.out / "model_int8_static.onnx", calibration
        )
        note = f"static QDQ, per-channel, calibrated on {len(calibration)} train images"
        _add_row(job, "int8-static", static, None, params, params, note)
    except Exception as exc:  # recorded; dynamic quantization below is the fallback
        job.notes.append(f"static INT8 quantization failed, dynamic only: {exc}")
    dynamic = quantize.quantize_int8_dynamic(prepared, job.out / "model_int8_dynamic.onnx")
    _add_row(job, "int8-dynamic", dynamic, None, params, params, "dynamic: activations at run time")
    prepared.unlink()


def prune_step(job: _Job) -> None:
    settings, teacher = job.settings, job.source.teacher()
    retrain_with = retrain_settings(
        job.source.train, settings.finetune_epochs, settings.device, job.width()
    )
    hparams = finetune_hparams(job.source.hparams)
    masked = prune.magnitude_masks(teacher, settings.sparsity)
    before = accuracy(torch_logits(job.wrap(masked), job.test_x), job.data.test_y)
    tuned = retrain(masked, hparams, retrain_with, job.data, job.out / "finetune_magnitude")
    tuned = prune.make_permanent(tuned)
    note = (
        f"global L1, weight sparsity {prune.weight_sparsity(tuned):.1%}; acc before fine-tune "
        f"{before:.4f}, {settings.finetune_epochs} epochs at lr {hparams.learning_rate:.3g}"
    )
    _add_float_model(
        job, f"pruned-magnitude-{settings.sparsity:g}", tuned, "model_pruned_magnitude.onnx", note
    )
    narrow = prune.prune_channels(teacher, settings.channel_sparsity)
    before = accuracy(torch_logits(job.wrap(narrow), job.test_x), job.data.test_y)
    tuned = retrain(narrow, hparams, retrain_with, job.data, job.out / "finetune_channels")
    note = (
        f"conv channels {prune.conv_channels(teacher)} → {prune.conv_channels(tuned)}; "
        f"acc before fine-tune {before:.4f}"
    )
    _add_float_model(
        job,
        f"pruned-channels-{settings.channel_sparsity:g}",
        tuned,
        "model_pruned_channels.onnx",
        note,
    )


def distill_step(job: _Job) -> None:
    settings, source, data = job.settings, job.source, job.data
    width = settings.student_width or max(4, job.width() // 2)
    epochs = settings.student_epochs or source.train.epochs
    torch.manual_seed(source.train.seed)  # both students start from the same weights
    student = ResNet9(data.num_classes, data.in_channels, width=width)
    trainer_settings = retrain_settings(source.train, epochs, settings.device, width)
    loss = distill.teacher_loss(
        source.teacher(), resolve_device(settings.device), settings.temperature, settings.alpha
    )
    runs = {"distilled": loss, "plain": None}
    accs = {}
    for kind, train_loss in runs.items():
        trained = retrain(
            student, source.hparams, trainer_settings, data, job.out / f"student_{kind}", train_loss
        )
        detail = f"T={settings.temperature:g}, α={settings.alpha:g}" if train_loss else "no teacher"
        note = f"ResNet-9 width {width}, {epochs} epochs, {detail}"
        _add_float_model(
            job, f"student-{kind}-w{width}", trained, f"model_student_{kind}.onnx", note
        )
        accs[kind] = job.rows[-1].test_acc
    gain = 100 * (accs["distilled"] - accs["plain"])
    job.notes.append(
        f"distillation: student width {width} with the teacher {accs['distilled']:.4f}, "
        f"without {accs['plain']:.4f} ({gain:+.2f} points, same seed, init and {epochs} epochs)"
    )


STEPS: dict[str, Callable[[_Job], None]] = {
    "export": export_step,
    "quantize": quantize_step,
    "prune": prune_step,
    "distill": distill_step,
}
