"""All four collaboration patterns with the real ChatOpenAI client against a loopback
OpenAI-compatible server (the HTTP plumbing of test_llm_lab.py, answering the proposal team's
schemas). A bad experiment design is retried with the error shown; code in an answer is never
executed; the model's experiment runs only as a validated, budget-capped ExperimentConfig."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_llm_lab import _schema_name, completion, serve  # the loopback server's plumbing

from trainlab.graphs.proposal import ORDER, build_proposal_graph
from trainlab.proposals.agents import build_team
from trainlab.proposals.schema import ResearchProposal

KEY = "sk-loopback-proposals-0123456789"
MODEL = "model-proposal"
PWNED = "PWNED_BY_LLM_CODE"
ANSWERS: dict[str, dict[str, Any]] = {
    "AlgorithmsOut": {
        "title": "Lookahead against AdamW for small CNNs",
        "summary": "Wrap AdamW in Lookahead so the slow weights damp the fast ones' noise.",
        "benefits": ["Hypothesis: lower seed-to-seed variance of test accuracy"],
        "related_work": ["Zhang et al., NeurIPS 2019", "Loshchilov & Hutter, ICLR 2019"],
        "novelty": "Measured on this lab's data with paired seeds.",
        "reasoning": "Noise in late training hurts small networks; averaging reduces it.",
        "assumptions": ["The registry rate suits both arms"],
        "components": ["lookahead"],
    },
    "SystemsOut": {
        "scalability": "One extra copy of the weights: 0.4 TB more at 100B parameters in fp32; "
        "trillion-token runs pay about the same per step.",
        "constraints": ["GPU memory: 4 more bytes per parameter"],
    },
    "EngineeringOut": {
        "implementation": "Use registry name lookahead.\n```python\nimport pathlib\n"
        f"pathlib.Path('{PWNED}').touch()\n```"
    },
    "PipelineOut": {
        "plan": "Paired seeds, lookahead against adamw.",
        "metric": "test_acc",
        "success_criterion": "test_acc better at alpha 0.05",
        "experiment": {"optimizer": "lookahead", "seeds": 5, "epochs": 9},
        "safety": "Diverged runs are recorded.",
    },
    "ArchitectureOut": {"risks": ["No architectural prior changes; implicit bias does."]},
    "CritiqueOut": {"points": ["systems: quantify the communication cost"]},
    "AnswerOut": {"answer": "LAMB needs a norm per tensor: one all-reduce each under FSDP."},
}
BAD_DESIGN = {
    **ANSWERS["PipelineOut"],
    "experiment": {"optimizer": "adamz", "seeds": 2, "epochs": 1},
}


@dataclass
class ProposalLLM:
    """Answers each schema; `bad_design` makes the first Training Pipeline answer invalid."""

    bad_design: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    def chat(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict]:
        self.requests.append(body)
        if headers["authorization"] != f"Bearer {KEY}":
            return 401, {"error": {"message": "unknown key"}}
        schema = _schema_name(body)
        data = ANSWERS[schema]
        if schema == "PipelineOut" and self.bad_design:
            data, self.bad_design = BAD_DESIGN, False
        return 200, completion(body["model"], json.dumps(data), None)

    def ground(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict]:
        return 404, {"error": {"message": "not used"}}

    def schemas(self) -> list[str]:
        return [_schema_name(body) for body in self.requests]

    def humans(self, schema: str) -> list[str]:
        return [
            m["content"]
            for body in self.requests
            if _schema_name(body) == schema
            for m in body["messages"]
            if m["role"] == "user"
        ]


@pytest.fixture
def llm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ProposalLLM, dict]]:
    fake = ProposalLLM()
    server = serve(fake)
    monkeypatch.chdir(tmp_path)  # where LLM code would have written its file
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1",
        "TRAINLAB_LLM_MAX_RETRIES": "0",
        "TRAINLAB_LLM_TIMEOUT": "20",
    }
    yield fake, env
    server.shutdown()


def run(env: dict, tmp_path: Path, **request: Any) -> dict:
    team = build_team(model=MODEL, run_dir=lambda: tmp_path, env=env)
    compiled, _ = build_proposal_graph(team)
    fields = {"topic": "stable training of small CNNs", "out_dir": str(tmp_path), **request}
    return compiled.invoke({"proposal_request": fields}, {"recursion_limit": 50})


def flow(out: dict) -> list[tuple[str, int, str]]:
    return [(m["speaker"], m["round"], m["policy"]) for m in out["proposal_messages"]]


def saved(out: dict) -> ResearchProposal:
    path = Path(out["research_proposals"][0]["json_path"])
    return ResearchProposal.model_validate_json(path.read_text())


def test_sequential_with_the_llm_each_sees_the_previous_sections(llm, tmp_path) -> None:
    fake, env = llm
    out = run(env, tmp_path, pattern="sequential")
    assert flow(out) == [(key, 1, f"llm:{MODEL}") for key in ORDER]
    assert fake.schemas() == ["AlgorithmsOut", "SystemsOut", "EngineeringOut", "PipelineOut",
                              "ArchitectureOut"]  # fmt: skip
    (systems_prompt,) = fake.humans("SystemsOut")
    assert "Wrap AdamW in Lookahead" in systems_prompt  # the algorithms agent's concept
    proposal = saved(out)
    assert proposal.title == ANSWERS["AlgorithmsOut"]["title"]
    assert proposal.validation.experiment.optimizer == "lookahead"
    assert (proposal.validation.experiment.seeds, proposal.validation.experiment.epochs) == (3, 4)
    assert not (tmp_path / PWNED).exists() and PWNED in proposal.implementation


def test_parallel_with_the_llm_fans_out_on_an_empty_draft(llm, tmp_path) -> None:
    fake, env = llm
    out = run(env, tmp_path, pattern="parallel")
    assert sorted(flow(out)) == sorted((key, 1, f"llm:{MODEL}") for key in ORDER)
    prompts = [body["messages"][-1]["content"] for body in fake.requests]
    assert len(prompts) == 5 and all("(empty: nobody has written yet)" in p for p in prompts)
    assert saved(out).components == ["lookahead"]


def test_iterative_with_the_llm_feeds_the_critique_into_the_next_round(llm, tmp_path) -> None:
    fake, env = llm
    out = run(env, tmp_path, pattern="iterative", rounds=2)
    assert [(s, r) for s, r, _ in flow(out)] == [
        (who, r) for r in (1, 2) for who in (*ORDER, "critic")
    ]
    first, second = fake.humans("SystemsOut")
    assert "quantify the communication cost" not in first
    assert "quantify the communication cost" in second
    assert saved(out).review == ["systems: quantify the communication cost"]


def test_specialized_with_the_llm_asks_one_agent(llm, tmp_path) -> None:
    fake, env = llm
    out = run(env, tmp_path, pattern="specialized", agent="systems",
              question="How does LAMB scale?", name="ask-systems")  # fmt: skip
    assert flow(out) == [("systems", 1, f"llm:{MODEL}")] and fake.schemas() == ["AnswerOut"]
    assert "Systems Design" in fake.requests[0]["messages"][0]["content"]
    text = Path(out["research_proposals"][0]["markdown_path"]).read_text()
    assert ANSWERS["AnswerOut"]["answer"] in text


def test_a_bad_design_is_retried_and_the_validated_design_is_run(llm, tmp_path) -> None:
    fake, env = llm
    fake.bad_design = True
    budget = {"dataset": "synthetic", "data_dir": str(tmp_path / "data"), "device": "cpu",
              "seeds": 2, "epochs": 1, "width": 4}  # fmt: skip
    out = run(env, tmp_path, pattern="sequential", run_validation=True, budget=budget)
    assert fake.schemas().count("PipelineOut") == 2
    retry = fake.requests[fake.schemas().index("PipelineOut") + 1]["messages"][-1]["content"]
    assert "unknown optimizer 'adamz'" in retry
    proposal = saved(out)
    assert proposal.authors["validation"] == f"Training Pipeline (llm:{MODEL})"
    assert proposal.results.status == "measured"
    experiment = json.loads(Path(proposal.results.directory, "experiment.json").read_text())
    assert experiment["candidate"]["label"] == "resnet9 / lookahead / cross_entropy"
    assert len(experiment["candidate"]["records"]) == 2  # the model asked for 5 seeds
    lines = (tmp_path / "transcripts" / "round_1.jsonl").read_text().splitlines()
    pipeline = [json.loads(line) for line in lines if '"proposal:pipeline"' in line]
    assert len(pipeline[0]["exchanges"]) == 2 and KEY not in "".join(lines)


def test_prompts_name_neither_the_dataset_nor_the_network(llm, tmp_path) -> None:
    fake, env = llm
    run(env, tmp_path, pattern="sequential")
    texts = [m["content"] for body in fake.requests for m in body["messages"]]
    assert texts and not any(re.search(r"resnet|digits|cifar", t, re.I) for t in texts)
