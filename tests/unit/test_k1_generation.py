"""The K-1 LM's rotary positions, KV-cache sampling and `k1 explain`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainlab.cli import main
from trainlab.k1.agents import AgentConfig, AgentLM
from trainlab.k1.continual import save_model
from trainlab.k1.model import ModelConfig, ModularLM, rotary, sample

ROPE = ModelConfig(d_model=16, n_layers=2, n_heads=2, d_ff=32, seq_len=12, positions="rope")
LEARNED = ModelConfig(d_model=16, n_layers=2, n_heads=2, d_ff=32, seq_len=12)
AGENTS = AgentConfig(managers=2, agents_per_manager=2, agent_hidden=8, top_managers=1)


def test_rotary_keeps_norms_and_makes_scores_depend_on_offset_only() -> None:
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    assert torch.allclose(rotary(q, 5).norm(), q.norm())
    score = lambda a, b: float((rotary(q, a) * rotary(k, b)).sum())  # noqa: E731
    assert score(3, 1) == pytest.approx(score(7, 5), abs=1e-5)
    assert ModularLM(ROPE).groups["embed"].pos is None


@pytest.mark.parametrize(
    "model", [ModularLM(ROPE), ModularLM(LEARNED), AgentLM(ROPE, AGENTS)], ids=str
)
def test_cached_and_uncached_sampling_give_the_same_tokens_at_temperature_0(model) -> None:
    torch.manual_seed(0)
    model.apply(lambda m: torch.nn.init.normal_(m.weight) if isinstance(m, torch.nn.Linear) else m)
    prompt = torch.tensor([5, 9, 200, 3])
    cached = sample(model, prompt, 14, temperature=0.0, use_cache=True)  # past the window
    plain = sample(model, prompt, 14, temperature=0.0, use_cache=False)
    assert torch.equal(cached, plain) and len(cached) == 18


def test_explain_lists_the_agents_of_every_token(tmp_path: Path, capsys) -> None:
    model = AgentLM(LEARNED, AGENTS)
    path = tmp_path / "after_0_code.pt"
    save_model(path, model, {"agent_0": 1.5})
    assert main(["k1", "explain", "--checkpoint", str(path), "--text", "ab"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].strip().startswith("'a'")
    assert "L0: agent" in lines[0] and "L1: agent" in lines[0]
    dense = tmp_path / "dense.pt"
    save_model(dense, ModularLM(LEARNED))
    assert main(["k1", "explain", "--checkpoint", str(dense), "--text", "ab"]) == 2
    assert "not a routed-agent model" in capsys.readouterr().err


@pytest.mark.parametrize("cache", ["--cache", "--no-cache"])
def test_generate_samples_the_same_greedy_text_with_and_without_the_cache(
    cache: str, tmp_path: Path, capsys
) -> None:
    torch.manual_seed(0)
    path = tmp_path / "after_0_code.pt"
    save_model(path, ModularLM(ROPE))
    argv = ["k1", "generate", "--checkpoint", str(path), "--prompt", "ab", "--temperature", "0"]
    assert main([*argv, "--max-new-tokens", "6", "--device", "cpu", cache]) == 0
    text = capsys.readouterr().out
    assert main([*argv, "--max-new-tokens", "6", "--device", "cpu"]) == 0
    assert capsys.readouterr().out == text and text.startswith("ab")
