"""ONNX export (torch.onnx + onnxscript, dynamic batch) and its parity check against PyTorch.

Every exported file takes float32 pixels in [0, 1], [N, C, H, W], and returns logits: the
per-channel normalisation the trainer applies is part of the graph (`Normalized`).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

INPUT, OUTPUT = "images", "logits"
EVAL_BATCH = 256


class ParityError(RuntimeError):
    """The ONNX file does not give PyTorch's answers."""


class Normalized(nn.Module):
    """`net((x - mean) / std)`: the trainer's input normalisation in front of a network."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


@dataclass(frozen=True)
class Parity:
    max_abs_logit_diff: float
    label_agreement: float  # fraction of images where both predict the same class


def pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, C, H, W] -> float32 in [0, 1]: what the exported model takes."""
    return images.float().div(255)


def export_onnx(model: nn.Module, path: Path, example: torch.Tensor) -> Path:
    """Export with a dynamic batch axis, check with onnx.checker; one self-contained file."""
    model = model.cpu().eval()
    batch = torch.export.Dim("batch", min=1)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates its passes
        program = torch.onnx.export(
            model,
            (example[:2].cpu(),),
            dynamo=True,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_shapes=({0: batch},),
            verbose=False,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=False)
    onnx.checker.check_model(onnx.load(str(path)))
    return path


def session(path: Path) -> ort.InferenceSession:
    """A single-threaded CPU session (latency figures and tests use the same)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_logits(path: Path, x: torch.Tensor) -> torch.Tensor:
    """Logits of the ONNX file for float inputs `x`, in batches."""
    sess = session(path)
    chunks = [
        sess.run([OUTPUT], {INPUT: x[i : i + EVAL_BATCH].numpy()})[0]
        for i in range(0, len(x), EVAL_BATCH)
    ]
    return torch.from_numpy(np.concatenate(chunks))


@torch.no_grad()
def torch_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model = model.cpu().eval()
    return torch.cat([model(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


def parity(reference: torch.Tensor, candidate: torch.Tensor) -> Parity:
    return Parity(
        max_abs_logit_diff=(reference - candidate).abs().max().item(),
        label_agreement=(reference.argmax(1) == candidate.argmax(1)).float().mean().item(),
    )


def require_parity(check: Parity, what: str) -> None:
    """float32 export must agree on every label, or the step fails with the numbers."""
    if check.label_agreement < 1.0:
        raise ParityError(
            f"{what}: ONNX and PyTorch disagree on {1 - check.label_agreement:.2%} of labels "
            f"(max abs logit diff {check.max_abs_logit_diff:.3g})"
        )
