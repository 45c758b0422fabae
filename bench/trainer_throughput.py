"""Trainer throughput: run_trial's training loop against a plain reference loop.

The reference is what a typical script does: a torchvision DataLoader over PIL images with
per-image transforms (RandomCrop(padding) + RandomHorizontalFlip + ToTensor + Normalize), the
batch moved to the device each step, fp32. Both train the same ResNet-9 (width, batch,
optimizer, label smoothing, cosine schedule, crop+flip augmentation) on CIFAR-shaped random
data (3×32×32 uint8). Each repeat runs both, alternating, for two epochs and times only the
training loop of the second (the first warms up); the figures are medians over repeats.

    python bench/trainer_throughput.py --repeats 5 --width 16 --batch 128
    python bench/trainer_throughput.py --record docs/BENCHMARKS.md   # also write the section
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from trainlab.config import TrainSettings
from trainlab.space import HParams
from trainlab.training.data import ImageSplits
from trainlab.training.device import resolve_device
from trainlab.training.models import ResNet9
from trainlab.training.optim import default_optimizer, lr_multiplier
from trainlab.training.trainer import run_trial

SECTION = "## Trainer throughput"
EPOCHS = 2  # the first warms up, the second is measured


def cifar_shaped(n_train: int, n_test: int, seed: int) -> ImageSplits:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n_train + n_test, 3, 32, 32), generator=gen, dtype=torch.uint8)
    y = torch.randint(0, 10, (n_train + n_test,), generator=gen)
    return ImageSplits(
        name="cifar-shaped",
        train_x=x[:n_train],
        train_y=y[:n_train],
        val_x=x[n_train:],
        val_y=y[n_train:],
        test_x=x[n_train:],
        test_y=y[n_train:],
        num_classes=10,
        mean=(0.5, 0.5, 0.5),
        std=(0.29, 0.29, 0.29),
        val_and_test_same_dataset=True,
    )


def trainer_images_per_sec(hp: HParams, settings: TrainSettings, data: ImageSplits) -> float:
    with tempfile.TemporaryDirectory() as folder:
        run_trial(hp, settings, data, Path(folder) / "trial")
        with (Path(folder) / "trial" / "metrics_epoch.csv").open() as handle:
            last = handle.read().strip().splitlines()[-1]
    return float(last.split(",")[-1])  # images_per_sec is the last column


class PILImages(Dataset):
    """The data as a plain script holds it: HWC uint8 arrays, a PIL image per item."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: transforms.Compose) -> None:
        self.images = x.permute(0, 2, 3, 1).numpy()
        self.labels = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def reference_images_per_sec(
    hp: HParams, settings: TrainSettings, data: ImageSplits, workers: int
) -> float:
    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(data.mean, data.std),
        ]
    )
    loader = DataLoader(
        PILImages(data.train_x, data.train_y, transform),
        batch_size=hp.train_batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(settings.seed),
    )
    model = ResNet9(10, 3, width=settings.model_width).to(device)
    optimizer = default_optimizer(list(model.parameters()), hp)
    total = len(loader) * EPOCHS
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier("cosine", total))
    for _ in range(EPOCHS):
        model.train()
        _sync(device)
        started, images = time.perf_counter(), 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y, label_smoothing=hp.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            images += len(y)
        _sync(device)
        rate = images / (time.perf_counter() - started)
    return rate


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    accel = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU"
    return (
        f"{cpu} ({os.cpu_count()} cores), {accel}; torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, "
        f"device {device}"
    )


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def record(path: Path, text: str) -> None:
    """Add or replace this benchmark's section of the file, leaving every other one alone."""
    old = path.read_text() if path.is_file() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip() + "\n\n" + text
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--images", type=int, default=2048, help="training images per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--workers", type=int, default=0, help="reference DataLoader workers")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--record", type=Path, help="write the results into this Markdown file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    hp = HParams(
        optimizer="sgd",
        learning_rate=0.05,
        train_batch_size=args.batch,
        weight_decay=5e-4,
        label_smoothing=0.1,
    )
    settings = TrainSettings(
        epochs=EPOCHS,
        model_width=args.width,
        seed=args.seed,
        device=args.device,
        augment="basic",
        scheduler="cosine",
        save_checkpoints=False,
    )
    data = cifar_shaped(args.images, 256, args.seed)
    load_before = os.getloadavg()
    ours, ref = [], []
    for i in range(args.repeats):
        ours.append(trainer_images_per_sec(hp, settings, data))
        ref.append(reference_images_per_sec(hp, settings, data, args.workers))
        print(f"repeat {i + 1}: run_trial {ours[-1]:,.0f} img/s, reference {ref[-1]:,.0f} img/s")
    load_after = os.getloadavg()
    ratios = [a / b for a, b in zip(ours, ref, strict=True)]
    ratio = statistics.median(ours) / statistics.median(ref)
    lines = [
        f"- machine: {machine(device)}",
        f"- settings: ResNet-9 width {args.width}, batch {args.batch}, {args.images} images "
        f"3×32×32 per epoch, sgd + cosine, crop+flip, {args.repeats} repeats, seed {args.seed}, "
        f"reference DataLoader workers {args.workers}",
        f"- load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}",
        f"- run_trial: {spread(ours)} images/s",
        f"- reference loop: {spread(ref)} images/s",
        f"- **ratio {ratio:.2f}×** (median of medians; per-repeat ratios "
        f"{min(ratios):.2f}–{max(ratios):.2f}×)",
    ]
    print("\n".join(lines))
    if args.record:
        command = shlex.join(["python", "bench/trainer_throughput.py", *sys.argv[1:]])
        intro = (
            "Images per second of `run_trial`'s training loop against a plain reference loop "
            "(torchvision DataLoader + per-image transforms, same model, batch, optimizer and "
            "augmentation), second epoch of each repeat, repeats alternating.\n\n"
            f"`{command}`\n\n"
        )
        record(args.record, f"{SECTION}\n\n{intro}" + "\n".join(lines) + "\n\n")


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
