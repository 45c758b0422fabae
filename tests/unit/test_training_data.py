"""Datasets and the split policy (trainlab.training.data)."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision.datasets.cifar as tv_cifar

from trainlab.config import DataSettings
from trainlab.training.data import DataUnavailableError, load_splits, stratified_split


def test_digits_is_real_8x8_data_with_a_fixed_stratified_test_split() -> None:
    a = load_splits(DataSettings(dataset="digits"), seed=1)
    b = load_splits(DataSettings(dataset="digits"), seed=2)
    assert a.train_x.dtype == torch.uint8 and a.train_y.dtype == torch.int64
    assert a.train_x.shape[1:] == (1, 8, 8) and a.in_channels == 1
    assert a.num_classes == 10
    assert len(a.train_y) + len(a.test_y) == 1797
    assert abs(len(a.test_y) / 1797 - 0.2) < 0.01
    assert int(a.train_x.max()) == 255 and int(a.train_x.min()) == 0
    assert torch.equal(a.test_y, b.test_y)  # the test split does not move with --seed
    assert torch.bincount(a.test_y).min() >= 30  # every class in test (stratified)
    assert len(a.mean) == len(a.std) == 1 and 0 < a.mean[0] < 1


def test_val_split_zero_validates_on_test_and_says_so(tiny_splits) -> None:
    assert tiny_splits.val_and_test_same_dataset
    assert tiny_splits.val_x is tiny_splits.test_x and tiny_splits.val_y is tiny_splits.test_y


def test_val_split_holds_out_a_seeded_stratified_part_of_train() -> None:
    full = load_splits(DataSettings(dataset="digits"), seed=0)
    held = load_splits(DataSettings(dataset="digits", val_split=0.25), seed=0)
    again = load_splits(DataSettings(dataset="digits", val_split=0.25), seed=0)
    other = load_splits(DataSettings(dataset="digits", val_split=0.25), seed=1)
    assert not held.val_and_test_same_dataset
    assert len(held.train_y) + len(held.val_y) == len(full.train_y)
    assert abs(len(held.val_y) / len(full.train_y) - 0.25) < 0.01
    assert torch.equal(held.test_y, full.test_y)
    assert held.val_y.unique().numel() == 10
    assert again is held  # cached in-process
    assert not torch.equal(held.val_x, other.val_x)  # another seed, another validation split
    # no image is both in train and in val
    train_rows = {bytes(row.numpy()) for row in held.train_x.flatten(1)}
    overlap = sum(bytes(row.numpy()) in train_rows for row in held.val_x.flatten(1))
    assert overlap <= 5  # digits has a handful of exact duplicate images, nothing more


def test_train_fraction_keeps_a_seeded_stratified_part_of_train_only() -> None:
    full = load_splits(DataSettings(dataset="digits", val_split=0.2), seed=3)
    part = load_splits(DataSettings(dataset="digits", val_split=0.2, train_fraction=0.25), seed=3)
    again = load_splits(DataSettings(dataset="digits", val_split=0.2, train_fraction=0.25), seed=3)
    assert abs(len(part.train_y) / len(full.train_y) - 0.25) < 0.01
    assert torch.bincount(part.train_y).min() >= 25  # every class kept (stratified)
    assert torch.equal(part.train_x, again.train_x)  # the same images for the same seed
    assert torch.equal(part.val_x, full.val_x) and torch.equal(part.test_x, full.test_x)
    assert part.mean == full.mean  # normalized as the full split, so a found config transfers
    kept = {bytes(row.numpy()) for row in part.train_x.flatten(1)}
    assert kept <= {bytes(row.numpy()) for row in full.train_x.flatten(1)}


def test_stratified_split_keeps_singleton_classes_in_the_kept_part() -> None:
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2])
    held, kept = stratified_split(labels, 0.5, seed=0)
    assert sorted(held.tolist() + kept.tolist()) == list(range(9))
    assert labels[held].tolist() == [0, 0, 1, 1]
    assert 8 in kept.tolist()


def test_synthetic_is_tiny_and_learnable_shaped(tiny_splits) -> None:
    assert tiny_splits.train_x.shape == (512, 3, 8, 8)
    assert tiny_splits.num_classes == 4
    assert torch.bincount(tiny_splits.train_y).tolist() == [128] * 4


def test_cifar10_loader_reads_the_real_pickle_format(fake_cifar10) -> None:
    data = load_splits(DataSettings(dataset="cifar10", data_dir=fake_cifar10.data_dir), seed=0)
    assert data.name == "cifar10" and data.num_classes == 10
    assert data.train_x.shape == (100, 3, 32, 32) and data.test_x.shape == (20, 3, 32, 32)
    assert data.train_x.dtype == torch.uint8
    expected = torch.from_numpy(fake_cifar10.train_x).view(100, 3, 32, 32)
    assert torch.equal(data.train_x, expected)  # channel planes land in the right place
    assert data.train_y.tolist() == fake_cifar10.train_y
    assert data.test_y.tolist() == fake_cifar10.test_y
    assert len(data.mean) == 3


def test_missing_cifar10_offline_names_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    with pytest.raises(DataUnavailableError) as info:
        load_splits(DataSettings(dataset="cifar10", data_dir=tmp_path / "empty"), seed=0)
    message = str(info.value)
    assert "--data-dir" in message and "--dataset digits" in message
    assert str(tmp_path / "empty") in message
