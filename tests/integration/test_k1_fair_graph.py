"""The fair comparison end to end on a tiny run: every new method, matched parameters, the
specialization outputs, and no verdict from one seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.k1_runner import TINY, run_graph
from trainlab.runstore import read_json

FAIR = TINY.model_copy(
    update={"structure": True, "match_params": True, "steps_per_domain": 2, "phase2_after": 0,
            "baselines": ("dense", "moe", "replay", "packnet", "progressive", "k1_replay")}
)  # fmt: skip


@pytest.mark.slow
def test_fair_comparison_writes_every_method_and_the_specialization(tmp_path: Path) -> None:
    out = run_graph(FAIR, tmp_path / "k1")
    results = read_json(Path(out["report"]["results_json"]))
    assert set(results["summary"]) == {"k1", "k1_structure", "k1_agents", *FAIR.baselines}
    assert set(results["param_gap"]) == set(results["summary"])
    assert results["goal"]["met"] is None
    assert "not enough seeds for a verdict" in results["goal"]["note"]
    assert {"k1_structure", "k1_replay"} <= set(results["goal"]["variants"])
    for method in ("k1_agents", "k1_structure", "moe", "k1_replay"):
        assert Path(out["report"][f"specialization_{method}"]).is_file()
    assert Path(out["report"]["specialization_index"]).is_file()
    assert Path(out["report"]["structure_events_k1_replay"]).is_file()
    md = Path(out["report"]["results_md"]).read_text()
    assert "### What the agents learned" in md and "| progressive |" in md
