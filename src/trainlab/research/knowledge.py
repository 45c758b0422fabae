"""A local knowledge base: curve flags → concrete hyperparameter remedies with references.

This is the researcher's offline policy and the fallback of every web-search provider.
"""

from __future__ import annotations

from trainlab.state import Remedy

SMITH_2017 = "L. N. Smith, Cyclical Learning Rates for Training Neural Networks, WACV 2017"
SMITH_2018 = (
    "L. N. Smith, A disciplined approach to neural network hyper-parameters, arXiv:1803.09820"
)
BENGIO_2012 = "Y. Bengio, Practical recommendations for gradient-based training, arXiv:1206.5533"
LOSHCHILOV_2019 = "I. Loshchilov & F. Hutter, Decoupled Weight Decay Regularization, ICLR 2019"
MULLER_2019 = "R. Müller, S. Kornblith & G. Hinton, When Does Label Smoothing Help?, NeurIPS 2019"
SMITH_LE_2018 = (
    "S. L. Smith et al., Don't Decay the Learning Rate, Increase the Batch Size, ICLR 2018"
)
GOYAL_2017 = "P. Goyal et al., Accurate, Large Minibatch SGD, arXiv:1706.02677"
WILSON_2017 = "A. Wilson et al., The Marginal Value of Adaptive Gradient Methods, NeurIPS 2017"
KINGMA_2015 = "D. P. Kingma & J. Ba, Adam: A Method for Stochastic Optimization, ICLR 2015"
KESKAR_2017 = "N. S. Keskar et al., On Large-Batch Training for Deep Learning, ICLR 2017"
PYTORCH_OOM = "PyTorch docs, CUDA semantics: memory management"
PASCANU_2013 = "R. Pascanu, T. Mikolov & Y. Bengio, On the difficulty of training RNNs, ICML 2013"
BROCK_2021 = "A. Brock et al., High-Performance Large-Scale Image Recognition Without Normalization"
GLOROT_2010 = "X. Glorot & Y. Bengio, Understanding the difficulty of training deep FNNs, 2010"
LU_2019 = "L. Lu et al., Dying ReLU and Initialization: Theory and Numerical Examples, 2019"


def _r(flag: str, action: str, changes: dict[str, str], reference: str) -> Remedy:
    return Remedy(flag=flag, action=action, changes=changes, reference=reference)


KNOWLEDGE_BASE: dict[str, list[Remedy]] = {
    "diverged": [
        _r("diverged", "cut the learning rate by 10×", {"learning_rate": "*0.1"}, BENGIO_2012),
        _r(
            "diverged",
            "switch to Adam at a 10× lower learning rate",
            {"optimizer": "=adam", "learning_rate": "*0.1"},
            KINGMA_2015,
        ),
    ],
    "lr_too_high": [
        _r("lr_too_high", "lower the learning rate 3×", {"learning_rate": "*0.33"}, SMITH_2017),
        _r(
            "lr_too_high",
            "double the batch (less gradient noise)",
            {"train_batch_size": "*2"},
            SMITH_LE_2018,
        ),
    ],
    "lr_too_low": [
        _r("lr_too_low", "raise the learning rate 3×", {"learning_rate": "*3"}, SMITH_2018),
        _r(
            "lr_too_low",
            "halve the batch (twice the updates per epoch)",
            {"train_batch_size": "*0.5"},
            SMITH_LE_2018,
        ),
        _r(
            "lr_too_low",
            "switch to Adam for faster early progress",
            {"optimizer": "=adam"},
            KINGMA_2015,
        ),
    ],
    "overfitting": [
        _r("overfitting", "triple weight decay", {"weight_decay": "*3"}, LOSHCHILOV_2019),
        _r("overfitting", "add label smoothing", {"label_smoothing": "+0.05"}, MULLER_2019),
        _r(
            "overfitting",
            "halve the batch (flatter minima)",
            {"train_batch_size": "*0.5"},
            KESKAR_2017,
        ),
    ],
    "underfitting": [
        _r("underfitting", "weaken weight decay 3×", {"weight_decay": "*0.33"}, SMITH_2018),
        _r("underfitting", "raise the learning rate 2×", {"learning_rate": "*2"}, SMITH_2018),
        _r("underfitting", "reduce label smoothing", {"label_smoothing": "+-0.05"}, MULLER_2019),
    ],
    "still_improving": [
        _r(
            "still_improving",
            "halve the batch (twice the updates in the same epochs)",
            {"train_batch_size": "*0.5"},
            SMITH_LE_2018,
        ),
        _r("still_improving", "raise the learning rate 2×", {"learning_rate": "*2"}, SMITH_2018),
    ],
    "plateau": [
        _r(
            "plateau",
            "halve the batch (more updates per epoch, more gradient noise)",
            {"train_batch_size": "*0.5"},
            SMITH_LE_2018,
        ),
        _r("plateau", "halve the learning rate", {"learning_rate": "*0.5"}, SMITH_2017),
    ],
    "unstable": [
        _r(
            "unstable",
            "double the batch and scale the learning rate linearly",
            {"train_batch_size": "*2", "learning_rate": "*2"},
            GOYAL_2017,
        ),
        _r("unstable", "halve the learning rate", {"learning_rate": "*0.5"}, SMITH_2017),
    ],
    # Gradient flags (tools/gradients.py). Structural remedies (clipping, AGC, warmup) are not
    # hyperparameters of the space: the action names them, the change is what the space allows.
    "exploding_gradients": [
        _r(
            "exploding_gradients",
            "cut the learning rate 10× (and clip gradients)",
            {"learning_rate": "*0.1"},
            PASCANU_2013,
        ),
        _r(
            "exploding_gradients",
            "adaptive gradient clipping (component `agc`); in the space: Adam at a 3× lower lr",
            {"optimizer": "=adam", "learning_rate": "*0.33"},
            BROCK_2021,
        ),
        _r(
            "exploding_gradients",
            "warm up: the cosine schedule's linear warmup at a 3× lower peak lr",
            {"learning_rate": "*0.33"},
            GOYAL_2017,
        ),
    ],
    "vanishing_gradients": [
        _r(
            "vanishing_gradients",
            "switch to Adam: per-parameter steps rescale small gradients",
            {"optimizer": "=adam"},
            KINGMA_2015,
        ),
        _r(
            "vanishing_gradients",
            "raise the learning rate 3× (early layers barely move)",
            {"learning_rate": "*3"},
            GLOROT_2010,
        ),
    ],
    "dead_layers": [
        _r(
            "dead_layers",
            "lower the learning rate 3× (large steps push ReLUs dead)",
            {"learning_rate": "*0.33"},
            LU_2019,
        ),
        _r(
            "dead_layers",
            "weaken weight decay 3× (it shrinks idle weights to zero)",
            {"weight_decay": "*0.33"},
            LOSHCHILOV_2019,
        ),
    ],
    "failed": [
        _r("failed", "halve the batch size", {"train_batch_size": "*0.5"}, PYTORCH_OOM),
    ],
    "healthy": [
        _r(
            "healthy",
            "try SGD with Nesterov momentum, often better-generalizing than Adam",
            {"optimizer": "=sgd"},
            WILSON_2017,
        ),
    ],
}


def remedies_for(flags: list[str]) -> list[Remedy]:
    """Every remedy for the given flags: most severe flag first, alternatives in order."""
    return [remedy for flag in flags for remedy in KNOWLEDGE_BASE.get(flag, [])]
