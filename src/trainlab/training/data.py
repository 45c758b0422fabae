"""Datasets as in-memory uint8 tensors, split once per process and reused every round.

- cifar10: the real CIFAR-10 through torchvision, downloaded once into `data_dir`.
- digits: scikit-learn's shipped 8×8 digits (real data, no network), fixed 80/20 split.
- synthetic: tiny generated images with a learnable class pattern, for tests.

Split policy: with val_split == 0 the test split doubles as validation (recorded as
`val_and_test_same_dataset`); otherwise a seeded stratified fraction of train is held out.
`train_fraction` < 1 then keeps a seeded stratified fraction of what is left for training.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from trainlab.config import DataSettings

DIGITS_TEST_FRACTION = 0.2
FIXED_SPLIT_SEED = 0  # the digits test split and synthetic images never change with --seed
SYNTHETIC_SHAPE = {"classes": 4, "channels": 3, "size": 8, "train": 512, "test": 256}


class DataUnavailableError(RuntimeError):
    """The dataset is neither on disk nor downloadable."""


@dataclass(frozen=True, eq=False)
class ImageSplits:
    """Images are uint8 [N, C, H, W], labels int64 [N]; mean/std are per channel in [0, 1]."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    val_and_test_same_dataset: bool

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    def to(self, device: torch.device) -> ImageSplits:
        """The same splits on `device` (val and test may share tensors: each moves once)."""
        moved: dict[int, torch.Tensor] = {}

        def move(t: torch.Tensor) -> torch.Tensor:
            if id(t) not in moved:
                moved[id(t)] = t.to(device)
            return moved[id(t)]

        names = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
        return replace(self, **{name: move(getattr(self, name)) for name in names})


def load_splits(settings: DataSettings, seed: int) -> ImageSplits:
    """The dataset of `settings`, split for `seed`; cached in-process."""
    return _load_splits(
        settings.dataset, Path(settings.data_dir), settings.val_split, settings.train_fraction, seed
    )


def train_subset(data: ImageSplits, fraction: float, seed: int) -> ImageSplits:
    """A seeded stratified `fraction` of the training split; validation, test and the
    normalization statistics (of the full training split) unchanged."""
    if fraction >= 1.0:
        return data
    keep, _ = stratified_split(data.train_y, fraction, seed)
    return replace(data, train_x=data.train_x[keep], train_y=data.train_y[keep])


@functools.lru_cache(maxsize=4)
def _load_splits(
    dataset: str, data_dir: Path, val_split: float, train_fraction: float, seed: int
) -> ImageSplits:
    loaders = {"cifar10": _cifar10, "digits": _digits, "synthetic": _synthetic}
    train_x, train_y, test_x, test_y = loaders[dataset](data_dir)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    if val_split > 0:
        val_idx, train_idx = stratified_split(train_y, val_split, seed)
        val_x, val_y = train_x[val_idx], train_y[val_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]
    else:
        val_x, val_y = test_x, test_y
    pixels = train_x.double().div(255).transpose(0, 1).flatten(1)
    splits = ImageSplits(
        name=dataset,
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
        test_x=test_x,
        test_y=test_y,
        num_classes=num_classes,
        mean=tuple(pixels.mean(1).tolist()),
        std=tuple(pixels.std(1).clamp_min(1e-3).tolist()),
        val_and_test_same_dataset=val_split == 0,
    )
    return train_subset(splits, train_fraction, seed)


def stratified_split(
    labels: torch.Tensor, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (held_out, kept): `fraction` of every class held out (≥ 1 if it has 2+ items)."""
    gen = torch.Generator().manual_seed(seed)
    held, kept = [], []
    for cls in labels.unique(sorted=True):
        idx = (labels == cls).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_held = min(len(idx) - 1, max(1, round(fraction * len(idx)))) if len(idx) > 1 else 0
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    return torch.cat(held).sort().values, torch.cat(kept).sort().values


Arrays = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _cifar10(data_dir: Path) -> Arrays:
    from torchvision.datasets import CIFAR10

    try:
        train = CIFAR10(root=data_dir, train=True, download=True)
        test = CIFAR10(root=data_dir, train=False, download=False)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise DataUnavailableError(
            f"CIFAR-10 is not in {data_dir} and could not be downloaded ({exc}). "
            "Point --data-dir at a folder holding cifar-10-batches-py (or run once with "
            "internet access), or use --dataset digits to train offline."
        ) from exc
    return (*_from_hwc(train.data, train.targets), *_from_hwc(test.data, test.targets))


def _from_hwc(images: object, labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(images, dtype=torch.uint8).permute(0, 3, 1, 2).contiguous()
    return x, torch.as_tensor(labels, dtype=torch.int64)


def _digits(_data_dir: Path) -> Arrays:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images).mul(255 / 16).round().to(torch.uint8).unsqueeze(1)
    y = torch.from_numpy(digits.target).long()
    test_idx, train_idx = stratified_split(y, DIGITS_TEST_FRACTION, FIXED_SPLIT_SEED)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def _synthetic(_data_dir: Path) -> Arrays:
    """Each class is a blocky, left-right symmetric colour pattern plus pixel noise.

    Symmetric so that flips keep the label; blocky so that small crops do too.
    """
    shape = SYNTHETIC_SHAPE
    gen = torch.Generator().manual_seed(FIXED_SPLIT_SEED)
    classes, channels, size = shape["classes"], shape["channels"], shape["size"]
    blocks = torch.rand(classes, channels, 2, 2, generator=gen)
    templates = blocks.repeat_interleave(size // 2, 2).repeat_interleave(size // 2, 3)
    templates = (templates + templates.flip(3)) / 2

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % classes
        noise = torch.randn(n, channels, size, size, generator=gen) * 0.12
        x = (0.2 + 0.6 * templates[y] + noise).clamp(0, 1)
        return x.mul(255).round().to(torch.uint8), y

    return (*sample(shape["train"]), *sample(shape["test"]))
