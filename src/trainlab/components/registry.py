"""Every component by name: a factory plus what it is, where it comes from and what it costs.

The CLI (`python main.py components`), the experiment framework and the agents read this one
table. Factories by kind:

    optimizer:    build(params, hparams, ctx) -> torch.optim.Optimizer
    loss:         build(ctx) -> (logits, targets) -> scalar loss (a fresh object per run)
    architecture: build(num_classes, in_channels, ctx) -> nn.Module (an image classifier)

`baseline` names what a component is measured against; baselines themselves have none. An
architecture's baseline, "plain_mlp", is built to the candidate's parameter count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal

from trainlab.space import SGD_MOMENTUM, HParams

if TYPE_CHECKING:
    import torch
    from torch import nn


class _OnFirstUse:
    """A module of factories, imported when a component is first built: the table itself
    (names, costs, references) is read by `--help`, the agents and validation without torch."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(import_module(self._module), name)


cls = _OnFirstUse("trainlab.components.classifiers")
losses = _OnFirstUse("trainlab.components.losses")
optimizers = _OnFirstUse("trainlab.components.optimizers")
torch_nn = _OnFirstUse("torch.nn")
models = _OnFirstUse("trainlab.training.models")
optim = _OnFirstUse("trainlab.training.optim")

Kind = Literal["optimizer", "loss", "architecture"]
KINDS: tuple[Kind, ...] = ("optimizer", "loss", "architecture")


@dataclass(frozen=True)
class BuildContext:
    """What factories may need to know about the run they are built for."""

    num_classes: int = 10
    total_steps: int = 1000  # optimizer steps in the whole run
    steps_per_epoch: int = 100
    width: int = 16  # ResNet-9 width; the other architectures use 4·width features
    base_optimizer: str = "adamw"  # what optimizer wrappers wrap
    model: nn.Module | None = None  # the network being trained, when the optimizer is built


@dataclass(frozen=True)
class Component:
    name: str
    kind: Kind
    idea: str
    reference: str
    memory: str
    time: str
    build: Callable[..., Any]
    baseline: str | None = None  # None: this is a baseline
    expected: str = ""  # the seed's claim, to set beside the measurement
    # Optimizers: the learning rate it runs at unless told otherwise; wrappers use their base's.
    # Each is the best of a 3-4 point sweep by validation NLL (digits, ResNet-9 width 16,
    # 8 epochs, batch 64, seed 0).
    lr: float | None = None

    def metadata(self) -> dict[str, Any]:
        """Everything but the factory, as plain values (for agents and JSON)."""
        data = asdict(self)
        del data["build"]
        return data


class UnknownComponentError(ValueError):
    """A name that is not in the registry, or not of the kind asked for."""


def _base(params: list[nn.Parameter], hp: HParams, ctx: BuildContext) -> torch.optim.Optimizer:
    return get(ctx.base_optimizer, "optimizer").build(params, hp, ctx)


def _adamw(params: list[nn.Parameter], hp: HParams, ctx: BuildContext) -> torch.optim.Optimizer:
    return optim.build_optimizer("adam", params, lr=hp.learning_rate, weight_decay=hp.weight_decay)


def _sgd(params: list[nn.Parameter], hp: HParams, ctx: BuildContext) -> torch.optim.Optimizer:
    return optim.build_optimizer("sgd", params, lr=hp.learning_rate, weight_decay=hp.weight_decay)


def _som(params: list[nn.Parameter], hp: HParams, ctx: BuildContext) -> torch.optim.Optimizer:
    return optimizers.SecondOrderMomentum(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)


def _lamb(params: list[nn.Parameter], hp: HParams, ctx: BuildContext) -> torch.optim.Optimizer:
    return optimizers.LAMB(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)


def _swa(params: list[nn.Parameter], hp: HParams, ctx: BuildContext) -> torch.optim.Optimizer:
    """Average once per epoch over the last quarter of training; swap in after the last step."""
    start = max(1, round(0.75 * ctx.total_steps))
    return optimizers.StochasticWeightAveraging(
        _base(params, hp, ctx),
        start,
        every=ctx.steps_per_epoch,
        swap_at=ctx.total_steps,
        model=ctx.model,
    )


def _wrapping(wrapper: str) -> Callable:
    """The factory of `optimizers.<wrapper>` around the base optimizer."""

    def build(params: list[nn.Parameter], hp: HParams, ctx: BuildContext) -> torch.optim.Optimizer:
        return getattr(optimizers, wrapper)(_base(params, hp, ctx))

    return build


def _plain_reference(num_classes: int, in_channels: int, ctx: BuildContext) -> nn.Module:
    """A plain MLP of hidden width 4·width (the experiments rebuild it to a matched size)."""
    return cls.plain_mlp(num_classes, in_channels, 4 * ctx.width)


