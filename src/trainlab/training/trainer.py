"""Train one hyperparameter configuration: fast, seeded and crash-safe.

run_trial() reads top to bottom:
    summary.json exists            -> return it (a finished trial is never retrained)
    for the requested batch size, then 512→256→128→64→32 below it after out-of-memory:
        build seeded model/optimizer/schedule, or continue from checkpoint_last.pt
        per epoch: train on augmented in-memory batches, evaluate, checkpoint, report
        stop on patience, or on a non-finite loss (status "diverged")
    score test, write metrics_epoch.csv, plots and summary.json

Speed comes from a few tricks: the data stays in memory on the training device and is
augmented in batches there (augment.py); AMP on CUDA (device.py: native bf16, else fp16 +
GradScaler); channels_last (CPU convolutions gain from it too); no host sync inside an epoch
(except fp16's GradScaler). Beside it: checkpoint.py, artifacts.py and optim.py.
"""

from __future__ import annotations

import contextlib
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.config import TrainSettings
from trainlab.space import BATCH_SIZES, HParams
from trainlab.state import Attempt, TrialStatus, TrialSummary
from trainlab.tools.gradients import GradientMonitor
from trainlab.training import artifacts, checkpoint, device
from trainlab.training.augment import model_inputs
from trainlab.training.data import ImageSplits
from trainlab.training.device import resolve_device
from trainlab.training.evaluate import evaluate, recalibrate_batchnorm, score_test
from trainlab.training.metrics import accuracy, confusion_matrix, macro_f1
from trainlab.training.models import ResNet9
from trainlab.training.optim import default_optimizer, lr_multiplier

Row = dict[str, float]


