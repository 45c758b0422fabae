"""A small causal transformer LM whose parameters form named groups (the K-1 "agents").

Groups: `embed` (token + position embeddings), `attn.i` and `ffn.i` for each layer `i`
(each with its own pre-norm), and `head` (final norm + output projection): 2L + 2 groups,
10 at 4 layers. The output projection is not tied to the embedding so that the two are
separate groups.

Positions: learned embeddings (default) or rotary (`positions="rope"`, Su et al. 2021: query
and key of every head rotated by position-dependent angles, base 10000; no position table).
`KVCache` keeps each layer's keys and values during sampling, so a new token costs one
position instead of the whole window (`sample(..., use_cache=True)`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.k1.configs import ModelConfig


class KVCache:
    """Keys and values per layer, (batch, heads, time, head_dim), grown token by token."""

    def __init__(self, n_layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    def extend(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        old_k, old_v = self.keys[layer], self.values[layer]
        if old_k is not None and old_v is not None:
            k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


def rotary(x: torch.Tensor, offset: int) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i+half}) of (batch, heads, time, head_dim) by position angles."""
    half = x.shape[-1] // 2
    inv = 1.0 / (10000 ** (torch.arange(half, device=x.device).float() / max(1, half)))
    pos = torch.arange(offset, offset + x.shape[2], device=x.device).float()
    angle = torch.outer(pos, inv)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    a, b, rest = x[..., :half], x[..., half : 2 * half], x[..., 2 * half :]
    return torch.cat([a * cos - b * sin, a * sin + b * cos, rest], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.rope = cfg.positions == "rope"
        self.norm = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, offset: int = 0
    ) -> torch.Tensor:
        """`offset`: position of x's first token; with a cache, x follows the cached ones
        (one token at a time after the first call)."""
        b, t, d = x.shape
        qkv = self.qkv(self.norm(x)).view(b, t, 3, self.n_heads, d // self.n_heads)
        q, k, v = (part.transpose(1, 2) for part in qkv.unbind(2))
        if self.rope:
            q, k = rotary(q, offset), rotary(k, offset)
        if cache is not None:
            k, v = cache.extend(layer, k, v)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=k.shape[2] == t)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.d_model)
        self.up = nn.Linear(cfg.d_model, cfg.d_ff)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(self.norm(x))))


class Embedding(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.seq_len, cfg.d_model) if cfg.positions == "learned" else None

    def forward(self, idx: torch.Tensor, offset: int = 0) -> torch.Tensor:
        if self.pos is None:
            return self.tok(idx)
        positions = torch.arange(offset, offset + idx.shape[1], device=idx.device)
        return self.tok(idx) + self.pos(positions)


class Head(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(x))


class ModularLM(nn.Module):
    """Pre-norm residual transformer: x += attn_i(x); x += ffn_i(x)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.groups = nn.ModuleDict({"embed": Embedding(cfg)})
        for i in range(cfg.n_layers):
            self.groups[f"attn_{i}"] = Attention(cfg)
            self.groups[f"ffn_{i}"] = FeedForward(cfg)
        self.groups["head"] = Head(cfg)
        self.apply(_init_weights)

    @property
    def group_names(self) -> list[str]:
        return list(self.groups.keys())

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        offset = cache.length if cache is not None else 0
        x = self.groups["embed"](idx, offset)
        for i in range(self.cfg.n_layers):
            x = x + self.groups[f"attn_{i}"](x, cache, i, offset)
            x = x + self.groups[f"ffn_{i}"](x)
        return self.groups["head"](x)

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy on windows of seq_len + 1 tokens."""
        logits = self(batch[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 0.8,
    top_k: int = 40,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Autoregressive sampling from a 1-D prompt; returns prompt + new tokens. Temperature
    <= 0 is greedy. The cache serves while the text fits the window; once it slides, each
    step recomputes the window, exactly as without the cache."""
    model.eval()
    idx = prompt.unsqueeze(0)
    window = model.cfg.seq_len
    cache: KVCache | None = None
    for _ in range(max_new_tokens):
        if use_cache and idx.shape[1] <= window:
            cache = cache or KVCache(model.cfg.n_layers)
            logits = model(idx[:, cache.length :], cache)[:, -1, :]
        else:
            logits = model(idx[:, -window:])[:, -1, :]
        idx = torch.cat([idx, _pick(logits, temperature, top_k, generator)], dim=1)
    return idx[0]


def _pick(
    logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None
) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1, keepdim=True)
    logits = logits / temperature
    kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
    probs = F.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)
    return torch.multinomial(probs, 1, generator=generator)
