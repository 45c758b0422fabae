"""Train one hyperparameter configuration: fast, seeded and crash-safe.

run_trial() reads top to bottom:
    summary.json exists            -> return it (a finished trial is never retrained)
    for the requested batch size, then 512→256→128→64→32 below it after out-of-memory:
        build seeded model/optimizer/schedule, or continue from checkpoint_last.pt
        per epoch: train on augmented in-memory batches, evaluate, checkpoint, report
        stop on patience, or on a non-finite loss (status "diverged")
    score test, write metrics_epoch.csv, plots and summary.json

Speed comes from a few tricks: the data stays in memory on the training device and is
augmented in batches there; AMP on CUDA (bf16, else fp16 + GradScaler); channels_last (CPU
convolutions gain from it too); no host sync inside an epoch (except fp16's GradScaler).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.config import TrainSettings
from trainlab.reporting.trial_plots import plot_trial
from trainlab.runstore import atomic_write_bytes, read_json, write_json
from trainlab.space import BATCH_SIZES, HParams
from trainlab.state import Attempt, TrialStatus, TrialSummary
from trainlab.training.data import ImageSplits
from trainlab.training.metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
)
from trainlab.training.models import ResNet9

SUMMARY = "summary.json"
METRICS_CSV = "metrics_epoch.csv"
CHECKPOINT_LAST = "checkpoint_last.pt"
CHECKPOINT_BEST = "checkpoint_best.pt"
METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "train_acc",
    "val_acc",
    "train_f1",
    "val_f1",
    "lr",
    "epoch_seconds",
    "images_per_sec",
)
SIMULATE_OOM_ENV = "TRAINLAB_SIMULATE_OOM_ABOVE"
WARMUP_FRACTION = 0.05  # of all steps, linear, cosine schedule only
SGD_MOMENTUM = 0.9
JITTER = {"brightness": 0.2, "contrast": 0.2, "colour": 0.1}  # "strong" augmentation, ± factors

Row = dict[str, float]


@dataclass(frozen=True)
class TrialComponents:
    """Optional overrides used by the experiment framework; None keeps the defaults."""

    build_model: Callable[[int, int], nn.Module] | None = None  # (num_classes, in_channels)
    build_optimizer: Callable[[list[nn.Parameter], HParams], torch.optim.Optimizer] | None = None
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None  # (logits, y)
    score_last_epoch: bool = False  # True: test the final weights, not the best epoch's


def default_optimizer(params: list[nn.Parameter], hparams: HParams) -> torch.optim.Optimizer:
    """adam: AdamW (decoupled weight decay); sgd: Nesterov momentum 0.9."""
    lr, wd = hparams.learning_rate, hparams.weight_decay
    if hparams.optimizer == "adam":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, nesterov=True, weight_decay=wd)


def lr_multiplier(scheduler: str, total_steps: int) -> Callable[[int], float]:
    """Per-step factor on the base lr: constant, or linear warmup then cosine to zero."""
    warmup = max(1, round(WARMUP_FRACTION * total_steps))

    def factor(step: int) -> float:
        if scheduler == "none":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; an unusable explicit choice is a ValueError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available here")
    return device


# --- the context of one trial and the live objects of one attempt -----------------------------


@dataclass(frozen=True)
class _Context:
    hparams: HParams
    settings: TrainSettings
    data: ImageSplits  # tensors already on `device`
    device: torch.device
    components: TrialComponents
    trial_dir: Path
    on_epoch: Callable[[dict], None] | None
    should_stop: Callable[[int, float], bool] | None  # (epoch, val_acc) -> prune now?
    oom_above: int | None
    amp_dtype: torch.dtype | None
    mean: torch.Tensor  # [1, C, 1, 1]
    std: torch.Tensor

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.components.loss_fn is not None:
            return self.components.loss_fn(logits, targets)
        return F.cross_entropy(logits, targets, label_smoothing=self.hparams.label_smoothing)


@dataclass
class _Loop:
    batch_size: int
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    gen: torch.Generator  # shuffling and augmentation, on the data's device


@dataclass
class _Fit:
    status: TrialStatus
    reason: str | None = None
    history: list[Row] | None = None
    best: Row | None = None  # epoch, val_acc, val_loss, val_f1, val_ece
    test: Row | None = None  # acc, f1, ece


# --- run_trial ------------------------------------------------------------------------------


def run_trial(
    hparams: HParams,
    settings: TrainSettings,
    data: ImageSplits,
    trial_dir: Path,
    *,
    on_epoch: Callable[[dict], None] | None = None,
    components: TrialComponents | None = None,
    should_stop: Callable[[int, float], bool] | None = None,
) -> TrialSummary:
    """Train one configuration into `trial_dir` and return its summary (see module doc).

    Out-of-memory, divergence and failure are recorded in the summary, not raised; any other
    exception (including one raised by `on_epoch`) propagates and leaves checkpoint_last.pt
    for the next call to continue from. `should_stop(epoch, val_acc)` returning True after an
    epoch ends the trial with status "pruned" (curve, test score and artifacts kept).
    """
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    if (trial_dir / SUMMARY).is_file():
        return TrialSummary.model_validate(read_json(trial_dir / SUMMARY))
    started = time.perf_counter()
    ctx = _context(hparams, settings, data, trial_dir, on_epoch, components, should_stop)
    saved = _load_checkpoint(ctx)
    batch = saved["batch_size"] if saved else hparams.train_batch_size
    attempts = [Attempt(**a) for a in saved["attempts"]] if saved else []
    prior_seconds = saved["seconds"] if saved else 0.0

    def elapsed() -> float:
        return prior_seconds + time.perf_counter() - started

    fit = None
    while fit is None:
        try:
            fit = _fit(ctx, batch, attempts, saved, elapsed)
            outcome = "diverged" if fit.status == "diverged" else "ok"
            attempts.append(Attempt(batch_size=batch, outcome=outcome, detail=fit.reason or ""))
        except Exception as exc:
            if not _is_oom(exc):
                raise
            attempts.append(Attempt(batch_size=batch, outcome="oom", detail=_one_line(exc)))
        if fit is None:  # out of memory: free it outside the except block, then step down
            saved = None
            _free_memory(ctx.device)
            (trial_dir / CHECKPOINT_LAST).unlink(missing_ok=True)
            smaller = [b for b in BATCH_SIZES if b < batch]
            if smaller:
                batch = smaller[-1]
            else:
                reason = f"out of memory at every batch size down to {batch}"
                fit = _Fit(status="failed", reason=reason, history=[])
    return _finish(ctx, fit, batch, attempts, elapsed())


def _context(
    hparams: HParams,
    settings: TrainSettings,
    data: ImageSplits,
    trial_dir: Path,
    on_epoch: Callable[[dict], None] | None,
    components: TrialComponents | None,
    should_stop: Callable[[int, float], bool] | None,
) -> _Context:
    device = resolve_device(settings.device)
    amp_dtype = None
    if settings.amp and device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)
    shape = (1, -1, 1, 1)
    return _Context(
        hparams=hparams,
        settings=settings,
        data=_to_device(data, device),
        device=device,
        components=components or TrialComponents(),
        trial_dir=trial_dir,
        on_epoch=on_epoch,
        should_stop=should_stop,
        oom_above=_simulated_oom_limit(),
        amp_dtype=amp_dtype,
        mean=torch.tensor(data.mean, device=device).view(shape),
        std=torch.tensor(data.std, device=device).view(shape),
    )


def _fit(
    ctx: _Context,
    batch_size: int,
    attempts: list[Attempt],
    saved: dict[str, Any] | None,
    elapsed: Callable[[], float],
) -> _Fit:
    """One attempt at `batch_size`: train until the epochs or the patience run out."""
    settings = ctx.settings
    loop = _build(ctx, batch_size)
    history: list[Row] = []
    best: Row | None = None
    best_model: dict[str, torch.Tensor] | None = None
    if saved:
        history, best, best_model = _restore(loop, saved)
    status: TrialStatus = "complete"
    reason = None
    while len(history) < settings.epochs and not _patience_spent(history, best, settings.patience):
        epoch = len(history) + 1
        started = time.perf_counter()
        train = _train_epoch(ctx, loop)
        if not math.isfinite(train["loss"]):
            status = "diverged"
            reason = f"non-finite training loss ({train['loss']}) in epoch {epoch}"
            break
        val = _evaluate(ctx, loop.model, ctx.data.val_x, ctx.data.val_y, 2 * batch_size)
        row = {
            "epoch": epoch,
            "train_loss": train["loss"],
            "val_loss": val["loss"],
            "train_acc": train["acc"],
            "val_acc": val["acc"],
            "train_f1": train["f1"],
            "val_f1": val["f1"],
            "lr": train["lr"],
            "epoch_seconds": time.perf_counter() - started,
            "images_per_sec": train["images_per_sec"],
        }
        history.append(row)
        if best is None or val["acc"] > best["val_acc"] or ctx.components.score_last_epoch:
            best = {"epoch": epoch, **{f"val_{k}": v for k, v in val.items()}}
            if not ctx.data.val_and_test_same_dataset:  # needed to score test at the end
                best_model = {k: v.detach().clone() for k, v in loop.model.state_dict().items()}
            if settings.save_checkpoints:
                _save_best(ctx, loop.model, best)
        _save_last(ctx, loop, history, best, best_model, attempts, elapsed())
        _write_metrics_csv(ctx.trial_dir / METRICS_CSV, history)
        if ctx.on_epoch is not None:
            ctx.on_epoch({**row, "epochs": settings.epochs})
        stop = ctx.should_stop is not None and ctx.should_stop(epoch, val["acc"])
        if stop and epoch < settings.epochs:  # the callback sees every epoch, the last too
            status, reason = "pruned", f"pruned after epoch {epoch} (val_acc {val['acc']:.4f})"
            break
    test = _score_test(ctx, loop.model, best, best_model, 2 * batch_size)
    return _Fit(status=status, reason=reason, history=history, best=best, test=test)


def _patience_spent(history: list[Row], best: Row | None, patience: int) -> bool:
    return best is not None and len(history) - best["epoch"] >= patience


def _build(ctx: _Context, batch_size: int) -> _Loop:
    """Seeded model, optimizer, per-step schedule, scaler and data generator."""
    seed = ctx.settings.seed
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    data, components = ctx.data, ctx.components
    if components.build_model is not None:
        model = components.build_model(data.num_classes, data.in_channels)
    else:
        model = ResNet9(data.num_classes, data.in_channels, width=ctx.settings.model_width)
    model = model.to(ctx.device, memory_format=torch.channels_last)
    build_optimizer = components.build_optimizer or default_optimizer
    optimizer = build_optimizer(list(model.parameters()), ctx.hparams)
    total_steps = _steps_per_epoch(len(data.train_y), batch_size) * ctx.settings.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_multiplier(ctx.settings.scheduler, total_steps)
    )
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=ctx.amp_dtype == torch.float16)
    gen = torch.Generator(device=ctx.device).manual_seed(seed)
    return _Loop(batch_size, model, optimizer, scheduler, scaler, gen)


def _steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, n // batch_size)  # drop the last partial batch (unless it is the only one)


# --- one epoch ------------------------------------------------------------------------------


def _train_epoch(ctx: _Context, loop: _Loop) -> Row:
    data, model, b = ctx.data, loop.model, loop.batch_size
    model.train()
    n, classes = len(data.train_y), data.num_classes
    steps = _steps_per_epoch(n, b)
    perm = torch.randperm(n, device=ctx.device, generator=loop.gen)
    loss_sum = torch.zeros((), device=ctx.device)
    cm = torch.zeros(classes, classes, dtype=torch.long, device=ctx.device)
    _sync(ctx.device)
    started = time.perf_counter()
    for step in range(steps):
        idx = perm[step * b : (step + 1) * b]
        if ctx.oom_above is not None and len(idx) > ctx.oom_above:
            raise torch.cuda.OutOfMemoryError(
                f"simulated: batch {len(idx)} > {SIMULATE_OOM_ENV}={ctx.oom_above}"
            )
        x = _inputs(ctx, data.train_x[idx], ctx.settings.augment, loop.gen)
        y = data.train_y[idx]
        with ctx.autocast():
            logits = model(x).float()
        loss = ctx.loss(logits, y)
        loop.optimizer.zero_grad(set_to_none=True)
        loop.scaler.scale(loss).backward()
        loop.scaler.step(loop.optimizer)
        loop.scaler.update()
        lr = loop.optimizer.param_groups[0]["lr"]
        loop.scheduler.step()
        loss_sum += loss.detach()
        cm += confusion_matrix(logits.detach().argmax(1), y, classes)
    _sync(ctx.device)
    seconds = time.perf_counter() - started
    return {
        "loss": loss_sum.item() / steps,
        "acc": accuracy(cm),
        "f1": macro_f1(cm),
        "lr": lr,
        "images_per_sec": steps * min(b, n) / seconds,
    }


@torch.no_grad()
def _evaluate(
    ctx: _Context, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int
) -> Row:
    """loss, acc, f1 and ece of `model` on (x, y), in batches, no augmentation."""
    model.eval()
    loss_sum = torch.zeros((), device=ctx.device)
    probs = []
    for start in range(0, len(y), batch_size):
        yb = y[start : start + batch_size]
        with ctx.autocast():
            logits = model(_inputs(ctx, x[start : start + batch_size], "none", None)).float()
        loss_sum += ctx.loss(logits, yb) * len(yb)
        probs.append(logits.softmax(1))
    probs = torch.cat(probs)
    cm = confusion_matrix(probs.argmax(1), y, ctx.data.num_classes)
    return {
        "loss": loss_sum.item() / len(y),
        "acc": accuracy(cm),
        "f1": macro_f1(cm),
        "ece": expected_calibration_error(probs, y),
    }


def _score_test(
    ctx: _Context,
    model: nn.Module,
    best: Row | None,
    best_model: dict[str, torch.Tensor] | None,
    batch_size: int,
) -> Row | None:
    """Test scores: the best epoch's when val is test, else test scored once on the best weights."""
    if best is None:
        return None
    if ctx.data.val_and_test_same_dataset:
        return {"acc": best["val_acc"], "f1": best["val_f1"], "ece": best["val_ece"]}
    model.load_state_dict(best_model)
    return _evaluate(ctx, model, ctx.data.test_x, ctx.data.test_y, batch_size)


