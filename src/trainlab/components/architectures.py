"""Architectural building blocks: growth, sparse experts, pondering, generated weights, scales.

Blocks that carry an auxiliary objective (MoE balance, ACT ponder cost) add its gradient
through `attach_auxiliary_loss`, so any training loop that only back-propagates the task loss
trains them correctly; the last auxiliary value is kept on the module for inspection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class _AttachLoss(torch.autograd.Function):
    """Identity on `output`; in backward, `aux` receives gradient 1 (as if added to the loss)."""

    @staticmethod
    def forward(ctx, output: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        ctx.aux_shape, ctx.aux_dtype = aux.shape, aux.dtype
        return output.view_as(output)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ones = torch.ones(ctx.aux_shape, dtype=ctx.aux_dtype, device=grad_output.device)
        return grad_output, ones


def attach_auxiliary_loss(output: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
    """`output`, unchanged, carrying `aux` (a scalar) into the backward pass of any loss of it.

    Note: with fp16 loss scaling the auxiliary gradient is not scaled with the loss.
    """
    if not aux.requires_grad:
        return output
    return _AttachLoss.apply(output, aux)


class FeedForward(nn.Sequential):
    """Pre-norm two-layer MLP: LayerNorm → Linear(d, h) → GELU → Linear(h, d)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(
            nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
        )


class DynamicDepthNetwork(nn.Module):
    """A residual stack that starts shallow and activates more blocks as training goes on.

    Idea: block l computes x + g_l·f_l(x) with a learned scalar gate g_l. A block is grown
    with g_l = 0, so growth never changes the function the network computes (training resumes
    from the same loss), and the gate then learns how much of the new block to use. Inactive
    blocks are skipped entirely, so early training is cheaper. With `grow_every` > 0 the
    network grows itself every that many training forward passes.
    References: Chen, Goodfellow, Shlens, "Net2Net: Accelerating Learning via Knowledge
    Transfer", ICLR 2016 (function-preserving growth); Bachlechner et al., "ReZero is All You
    Need", arXiv:2003.04887 (zero-initialised residual gates).
    Costs: memory all max_depth blocks are allocated up front (the optimizer sees them from
    the start); time grows from initial_depth to max_depth blocks per forward pass.
    """

    def __init__(
        self,
        dim: int,
        max_depth: int = 4,
        initial_depth: int = 1,
        grow_every: int = 0,
        hidden: int | None = None,
    ) -> None:
        super().__init__()
        if not 1 <= initial_depth <= max_depth or grow_every < 0:
            raise ValueError("need 1 <= initial_depth <= max_depth and grow_every >= 0")
        self.blocks = nn.ModuleList(FeedForward(dim, hidden or 2 * dim) for _ in range(max_depth))
        gates = torch.zeros(max_depth)
        gates[:initial_depth] = 1.0
        self.gates = nn.Parameter(gates)
        self.grow_every = grow_every
        self.register_buffer("depth", torch.tensor(initial_depth))
        self.register_buffer("forward_steps", torch.tensor(0))

    @property
    def max_depth(self) -> int:
        return len(self.blocks)

    @torch.no_grad()
    def grow(self) -> bool:
        """Activate the next block with a zero gate; False when already at max depth."""
        depth = int(self.depth)
        if depth >= self.max_depth:
            return False
        self.gates[depth] = 0.0
        self.depth += 1
        return True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.grow_every and torch.is_grad_enabled():
            self.forward_steps += 1
            if int(self.forward_steps) % self.grow_every == 0:
                self.grow()
        for block, gate in zip(self.blocks[: int(self.depth)], self.gates, strict=False):
            x = x + gate * block(x)
        return x


def load_balancing_loss(
    probs: torch.Tensor, chosen: torch.Tensor, num_experts: int
) -> torch.Tensor:
    """Switch/GShard balance loss E·Σ_i f_i·P_i (1 when routing is uniform).

    f_i is the share of routing slots sent to expert i (not differentiable), P_i the mean
    router probability of expert i (differentiable).
    """
    dispatch = F.one_hot(chosen, num_experts).float().sum(1).mean(0) / chosen.shape[1]
    return num_experts * (dispatch * probs.mean(0)).sum()