OPTIMIZERS = (
    Component(
        "adamw",
        "optimizer",
        "Adam with decoupled weight decay (PyTorch's torch.optim.AdamW)",
        "Loshchilov & Hutter, ICLR 2019, arXiv:1711.05101",
        "2P",
        "1x",
        _adamw,
        lr=1e-2,
    ),
    Component(
        "sgd",
        "optimizer",
        f"SGD with Nesterov momentum {SGD_MOMENTUM} (PyTorch's torch.optim.SGD)",
        "Sutskever et al., ICML 2013",
        "1P",
        "<1x",
        _sgd,
        lr=1e-1,
    ),
    Component(
        "second_order_momentum",
        "optimizer",
        "diagonal quasi-Newton: momentum / |secant curvature|, clipped to ±lr per coordinate",
        "Ma (Apollo), arXiv:2009.13586; Liu et al. (Sophia), ICLR 2024",
        "4P",
        "~1x",
        _som,
        baseline="adamw",
        expected="15-25% faster convergence; +0.5-1% accuracy; memory O(3P) vs Adam's O(2P)",
        lr=3e-2,
    ),
    Component(
        "lookahead",
        "optimizer",
        "k fast steps, then slow weights move alpha toward them (wraps any optimizer)",
        "Zhang et al., NeurIPS 2019, arXiv:1907.08610",
        "base + P",
        "~1x",
        _wrapping("LookAhead"),
        baseline="adamw",
        expected="improved stability; reduced hyperparameter sensitivity",
    ),
    Component(
        "agc",
        "optimizer",
        "adaptive gradient clipping: unit-wise ‖G‖/‖W‖ ≤ λ, then any optimizer",
        "Brock et al. (NFNets), ICML 2021, arXiv:2102.06171",
        "base",
        "~1x",
        _wrapping("AdaptiveGradientClipping"),
        baseline="adamw",
        expected="prevents gradient explosion while preserving direction; beats global clipping",
    ),
    Component(
        "gradient_centralization",
        "optimizer",
        "subtract each weight gradient's per-unit mean, then any optimizer",
        "Yong et al., ECCV 2020, arXiv:2004.01461",
        "base",
        "~1x",
        _wrapping("GradientCentralization"),
        baseline="adamw",
        expected="improves generalization (seed 004)",
    ),
    Component(
        "swa",
        "optimizer",
        "average the last quarter's weights per epoch (torch.optim.swa_utils), swap in at end",
        "Izmailov et al., UAI 2018, arXiv:1803.05407",
        "base + P",
        "~1x",
        _swa,
        baseline="adamw",
        expected="flatter minima, better generalization",
    ),
    Component(
        "lamb",
        "optimizer",
        "Adam direction scaled per tensor by the trust ratio ‖w‖/‖r‖",
        "You et al., ICLR 2020, arXiv:1904.00962",
        "2P",
        "~1x",
        _lamb,
        baseline="adamw",
        expected="better for large-batch training (seed 004)",
        lr=3e-2,
    ),
)