@dataclass(frozen=True)
class TrialComponents:
    """Optional overrides used by the experiment framework; None keeps the defaults."""

    build_model: Callable[[int, int], nn.Module] | None = None  # (num_classes, in_channels)
    build_optimizer: Callable[[list[nn.Parameter], HParams], torch.optim.Optimizer] | None = None
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None  # (logits, y)
    # (logits, y, inputs), training steps only (e.g. distillation); evaluation keeps `loss`
    train_loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    score_last_epoch: bool = False  # True: test the final weights, not the best epoch's


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
    warnings: list[str] = field(default_factory=list)  # recorded in the summary

    def autocast(self) -> contextlib.AbstractContextManager:
        return device.autocast(self.device, self.amp_dtype)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.components.loss_fn is not None:
            return self.components.loss_fn(logits, targets)
        return F.cross_entropy(logits, targets, label_smoothing=self.hparams.label_smoothing)

    def train_loss(
        self, logits: torch.Tensor, targets: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        if self.components.train_loss_fn is not None:
            return self.components.train_loss_fn(logits, targets, x)
        return self.loss(logits, targets)

    def inputs(
        self, images: torch.Tensor, augment: str, gen: torch.Generator | None
    ) -> torch.Tensor:
        return model_inputs(images, augment, gen, self.mean, self.std)

    def fingerprint(self) -> dict[str, Any]:
        return checkpoint.fingerprint(self.hparams, self.settings, self.data)


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
    progress: checkpoint.Progress = field(default_factory=checkpoint.Progress)
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
    start_batch: int | None = None,
) -> TrialSummary:
    """Train one configuration into `trial_dir` and return its summary (see module doc).

    Out-of-memory, divergence and failure are recorded in the summary, not raised; any other
    exception (including one raised by `on_epoch`) propagates and leaves checkpoint_last.pt
    for the next call to continue from. `should_stop(epoch, val_acc)` returning True after an
    epoch ends the trial with status "pruned" (curve, test score and artifacts kept).
    `start_batch`: the batch to try first (the batch finder's; default the requested one).
    """
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    finished = artifacts.finished_summary(trial_dir)
    if finished is not None:
        return finished
    started = time.perf_counter()
    ctx = _context(hparams, settings, data, trial_dir, on_epoch, components, should_stop)
    saved = checkpoint.load_last(trial_dir, ctx.fingerprint(), ctx.warnings)
    batch = saved["batch_size"] if saved else start_batch or hparams.train_batch_size
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
            if not device.is_oom(exc):
                raise
            attempts.append(Attempt(batch_size=batch, outcome="oom", detail=_one_line(exc)))
        if fit is None:  # out of memory: free it outside the except block, then step down
            saved = None
            device.free_memory(ctx.device)
            checkpoint.drop_last(trial_dir)
            smaller = [b for b in BATCH_SIZES if b < batch]
            if smaller:
                batch = smaller[-1]
            else:
                reason = f"out of memory at every batch size down to {batch}"
                fit = _Fit(status="failed", reason=reason)
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
    target = resolve_device(settings.device)
    if target.type == "cuda":
        torch.backends.cudnn.benchmark = True
    device.reset_peak_memory(target)
    shape = (1, -1, 1, 1)
    return _Context(
        hparams=hparams,
        settings=settings,
        data=data.to(target),
        device=target,
        components=components or TrialComponents(),
        trial_dir=trial_dir,
        on_epoch=on_epoch,
        should_stop=should_stop,
        oom_above=device.simulated_oom_limit(),
        amp_dtype=device.amp_dtype(target, settings.amp),
        mean=torch.tensor(data.mean, device=target).view(shape),
        std=torch.tensor(data.std, device=target).view(shape),
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
    progress = checkpoint.restore(loop, saved) if saved else checkpoint.Progress()
    history = progress.history
    # resumed: the pruner may have stopped the trial just before the crash; ask it again
    reason = _prune_reason(ctx, history[-1]["epoch"], history[-1]["val_acc"]) if history else None
    status: TrialStatus = "pruned" if reason else "complete"
    while reason is None and len(history) < settings.epochs:
        if _patience_spent(progress, settings.patience):
            break
        epoch = len(history) + 1
        started = time.perf_counter()
        train = _train_epoch(ctx, loop)
        if not math.isfinite(train["loss"]):
            status = "diverged"
            reason = f"non-finite training loss ({train['loss']}) in epoch {epoch}"
            break
        recalibrate_batchnorm(ctx, loop.model, batch_size)
        val = evaluate(ctx, loop.model, ctx.data.val_x, ctx.data.val_y, 2 * batch_size)
        row = artifacts.epoch_row(epoch, train, val, time.perf_counter() - started)
        history.append(row)
        _keep_if_best(ctx, loop, progress, epoch, val)
        checkpoint.save_last(ctx.trial_dir, ctx.fingerprint(), loop, progress, attempts, elapsed())
        artifacts.write_metrics_csv(ctx.trial_dir, history)
        if ctx.on_epoch is not None:
            ctx.on_epoch({**row, "epochs": settings.epochs})
        reason = _prune_reason(ctx, epoch, val["acc"])
        status = "pruned" if reason else status
    test = score_test(ctx, loop.model, progress, 2 * batch_size)
    return _Fit(status=status, reason=reason, progress=progress, test=test)


def _prune_reason(ctx: _Context, epoch: int, val_acc: float) -> str | None:
    """Why the pruner stops the trial after `epoch`; None to go on (the callback sees every
    epoch, the last too, which ends the trial complete)."""
    stop = ctx.should_stop is not None and ctx.should_stop(epoch, val_acc)
    if stop and epoch < ctx.settings.epochs:
        return f"pruned after epoch {epoch} (val_acc {val_acc:.4f})"
    return None


def _keep_if_best(
    ctx: _Context, loop: _Loop, progress: checkpoint.Progress, epoch: int, val: Row
) -> None:
    """A new best epoch (every epoch when the last is scored): keep its scores and weights."""
    best = progress.best
    if best is None or val["acc"] > best["val_acc"] or ctx.components.score_last_epoch:
        progress.best = {"epoch": epoch, **{f"val_{k}": v for k, v in val.items()}}
        if not ctx.data.val_and_test_same_dataset:  # needed to score test at the end
            weights = loop.model.state_dict().items()
            progress.best_model = {k: v.detach().clone() for k, v in weights}
        if ctx.settings.save_checkpoints:
            checkpoint.save_best(
                ctx.trial_dir,
                loop.model,
                progress.best,
                ctx.hparams,
                ctx.settings.model_width,
                ctx.data,
            )


def _patience_spent(progress: checkpoint.Progress, patience: int) -> bool:
    best = progress.best
    return best is not None and len(progress.history) - best["epoch"] >= patience


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
    scaler = device.grad_scaler(ctx.device, ctx.amp_dtype)
    gen = torch.Generator(device=ctx.device).manual_seed(seed)
    return _Loop(batch_size, model, optimizer, scheduler, scaler, gen)


def _steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, n // batch_size)  # drop the last partial batch (unless it is the only one)


# --- one epoch ------------------------------------------------------------------------------


def _train_epoch(ctx: _Context, loop: _Loop) -> dict[str, Any]:
    data, model, b = ctx.data, loop.model, loop.batch_size
    model.train()
    n, classes = len(data.train_y), data.num_classes
    steps = _steps_per_epoch(n, b)
    perm = torch.randperm(n, device=ctx.device, generator=loop.gen)
    loss_sum = torch.zeros((), device=ctx.device)
    cm = torch.zeros(classes, classes, dtype=torch.long, device=ctx.device)
    gradients = GradientMonitor(model)
    device.synchronize(ctx.device)
    started = time.perf_counter()
    for step in range(steps):
        idx = perm[step * b : (step + 1) * b]
        device.raise_simulated_oom(len(idx), ctx.oom_above)
        x = ctx.inputs(data.train_x[idx], ctx.settings.augment, loop.gen)
        y = data.train_y[idx]
        with ctx.autocast():
            logits = model(x).float()
        loss = ctx.train_loss(logits, y, x)
        loop.optimizer.zero_grad(set_to_none=True)
        loop.scaler.scale(loss).backward()
        loop.scaler.unscale_(loop.optimizer)  # no-op unless fp16; the monitor reads true norms
        gradients.observe()
        loop.scaler.step(loop.optimizer)
        loop.scaler.update()
        lr = loop.optimizer.param_groups[0]["lr"]
        loop.scheduler.step()
        loss_sum += loss.detach()
        cm += confusion_matrix(logits.detach().argmax(1), y, classes)
    device.synchronize(ctx.device)
    seconds = time.perf_counter() - started
    return {
        "loss": loss_sum.item() / steps,
        "acc": accuracy(cm),
        "f1": macro_f1(cm),
        "lr": lr,
        "images_per_sec": steps * min(b, n) / seconds,
        "gradients": gradients.epoch_columns(),
    }


# --- the summary ----------------------------------------------------------------------------


def _finish(
    ctx: _Context, fit: _Fit, batch: int, attempts: list[Attempt], seconds: float
) -> TrialSummary:
    """Write metrics_epoch.csv, the plots and summary.json; drop checkpoint_last.pt."""
    history, best, test = fit.progress.history, fit.progress.best or {}, fit.test or {}
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
        device=device.device_name(ctx.device),
        seconds=seconds,
        images_per_sec=statistics.median(r["images_per_sec"] for r in history) if history else None,
        peak_memory_mb=device.peak_memory_mb(ctx.device),
        trial_dir=str(ctx.trial_dir),
        warnings=ctx.warnings,
    )
    artifacts.write_trial_artifacts(ctx.trial_dir, summary, history)
    checkpoint.drop_last(ctx.trial_dir)
    return summary


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
