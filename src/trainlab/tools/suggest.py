"""HyperparameterSuggester: a first configuration from the model, the data and two probes.

    model   parameters, FLOPs per image (torch.utils.flop_counter.FlopCounterMode)
    data    size, classes, balance
    batch   the largest batch of the space that fits memory (batch_finder) and still gives
            MIN_STEPS_PER_EPOCH steps per epoch
    lr      LR range test (lr_range) at that batch: the minimum's lr / 10, clamped to the space
    rest    optimizer, weight decay, label smoothing and schedule by stated rules

Every value carries its reason; the result is an `HParams`, so it is inside the space.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from trainlab import space
from trainlab.space import HParams
from trainlab.tools.batch_finder import BatchChoice, Probe, largest_fitting_batch, model_probe
from trainlab.tools.inputs import batch_sampler
from trainlab.tools.lr_range import LRRange, lr_range_test
from trainlab.tools.schedule import ScheduleChoice, choose_schedule
from trainlab.training.data import ImageSplits
from trainlab.training.models import ResNet9
from trainlab.training.optim import default_optimizer

MIN_STEPS_PER_EPOCH = 20  # fewer updates per epoch than this wastes short budgets
SGD_MIN_IMAGES, SGD_MIN_EPOCHS = 10_000, 30  # below either: AdamW's faster start wins
WEIGHT_DECAY = {"sgd": 5e-4, "adam": 1e-2}  # He et al. 2016; PyTorch's AdamW default
LABEL_SMOOTHING_MIN_CLASSES = 10


@dataclass(frozen=True)
class ModelProfile:
    parameters: int
    flops_per_image: int  # forward pass, as FlopCounterMode counts (2 per multiply-add)


@dataclass(frozen=True)
class DataProfile:
    train_images: int
    classes: int
    image_shape: tuple[int, ...]
    class_counts: list[int]

    @property
    def imbalance(self) -> float:
        """Largest class / smallest class in the training split."""
        return max(self.class_counts) / max(1, min(self.class_counts))


@dataclass(frozen=True)
class Suggestion:
    hparams: HParams
    scheduler: str
    reasons: dict[str, str]  # per HParams field and "scheduler"
    model: ModelProfile
    data: DataProfile
    batch: BatchChoice
    lr_range: LRRange
    seconds: float

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["hparams"] = self.hparams.model_dump()
        record["lr_range"] = {
            k: v for k, v in record["lr_range"].items() if k not in ("lrs", "losses")
        }
        return record


def profile_model(model: torch.nn.Module, image_shape: tuple[int, ...]) -> ModelProfile:
    """Trainable parameters and forward FLOPs for one image (the model is left in eval mode)."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, *image_shape))
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelProfile(parameters, int(counter.get_total_flops()))


def profile_data(data: ImageSplits) -> DataProfile:
    counts = torch.bincount(data.train_y, minlength=data.num_classes).tolist()
    return DataProfile(len(data.train_y), data.num_classes, tuple(data.train_x.shape[1:]), counts)


