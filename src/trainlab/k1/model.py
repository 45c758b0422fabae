"""A small causal transformer LM whose parameters form named groups (the K-1 "agents").

Groups: `embed` (token + position embeddings), `attn.i` and `ffn.i` for each layer `i`
(each with its own pre-norm), and `head` (final norm + output projection): 2L + 2 groups,
10 at 4 layers. The output projection is not tied to the embedding so that the two are
separate groups.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 256
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 512
    seq_len: int = 128

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.norm = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.n_heads, d // self.n_heads).unbind(2)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
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
        self.pos = nn.Embedding(cfg.seq_len, cfg.d_model)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))


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

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.groups["embed"](idx)
        for i in range(self.cfg.n_layers):
            x = x + self.groups[f"attn_{i}"](x)
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
    model: ModularLM,
    prompt: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 0.8,
    top_k: int = 40,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Autoregressive sampling from a 1-D prompt; returns prompt + new tokens."""
    model.eval()
    idx = prompt.unsqueeze(0)
    for _ in range(max_new_tokens):
        logits = model(idx[:, -model.cfg.seq_len :])[:, -1, :] / max(temperature, 1e-5)
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        probs = F.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)
        idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
    return idx[0]
