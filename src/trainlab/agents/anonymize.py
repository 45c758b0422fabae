"""The one sanitizer every model-bound text passes through: no dataset or model names.

Distinctive names (CIFAR, ResNet, ImageNet, …) are matched anywhere, so `cifar10_loader`,
`on-CIFAR-10` and `ResNet9s` are caught; common words that are also names (digits, ViT, COCO,
Inception, …) only as whole words. Plurals and possessives go with the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SEP = r"[\s_-]?"
NUM = rf"(?:{SEP}(?:\d+|v\d))?"  # an optional version: -10, 18, _v2
# Matched anywhere: these strings do not occur inside ordinary words.
DISTINCT_DATASETS = (
    rf"cifar(?:{SEP}(?:100|10))?",
    rf"(?:fashion{SEP}|[kqe])?mnist",
    r"svhn",
    rf"(?:tiny{SEP})?imagenet(?:{SEP}(?:1k|21k|22k))?",
    rf"wikitext{NUM}",
    rf"caltech{NUM}",
)
DISTINCT_MODELS = (
    rf"(?:wide{SEP})?resnet{NUM}",
    rf"resnext{NUM}",
    rf"densenet{NUM}",
    rf"mobilenet{NUM}",
    rf"efficientnet(?:{SEP}b\d)?",
    rf"convnext{NUM}",
    r"alexnet",
    rf"wrn{NUM}(?:{SEP}\d+)?",
    rf"vgg{NUM}",
)
# Matched as whole words only: ordinary English or short tokens.
WORD_DATASETS = (r"digits?", r"coco", rf"stl{SEP}10", r"places365")
WORD_MODELS = (
    rf"le{SEP}net{NUM}",
    rf"res{SEP}net{NUM}",
    r"vit(?:-[bslh](?:/\d+)?)?",
    rf"inception{NUM}",
)
SUFFIX = r"(?:'s|’s|es|s)?"
DATASET_TOKEN = "[dataset]"
MODEL_TOKEN = "[model]"


def _pattern(distinct: Iterable[str], words: Iterable[str]) -> str:
    anywhere = "|".join(distinct)
    whole = "|".join(words)
    return rf"(?:{anywhere}){SUFFIX}|(?<![a-z0-9])(?:{whole}){SUFFIX}(?![a-z0-9])"


class Anonymizer:
    """`anonymizer(text)` replaces dataset names with `[dataset]`, model names with `[model]`.

    `extra_terms` (e.g. the configured dataset's own name) are replaced as whole words too.
    Disabled (`--no-anonymize`) it returns texts unchanged.
    """

    def __init__(self, enabled: bool = True, extra_terms: Iterable[str] = ()) -> None:
        self.enabled = enabled
        extra = tuple(re.escape(term) for term in extra_terms if term)
        self._datasets = re.compile(_pattern(DISTINCT_DATASETS, WORD_DATASETS + extra), re.I)
        self._models = re.compile(_pattern(DISTINCT_MODELS, WORD_MODELS), re.I)

    def __call__(self, text: str) -> str:
        if not self.enabled:
            return text
        return self._datasets.sub(DATASET_TOKEN, self._models.sub(MODEL_TOKEN, text))