def suggest(
    data: ImageSplits,
    *,
    width: int,
    epochs: int,
    device: torch.device,
    seed: int = 0,
    max_memory_mb: float | None = None,
    lr_steps: int = 200,
    probe: Probe | None = None,
) -> Suggestion:
    """The first configuration for training ResNet9(width) on `data` for `epochs` epochs."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    image_shape = tuple(data.train_x.shape[1:])
    build = functools.partial(ResNet9, data.num_classes, data.in_channels, width=width)
    model_profile = profile_model(build(), image_shape)
    data_profile = profile_data(data)
    probe = probe or model_probe(build, image_shape, data.num_classes, device)
    batch_choice = largest_fitting_batch(probe, max_memory_mb)
    reasons: dict[str, str] = {}
    values: dict[str, Any] = {"train_batch_size": _batch(data_profile, batch_choice, reasons)}
    values["optimizer"] = _optimizer(data_profile, epochs, reasons)
    values["weight_decay"] = WEIGHT_DECAY[values["optimizer"]]
    reasons["weight_decay"] = (
        "5e-4 for SGD (He et al. 2016)"
        if values["optimizer"] == "sgd"
        else "1e-2, decoupled (AdamW's default; Loshchilov & Hutter 2019)"
    )
    values["label_smoothing"] = _label_smoothing(data_profile, reasons)
    probe_hp = HParams(**values, learning_rate=space.LEARNING_RATE[0])
    result = _range_test(data, build, probe_hp, device, seed, lr_steps)
    schedule = choose_schedule(result)
    values["learning_rate"] = _learning_rate(result, schedule, reasons)
    reasons["scheduler"] = schedule.reason
    return Suggestion(
        hparams=HParams(**values),
        scheduler=schedule.scheduler,
        reasons=reasons,
        model=model_profile,
        data=data_profile,
        batch=batch_choice,
        lr_range=result,
        seconds=time.perf_counter() - started,
    )


def _batch(data: DataProfile, choice: BatchChoice, reasons: dict[str, str]) -> int:
    steps_cap = data.train_images // MIN_STEPS_PER_EPOCH
    fits = choice.batch_size or space.BATCH_SIZES[0]
    allowed = [b for b in space.BATCH_SIZES if b <= min(fits, steps_cap)] or [space.BATCH_SIZES[0]]
    memory = choice.reason if choice.batch_size else f"{choice.reason} (the trainer steps down)"
    reasons["train_batch_size"] = (
        f"memory: {memory}; ≥ {MIN_STEPS_PER_EPOCH} steps per epoch over "
        f"{data.train_images} images allows ≤ {steps_cap}"
    )
    return allowed[-1]


def _optimizer(data: DataProfile, epochs: int, reasons: dict[str, str]) -> str:
    if data.train_images >= SGD_MIN_IMAGES and epochs >= SGD_MIN_EPOCHS:
        reasons["optimizer"] = "SGD+Nesterov: data and epochs enough to profit (Wilson 2017)"
        return "sgd"
    reasons["optimizer"] = (
        f"AdamW: {data.train_images} images × {epochs} epochs is a short budget, where "
        f"adaptive steps start faster (Kingma & Ba 2015); SGD from {SGD_MIN_IMAGES} images "
        f"and {SGD_MIN_EPOCHS} epochs"
    )
    return "adam"


def _label_smoothing(data: DataProfile, reasons: dict[str, str]) -> float:
    if data.classes >= LABEL_SMOOTHING_MIN_CLASSES:
        reasons["label_smoothing"] = f"0.1 for {data.classes} classes (Müller et al. 2019)"
        return 0.1
    reasons["label_smoothing"] = f"0.05: few classes ({data.classes}) need little smoothing"
    return 0.05


def _range_test(
    data: ImageSplits,
    build: Callable[[], torch.nn.Module],
    hparams: HParams,
    device: torch.device,
    seed: int,
    steps: int,
) -> LRRange:
    model = build().to(device, memory_format=torch.channels_last)
    optimizer = default_optimizer(list(model.parameters()), hparams)
    batches = batch_sampler(data, hparams.train_batch_size, device, seed)

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=hparams.label_smoothing)

    return lr_range_test(model, optimizer, batches, loss, steps=steps)


def _learning_rate(result: LRRange, schedule: ScheduleChoice, reasons: dict[str, str]) -> float:
    low, high = space.LEARNING_RATE
    if schedule.scheduler == "none":
        reasons["learning_rate"] = f"the space's smallest ({low:g}): no lr lowered the loss"
        return low
    lr = min(max(result.min_div10, low), high)
    clamped = "" if lr == result.min_div10 else f", clamped to [{low:g}, {high:g}]"
    reasons["learning_rate"] = (
        f"LR range test: minimum loss at {10 * result.min_div10:.2g}, /10 = "
        f"{result.min_div10:.2g}{clamped} (steepest descent at {result.steepest:.2g})"
    )
    return lr
