"""The grouped transformer: named groups, causal next-token loss, sampling."""

from __future__ import annotations

import torch

from trainlab.k1.model import ModelConfig, ModularLM, sample

CFG = ModelConfig(d_model=16, n_layers=4, n_heads=2, d_ff=32, seq_len=16)


def test_groups_are_embedding_attention_ffn_per_layer_and_head() -> None:
    model = ModularLM(CFG)
    expected = ["embed"] + [f"{k}_{i}" for i in range(4) for k in ("attn", "ffn")] + ["head"]
    assert model.group_names == expected
    grouped = sum(p.numel() for m in model.groups.values() for p in m.parameters())
    assert grouped == sum(p.numel() for p in model.parameters())


def test_model_is_causal_and_loss_starts_near_uniform() -> None:
    torch.manual_seed(0)
    model = ModularLM(CFG).eval()
    x = torch.randint(0, 256, (2, 16))
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 256
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :-1], model(y)[:, :-1])
        loss = float(model.loss(torch.randint(0, 256, (4, 17))))
    assert abs(loss - torch.log(torch.tensor(256.0)).item()) < 0.5


def test_sample_extends_prompt_deterministically() -> None:
    model = ModularLM(CFG)
    prompt = torch.tensor([100, 101, 102])
    a = sample(model, prompt, 20, generator=torch.Generator().manual_seed(0))
    b = sample(model, prompt, 20, generator=torch.Generator().manual_seed(0))
    assert len(a) == 23 and torch.equal(a[:3], prompt) and torch.equal(a, b)
