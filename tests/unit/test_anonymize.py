"""The sanitizer: dataset and model names never reach a model, ordinary words do."""

from __future__ import annotations

import re

import pytest

from trainlab.agents.anonymize import DATASET_TOKEN, MODEL_TOKEN, Anonymizer

LEAKS = re.compile(r"cifar|resnet|mnist|imagenet|svhn|digit|wide-?resnet|vgg|densenet", re.I)


@pytest.mark.parametrize(
    "text",
    [
        "trained on CIFAR-10 and cifar10 and CIFAR 100 and Cifar_100",
        "a ResNet-9, two ResNets, resnet18, Wide-ResNet-28-10, the ResNet's head",
        "MNIST, Fashion-MNIST, the digits dataset, one Digit, sklearn load_digits",
        "ImageNet-1k and Tiny-ImageNet, SVHN, VGG16, DenseNet121",
        "https://paperswithcode.com/sota/image-classification-on-cifar-10",
        "cifar10_loader(ResNet9(width=64))",
    ],
)
def test_names_in_any_form_are_replaced(text):
    cleaned = Anonymizer()(text)
    assert not LEAKS.search(cleaned), cleaned
    assert DATASET_TOKEN in cleaned or MODEL_TOKEN in cleaned


def test_plain_words_and_numbers_survive():
    text = "vitamin C, resonance net, lr=0.05 on 128 images, label smoothing 0.1"
    assert Anonymizer()(text) == text


def test_datasets_and_models_get_their_own_token():
    assert Anonymizer()("ResNet-9 on CIFAR-10.") == f"{MODEL_TOKEN} on {DATASET_TOKEN}."


def test_extra_terms_are_whole_words_case_insensitive():
    sanitize = Anonymizer(extra_terms=["synthetic"])
    assert sanitize("Synthetic data; synthetics") == f"{DATASET_TOKEN} data; {DATASET_TOKEN}"
    assert sanitize("photosynthetic") == "photosynthetic"


def test_disabled_sanitizer_changes_nothing():
    assert Anonymizer(enabled=False)("ResNet-9 on CIFAR-10") == "ResNet-9 on CIFAR-10"