# --- batched augmentation on the data's device ----------------------------------------------


def _inputs(
    ctx: _Context, images: torch.Tensor, augment: str, gen: torch.Generator | None
) -> torch.Tensor:
    """uint8 [N, C, H, W] -> augmented, normalised float inputs."""
    if augment != "none":
        images = random_flip(random_crop(images, max(1, images.shape[-1] // 8), gen), gen)
    x = images.float().div_(255)
    if augment == "strong":
        x = colour_jitter(x, gen)
    x = (x - ctx.mean) / ctx.std
    return x.contiguous(memory_format=torch.channels_last)


def random_crop(images: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad by `pad` and crop back to size at a random offset per image."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n, 1), device=images.device, generator=gen)
    rows = (dy + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=images.device))[:, None, None, :]
    padded = padded.gather(2, rows.expand(n, c, h, w + 2 * pad))
    return padded.gather(3, cols.expand(n, c, h, w))


def random_flip(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the images left-right."""
    flip = torch.rand(len(images), device=images.device, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def colour_jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mild random brightness, contrast and per-channel colour scaling of [0, 1] images."""

    def factor(spread: float, channels: int = 1) -> torch.Tensor:
        u = torch.rand(len(x), channels, 1, 1, device=x.device, generator=gen)
        return 1 + spread * (2 * u - 1)

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor(JITTER["contrast"]) + mean
    x = x * factor(JITTER["brightness"]) * factor(JITTER["colour"], x.shape[1])
    return x.clamp_(0, 1)


# --- checkpoints ----------------------------------------------------------------------------


def _fingerprint(ctx: _Context) -> dict[str, Any]:
    """What must match for checkpoint_last.pt to be continued."""
    data = ctx.data
    return {
        "hparams": ctx.hparams.model_dump(),
        "settings": ctx.settings.model_dump(
            include={"epochs", "patience", "scheduler", "augment", "seed", "model_width"}
        ),
        "data": [data.name, len(data.train_y), len(data.val_y), data.val_and_test_same_dataset],
    }


def _load_checkpoint(ctx: _Context) -> dict[str, Any] | None:
    path = ctx.trial_dir / CHECKPOINT_LAST
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved["fingerprint"] != _fingerprint(ctx):
        raise ValueError(
            f"{path} was written for another configuration; remove it or use another folder"
        )
    return saved


def _save_last(
    ctx: _Context,
    loop: _Loop,
    history: list[Row],
    best: Row | None,
    best_model: dict[str, torch.Tensor] | None,
    attempts: list[Attempt],
    seconds: float,
) -> None:
    _atomic_save(
        {
            "fingerprint": _fingerprint(ctx),
            "epoch": len(history),
            "batch_size": loop.batch_size,
            "model": loop.model.state_dict(),
            "optimizer": loop.optimizer.state_dict(),
            "scheduler": loop.scheduler.state_dict(),
            "scaler": loop.scaler.state_dict(),
            "rng": _rng_state(loop.gen),
            "history": history,
            "best": best,
            "best_model": best_model,
            "attempts": [a.model_dump() for a in attempts],
            "seconds": seconds,
        },
        ctx.trial_dir / CHECKPOINT_LAST,
    )


def _restore(
    loop: _Loop, saved: dict[str, Any]
) -> tuple[list[Row], Row | None, dict[str, torch.Tensor] | None]:
    loop.model.load_state_dict(saved["model"])
    loop.optimizer.load_state_dict(saved["optimizer"])
    loop.scheduler.load_state_dict(saved["scheduler"])
    loop.scaler.load_state_dict(saved["scaler"])
    _set_rng_state(loop.gen, saved["rng"])
    return saved["history"], saved["best"], saved["best_model"]


def _save_best(ctx: _Context, model: nn.Module, best: Row) -> None:
    payload = {
        "model": model.state_dict(),
        "epoch": best["epoch"],
        "val_acc": best["val_acc"],
        "hparams": ctx.hparams.model_dump(),
        "model_width": ctx.settings.model_width,
        "num_classes": ctx.data.num_classes,
        "in_channels": ctx.data.in_channels,
        "mean": list(ctx.data.mean),
        "std": list(ctx.data.std),
    }
    _atomic_save(payload, ctx.trial_dir / CHECKPOINT_BEST)


def _atomic_save(obj: Any, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": gen.get_state(),
        "python": random.getstate(),
        "numpy": (name, keys.tolist(), int(pos), int(has_gauss), float(cached)),
    }


def _set_rng_state(gen: torch.Generator, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    gen.set_state(state["generator"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))


# --- out of memory --------------------------------------------------------------------------


def _simulated_oom_limit() -> int | None:
    raw = os.environ.get(SIMULATE_OOM_ENV, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SIMULATE_OOM_ENV} must be an integer, got {raw!r}") from None


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc)
    )


def _free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# --- artifacts and small helpers ------------------------------------------------------------


def _finish(
    ctx: _Context, fit: _Fit, batch: int, attempts: list[Attempt], seconds: float
) -> TrialSummary:
    """Write metrics_epoch.csv, the plots and summary.json; drop checkpoint_last.pt."""
    history, best, test = fit.history or [], fit.best or {}, fit.test or {}
    effective = ctx.hparams.model_copy(update={"train_batch_size": batch})
    summary = TrialSummary(
        status=fit.status,
        reason=fit.reason,
        best_val_acc=best.get("val_acc"),
        best_val_loss=best.get("val_loss"),
        best_epoch=best.get("epoch"),
        epochs_run=len(history),
        test_acc=test.get("acc"),
        test_f1=test.get("f1"),
        test_ece=test.get("ece"),
        requested_hparams=ctx.hparams,
        effective_hparams=effective,
        oom_adjusted=batch != ctx.hparams.train_batch_size,
        attempts=attempts,
        val_and_test_same_dataset=ctx.data.val_and_test_same_dataset,
        seed=ctx.settings.seed,
        device=_device_name(ctx.device),
        seconds=seconds,
        images_per_sec=statistics.median(r["images_per_sec"] for r in history) if history else None,
        peak_memory_mb=_peak_memory_mb(ctx.device),
        trial_dir=str(ctx.trial_dir),
    )
    _write_metrics_csv(ctx.trial_dir / METRICS_CSV, history)
    if history:
        plot_trial(history, ctx.trial_dir, title=f"{ctx.trial_dir.name}: {effective.brief()}")
    write_json(ctx.trial_dir / SUMMARY, summary.model_dump(mode="json"))
    (ctx.trial_dir / CHECKPOINT_LAST).unlink(missing_ok=True)
    return summary


def _write_metrics_csv(path: Path, history: list[Row]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_bytes(path, text.getvalue().encode())


def _to_device(data: ImageSplits, device: torch.device) -> ImageSplits:
    moved: dict[int, torch.Tensor] = {}  # val and test may be the same tensors: move once

    def move(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in moved:
            moved[id(t)] = t.to(device)
        return moved[id(t)]

    names = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
    return replace(data, **{name: move(getattr(data, name)) for name in names})


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def _peak_memory_mb(device: torch.device) -> float | None:
    """CUDA: peak allocated by torch. CPU: peak resident set size of the process."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text[:300]