class MixtureOfExpertsLayer(nn.Module):
    """Sparse mixture of feed-forward experts with top-k routing and a load-balancing loss.

    Idea: a linear router picks the k most probable of E experts for each token; the output
    is the router-probability-weighted sum of those k experts (weights renormalised over the
    k), so capacity grows with E while the compute per token grows only with k. An auxiliary
    loss `balance_weight`·E·Σ f_i P_i keeps the experts evenly used.
    References: Shazeer et al., "Outrageously Large Neural Networks: The Sparsely-Gated
    Mixture-of-Experts Layer", ICLR 2017; Lepikhin et al., "GShard", arXiv:2006.16668;
    Fedus, Zoph, Shazeer, "Switch Transformers", JMLR 2022 (arXiv:2101.03961).
    Costs: memory E experts' parameters; time k/E of a dense layer of equal parameter count
    per token, plus routing and gather/scatter overhead (large on CPU for small batches).
    """

    def __init__(
        self,
        dim: int,
        num_experts: int = 4,
        top_k: int = 2,
        hidden: int | None = None,
        balance_weight: float = 0.01,
    ) -> None:
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError("need 1 <= top_k <= num_experts")
        self.router = nn.Linear(dim, num_experts, bias=False)
        self.experts = nn.ModuleList(
            FeedForward(dim, hidden or 2 * dim) for _ in range(num_experts)
        )
        self.top_k, self.balance_weight = top_k, balance_weight
        self.balance_loss = torch.zeros(())

    def route(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities [N, E], chosen experts [N, k] and their mixing weights [N, k]."""
        probs = self.router(tokens).softmax(-1)
        top_p, chosen = probs.topk(self.top_k, dim=-1)
        return probs, chosen, top_p / top_p.sum(-1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.reshape(-1, x.shape[-1])
        probs, chosen, weights = self.route(tokens)
        out = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            rows, slot = (chosen == e).nonzero(as_tuple=True)
            if len(rows):
                out.index_add_(0, rows, expert(tokens[rows]) * weights[rows, slot, None])
        self.balance_loss = load_balancing_loss(probs, chosen, len(self.experts))
        out = out.view_as(x)
        if self.training:
            out = attach_auxiliary_loss(out, self.balance_weight * self.balance_loss)
        return out


class AdaptiveComputationTime(nn.Module):
    """A recurrent cell that ponders each input for a learned, input-dependent number of steps.

    Idea: after each step n a halting unit emits h_n = σ(w·s_n + b); the input stops at the
    first N with Σ_{n≤N} h_n ≥ 1 − ε (or at max_steps). The output is Σ p_n s_n with
    p_n = h_n for n < N and the remainder R = 1 − Σ_{n<N} h_n at N. The ponder cost N + R,
    weighted by `ponder_weight`, is added to the loss so the network learns to stop early
    where it can (its gradient flows through R).
    Reference: Graves, "Adaptive Computation Time for Recurrent Neural Networks",
    arXiv:1603.08983 (2016).
    Costs: memory and time up to max_steps cell applications per input (the batch runs until
    its slowest element halts).
    """

    def __init__(
        self,
        dim: int,
        max_steps: int = 8,
        epsilon: float = 0.01,
        ponder_weight: float = 0.01,
        halt_bias: float = 1.0,
    ) -> None:
        super().__init__()
        if max_steps < 1 or not 0.0 < epsilon < 1.0:
            raise ValueError("need max_steps >= 1 and 0 < epsilon < 1")
        self.cell = nn.GRUCell(dim + 1, dim)
        self.halt = nn.Linear(dim, 1)
        nn.init.constant_(self.halt.bias, halt_bias)  # Graves: a positive bias starts short
        self.max_steps, self.epsilon, self.ponder_weight = max_steps, epsilon, ponder_weight
        self.ponder_cost = torch.zeros(())
        self.steps = torch.zeros(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        state, output = x, torch.zeros_like(x)
        cumulative = x.new_zeros(n)
        remainder = x.new_zeros(n)
        steps = x.new_zeros(n)
        running = torch.ones(n, dtype=torch.bool, device=x.device)
        for step in range(self.max_steps):
            flag = x.new_full((n, 1), float(step == 0))
            state = self.cell(torch.cat([x, flag], dim=-1), state)
            h = torch.sigmoid(self.halt(state)).squeeze(-1)
            last = step == self.max_steps - 1
            halts = running & ((cumulative + h >= 1 - self.epsilon) | last)
            p = torch.where(halts, 1 - cumulative, h) * running
            output = output + p[:, None] * state
            steps = steps + running
            remainder = torch.where(halts, 1 - cumulative, remainder)
            cumulative = cumulative + torch.where(running & ~halts, h, torch.zeros_like(h))
            running = running & ~halts
            if not running.any():
                break
        self.steps = steps.detach()
        self.ponder_cost = (steps + remainder).mean()
        if self.training:
            output = attach_auxiliary_loss(output, self.ponder_weight * self.ponder_cost)
        return output


class HyperNetwork(nn.Module):
    """A linear layer whose weights are generated, row by row, from a task embedding.

    Idea: a small shared generator maps (row embedding + task embedding) to one row of the
    weight matrix and its bias, so a task's layer is a function of a few learned numbers:
    switching task switches weights, and the layer has fewer free parameters than the
    matrix it produces (chunked generation). `forward(x, task)` takes one task id for the
    batch or one per row. The generator's output layer is scaled at init so generated
    weights start with the variance of a standard Linear layer.
    References: Ha, Dai, Le, "HyperNetworks", ICLR 2017 (arXiv:1609.09106); von Oswald et al.,
    "Continual learning with hypernetworks", ICLR 2020 (arXiv:1906.00695).
    Costs: memory out·e + tasks·e + e·h + h·(in + 1) parameters vs out·(in + 1) for Linear;
    time one generator pass per forward (all rows of every task used) plus the matmul.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_tasks: int = 1,
        embed_dim: int = 8,
        hidden: int = 32,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.row_embeddings = nn.Parameter(torch.randn(out_features, embed_dim))
        self.task_embeddings = nn.Embedding(num_tasks, embed_dim)
        self.generator = nn.Sequential(
            nn.Linear(embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, in_features + 1)
        )
        self._calibrate()

    @torch.no_grad()
    def _calibrate(self) -> None:
        self.generator[-1].bias.zero_()
        weight = self.weights(torch.arange(self.task_embeddings.num_embeddings))[0]
        target = 1.0 / math.sqrt(3 * self.in_features)  # std of nn.Linear's default init
        self.generator[-1].weight.mul_(target / weight.std().clamp(min=1e-8))

    def weights(self, tasks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated weights [T, out, in] and biases [T, out] for task ids [T]."""
        z = self.row_embeddings[None] + self.task_embeddings(tasks)[:, None]
        rows = self.generator(z)
        return rows[..., :-1], rows[..., -1]

    def forward(self, x: torch.Tensor, task: int | torch.Tensor = 0) -> torch.Tensor:
        if isinstance(task, int):
            weight, bias = self.weights(torch.tensor([task], device=x.device))
            return F.linear(x, weight[0], bias[0])
        unique, index = task.unique(return_inverse=True)
        weight, bias = self.weights(unique)
        return torch.einsum("ni,noi->no", x, weight[index]) + bias[index]


class MultiScaleAttention(nn.Module):
    """Multi-head self-attention over keys and values pooled at several scales, fused.

    Idea: queries stay at full resolution; for each scale s the keys and values are averaged
    over windows of s tokens, so scale 1 sees local detail and coarse scales summarise the
    sequence at a fraction of the cost. The per-scale outputs are mixed with learned
    softmax weights.
    References: Wang et al., "Pyramid Vision Transformer" (spatial-reduction attention),
    ICCV 2021 (arXiv:2102.12122); Fan et al., "Multiscale Vision Transformers", ICCV 2021
    (arXiv:2104.11227).
    Costs: memory 4·D² parameters + one weight per scale; time O(T²·D·Σ_s 1/s) vs O(T²·D).
    """

    def __init__(self, dim: int, num_heads: int = 4, scales: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        if dim % num_heads or not scales or min(scales) < 1:
            raise ValueError("dim must divide into heads and scales must be positive")
        self.num_heads, self.scales = num_heads, tuple(scales)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.scale_logits = nn.Parameter(torch.zeros(len(self.scales)))

    def scale_weights(self) -> torch.Tensor:
        return self.scale_logits.softmax(0)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.num_heads, d // self.num_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = self._heads(q)
        mixed = torch.zeros_like(q)
        for scale, weight in zip(self.scales, self.scale_weights(), strict=True):
            ks, vs = pool_tokens(k, scale), pool_tokens(v, scale)
            mixed = mixed + weight * F.scaled_dot_product_attention(
                q, self._heads(ks), self._heads(vs)
            )
        return self.out(mixed.transpose(1, 2).flatten(2))


def pool_tokens(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Average [B, T, D] over windows of `scale` tokens (the last window may be shorter)."""
    if scale == 1:
        return x
    return F.avg_pool1d(x.transpose(1, 2), scale, scale, ceil_mode=True).transpose(1, 2)