LOSSES = (
    Component(
        "cross_entropy",
        "loss",
        "softmax cross-entropy",
        "-",
        "-",
        "1x",
        lambda ctx: torch_nn.CrossEntropyLoss(),
    ),
    Component(
        "mse",
        "loss",
        "mean squared error of softmax probabilities against one-hot targets",
        "Brier, Monthly Weather Review 1950",
        "-",
        "1x",
        lambda ctx: losses.OneHotRegression(torch_nn.MSELoss()),
    ),
    Component(
        "confidence_penalty",
        "loss",
        "CE − β·entropy(p): penalize over-confident outputs (β = 0.1)",
        "Pereyra et al., 2017, arXiv:1701.06548",
        "-",
        "~1x",
        lambda ctx: losses.ConfidencePenalizedCrossEntropy(0.1),
        baseline="cross_entropy",
        expected="20-30% lower ECE (better calibration)",
    ),
    Component(
        "focal",
        "loss",
        "−(1−p_t)^γ log p_t with sample-adaptive γ (5 if p_t < 0.2, else 3)",
        "Lin et al., ICCV 2017; Mukhoti et al., NeurIPS 2020",
        "-",
        "~1x",
        lambda ctx: losses.FocalLoss(adaptive=True),
        baseline="cross_entropy",
        expected="focus on hard examples; better minority-class performance",
    ),
    Component(
        "contrastive",
        "loss",
        "CE + 0.5·supervised InfoNCE over the batch (same class = positive)",
        "van den Oord et al., arXiv:1807.03748; Khosla et al., NeurIPS 2020",
        "O(N²) per batch",
        "~1x",
        lambda ctx: losses.ContrastiveCrossEntropy(0.5),
        baseline="cross_entropy",
        expected="reduced label dependence",
    ),
    Component(
        "curriculum",
        "loss",
        "self-paced CE: skip samples above a running loss threshold; all after half the run",
        "Kumar et al., NeurIPS 2010",
        "O(1)",
        "~1x",
        lambda ctx: losses.CurriculumLoss(pace_steps=max(1, ctx.total_steps // 2)),
        baseline="cross_entropy",
        expected="faster initial convergence",
    ),
    Component(
        "nce",
        "loss",
        "noise-contrastive estimation: target vs k uniform noise classes (k = num classes)",
        "Gutmann & Hyvärinen, AISTATS 2010; Mnih & Teh, ICML 2012",
        "O(k·D) via sampled()",
        "O(k) vs O(V)",
        lambda ctx: losses.NoiseContrastiveEstimation(ctx.num_classes, ctx.num_classes),
        baseline="cross_entropy",
        expected="O(k) instead of O(V) per example; scales to millions of classes",
    ),
    Component(
        "adaptive_wing",
        "loss",
        "adaptive wing regression loss on softmax vs one-hot (log near 0, linear past θ)",
        "Wang et al., ICCV 2019, arXiv:1904.07399",
        "-",
        "~1x",
        lambda ctx: losses.OneHotRegression(losses.AdaptiveWingLoss()),
        baseline="mse",
        expected="robust to outliers; better than L1/L2 for many tasks",
    ),
)

ARCHITECTURES = (
    Component(
        "resnet9",
        "architecture",
        "the trainer's ResNet-9 (the network optimizers and losses are measured on)",
        "Page, DAWNBench 2018",
        "-",
        "-",
        lambda n, c, ctx: models.ResNet9(n, c, width=ctx.width),
    ),
    Component(
        "plain_mlp",
        "architecture",
        "two-hidden-layer ReLU MLP on pooled pixels, sized to a parameter budget",
        "-",
        "-",
        "-",
        _plain_reference,
    ),
    Component(
        "dynamic_depth",
        "architecture",
        "residual stack grown from 1 to 4 gated blocks during training (gate 0 at growth)",
        "Chen et al. (Net2Net), ICLR 2016; Bachlechner et al. (ReZero), 2020",
        "all blocks allocated",
        "grows with depth",
        lambda n, c, ctx: cls.dynamic_depth_classifier(n, c, 4 * ctx.width, ctx.total_steps),
        baseline="plain_mlp",
        expected="better gradient flow early on",
    ),
    Component(
        "moe",
        "architecture",
        "4 feed-forward experts, top-2 routing, Switch load-balancing loss",
        "Shazeer et al., ICLR 2017; Fedus et al. (Switch), JMLR 2022",
        "E experts",
        "k/E of dense FLOPs + routing",
        lambda n, c, ctx: cls.moe_classifier(n, c, 4 * ctx.width),
        baseline="plain_mlp",
        expected="scalable capacity increase",
    ),
    Component(
        "act",
        "architecture",
        "GRU cell pondering up to 6 steps with learned halting and ponder cost",
        "Graves, arXiv:1603.08983 (2016)",
        "steps × activations",
        "up to max_steps cells",
        lambda n, c, ctx: cls.act_classifier(n, c, 4 * ctx.width),
        baseline="plain_mlp",
        expected="easy inputs use fewer steps (efficiency gains)",
    ),
    Component(
        "hypernetwork",
        "architecture",
        "residual MLP block whose weights are generated from task and row embeddings",
        "Ha et al., ICLR 2017; von Oswald et al., ICLR 2020",
        "fewer params than the layer",
        "generator pass + matmul",
        lambda n, c, ctx: cls.hypernetwork_classifier(n, c, 4 * ctx.width),
        baseline="plain_mlp",
        expected="parameter efficiency; fast task adaptation",
    ),
    Component(
        "multiscale_attention",
        "architecture",
        "patch tokens; attention to keys/values pooled at scales 1, 2, 4, learned fusion",
        "Wang et al. (PVT), ICCV 2021; Fan et al. (MViT), ICCV 2021",
        "4·D² params",
        "O(T²·D·Σ 1/s)",
        lambda n, c, ctx: cls.multiscale_classifier(n, c, 4 * ctx.width),
        baseline="plain_mlp",
        expected="captures local and global patterns",
    ),
)

REGISTRY: dict[str, Component] = {c.name: c for c in (*OPTIMIZERS, *LOSSES, *ARCHITECTURES)}


def names(kind: Kind | None = None) -> list[str]:
    return [c.name for c in REGISTRY.values() if kind is None or c.kind == kind]


def get(name: str, kind: Kind | None = None) -> Component:
    """The component called `name` (of `kind`, when given), or UnknownComponentError."""
    component = REGISTRY.get(name)
    if component is None or (kind is not None and component.kind != kind):
        what = kind or "component"
        raise UnknownComponentError(
            f"unknown {what} {name!r} (choose from: {', '.join(names(kind))})"
        )
    return component


def describe(kind: Kind | None = None) -> list[dict[str, Any]]:
    """Metadata of every component (of `kind`), for agents, prompts and JSON."""
    return [c.metadata() for c in REGISTRY.values() if kind is None or c.kind == kind]
