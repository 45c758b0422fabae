"""The LLM role policies with LangChain fake chat models: structured output, clamping, one
retry with the error shown, fallback to the offline policy (recorded), sanitized prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpMockSequence
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import Field

from trainlab import space
from trainlab.agents.anonymize import Anonymizer
from trainlab.agents.base import RoundView, Trial
from trainlab.agents.credentials import Redactor
from trainlab.agents.llm import RoleLLM
from trainlab.agents.offline import (
    ExpertConsultant,
    HeuristicAnalyst,
    KnowledgeBaseResearcher,
    TPEConsultant,
    TrackRecordSupervisor,
)
from trainlab.agents.roles import LLMAnalyst, LLMConsultant, LLMResearcher, LLMSupervisor
from trainlab.agents.transcripts import TranscriptSink
from trainlab.research.search import ATTEMPTS, CSESearch, SearchResult
from trainlab.space import HParams
from trainlab.state import Analysis, FinalConfig, Proposal, TrialSummary

SECRET = "sk-test-secret-123"
GOOD = {
    "optimizer": "adam", "learning_rate": 0.003, "train_batch_size": 64, "weight_decay": 1e-4,
    "label_smoothing": 0.05,
}  # fmt: skip
HP = HParams(**GOOD)


class ScriptedChat(GenericFakeChatModel):
    """Answers from a script and keeps every prompt. `bind_tools` makes the base class's
    `with_structured_output` (tool calling) work; `unsupported` methods are rejected like an
    endpoint without them would."""

    prompts: list[list[str]] = Field(default_factory=list)
    unsupported: set[str] = Field(default_factory=set)
    probes: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChat:
        return self

    def with_structured_output(self, schema: Any, *, method: str = "json_schema", **kwargs: Any):
        self.probes.append(method)
        if method in self.unsupported:
            raise NotImplementedError(method)
        return super().with_structured_output(schema, **kwargs)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.prompts.append([str(m.content) for m in messages])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def tool(name: str, **args: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "call-1"}])


def role_llm(replies: list, tmp_path: Path | None = None, **chat: Any) -> RoleLLM:
    fake = ScriptedChat(messages=iter(replies), **chat)
    sink = TranscriptSink(lambda: tmp_path, Redactor((SECRET,)))
    return RoleLLM("gen_a", "fake-model", fake, Anonymizer(), Redactor((SECRET,)), sink)


def make_trial(hp: HParams, acc: float, source: str = "consultant_a") -> Trial:
    final = FinalConfig(round=1, hparams=hp, source=source, justification="", policy="t")
    summary = TrialSummary(
        status="complete", best_val_acc=acc, requested_hparams=hp, effective_hparams=hp,
        val_and_test_same_dataset=True, seed=0, device="cpu", seconds=1.0, trial_dir="x",
        epochs_run=3,
    )  # fmt: skip
    return Trial(final, summary)


def consultant(llm: RoleLLM) -> LLMConsultant:
    return LLMConsultant("consultant_a", llm, TPEConsultant(0), TPEConsultant(0))


FIRST_ROUND = RoundView(1, (), None, None)


def test_the_model_that_answered_is_recorded_and_a_different_one_warned_once(tmp_path, caplog):
    routed = tool("ProposalOut", **GOOD, message="Adam.")
    routed.response_metadata = {"model_name": "other-model-001"}
    llm = role_llm([routed, routed.model_copy()], tmp_path)
    other = ExpertConsultant(0).propose(FIRST_ROUND, None)
    with caplog.at_level("WARNING", logger="trainlab.agents.llm"):
        consultant(llm).propose(FIRST_ROUND, other)
        consultant(llm).propose(FIRST_ROUND, other)
    lines = (tmp_path / "transcripts" / "round_1.jsonl").read_text().splitlines()
    for entry in map(json.loads, lines):
        assert entry["model"] == "fake-model" and entry["served_model"] == "other-model-001"
        assert entry["exchanges"][0]["served_model"] == "other-model-001"
    warned = [r.getMessage() for r in caplog.records]
    assert warned == ["gen_a: asked for model fake-model, other-model-001 answered"]


def test_consultant_answer_becomes_a_proposal_and_a_transcript(tmp_path):
    llm = role_llm([tool("ProposalOut", **GOOD, message="Adam is a safe start.")], tmp_path)
    other = ExpertConsultant(0).propose(FIRST_ROUND, None)
    proposal = consultant(llm).propose(FIRST_ROUND, other)
    assert proposal.hparams == HP and proposal.policy == "llm:fake-model"
    assert proposal.rationale == "Adam is a safe start." and proposal.warnings == []
    system, human = llm.chat.prompts[0]
    assert space.describe() in system
    assert "(no trials yet)" in human and "TPE" in human and "consultant_b last said" in human
    entry = json.loads((tmp_path / "transcripts" / "round_1.jsonl").read_text())
    assert entry["role"] == "gen_a" and entry["model"] == "fake-model"
    assert entry["policy"] == "llm:fake-model" and entry["fallback_reason"] is None
    assert entry["served_model"] is None  # the fake names no model: nothing is made up
    assert entry["exchanges"][0]["messages"][0]["content"] == system
    assert json.loads(entry["exchanges"][0]["response"])["learning_rate"] == 0.003


def test_an_adopted_optimizer_is_in_the_prompt_and_accepted_only_once_adopted():
    adopted = RoundView(1, (), None, None, adopted=("lookahead",))
    answer = tool("ProposalOut", **GOOD | {"optimizer": "lookahead"}, message="Wrap it.")
    llm = role_llm([answer])
    proposal = consultant(llm).propose(adopted, None)
    assert proposal.hparams.optimizer == "lookahead" and proposal.policy == "llm:fake-model"
    assert space.describe(adopted.optimizers) in llm.chat.prompts[0][0]
    refused = consultant(role_llm([answer] * 2)).propose(FIRST_ROUND, None)  # not adopted
    assert refused.policy.startswith("offline") and refused.hparams.optimizer != "lookahead"


def test_prompts_are_sanitized_even_when_the_other_side_names_the_model():
    llm = role_llm([tool("ProposalOut", **GOOD, message="ok")])
    other = ExpertConsultant(0).propose(FIRST_ROUND, None)
    assert "ResNet" in other.rationale  # the offline prior cites the ResNet recipe
    consultant(llm).propose(FIRST_ROUND, other)
    text = "\n".join(llm.chat.prompts[0])
    assert "ResNet" not in text and "[model]" in text


def test_out_of_range_values_are_clamped_with_a_recorded_warning():
    wild = {**GOOD, "learning_rate": 5.0, "train_batch_size": 100}
    proposal = consultant(role_llm([tool("ProposalOut", **wild, message="go big")])).propose(
        FIRST_ROUND, None
    )
    assert proposal.hparams.learning_rate == space.LEARNING_RATE[1]
    assert proposal.hparams.train_batch_size == 128
    assert any("clamped" in w for w in proposal.warnings) and proposal.policy == "llm:fake-model"


def test_a_placeholder_is_retried_with_the_error_shown_to_the_model():
    placeholder = {**GOOD, "optimizer": "<optimizer>"}
    llm = role_llm(
        [
            tool("ProposalOut", **placeholder, message="..."),
            tool("ProposalOut", **GOOD, message="fixed"),
        ]
    )
    proposal = consultant(llm).propose(FIRST_ROUND, None)
    assert proposal.policy == "llm:fake-model" and proposal.hparams == HP
    retry = llm.chat.prompts[1]
    assert "could not be used" in retry[-1] and "optimizer" in retry[-1]


@pytest.mark.parametrize(
    "bad",
    [
        {**GOOD, "learning_rate": "<float>"},
        {**GOOD, "learning_rate": 0.0},
        {**GOOD, "train_batch_size": 0},
    ],
)
def test_placeholders_twice_fall_back_to_the_offline_policy(bad):
    llm = role_llm([tool("ProposalOut", **bad, message="x")] * 2)
    proposal = consultant(llm).propose(FIRST_ROUND, None)
    offline = TPEConsultant(0).propose(FIRST_ROUND, None)
    assert proposal.hparams == offline.hparams
    assert proposal.policy.startswith("offline:tpe (fallback: InvalidAnswer: after a retry:")
    assert len(llm.chat.prompts) == 2


def api_error(cls: type[openai.APIStatusError], code: int, text: str) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://llm.test/chat/completions")
    return cls(text, response=httpx.Response(code, request=request), body=None)


def test_api_errors_fall_back_and_the_reason_never_shows_a_key(tmp_path):
    class Failing(ScriptedChat):
        def _generate(self, *args, **kwargs):
            raise api_error(openai.RateLimitError, 429, f"quota exceeded for key {SECRET}")

    sink = TranscriptSink(lambda: tmp_path, Redactor((SECRET,)))
    llm = RoleLLM("gen_a", "m", Failing(messages=iter([])), Anonymizer(), Redactor((SECRET,)), sink)
    proposal = consultant(llm).propose(FIRST_ROUND, None)
    assert proposal.policy.startswith("offline:tpe (fallback: RateLimitError")
    assert SECRET not in proposal.policy and "[redacted]" in proposal.policy
    assert SECRET not in (tmp_path / "transcripts" / "round_1.jsonl").read_text()


def test_an_endpoint_without_structured_output_gets_json_from_text():
    text_reply = "Sure:\n```json\n" + json.dumps({**GOOD, "message": "plain"}) + "\n```"
    llm = role_llm(
        [text_reply, json.dumps({**GOOD, "learning_rate": 0.004, "message": "again"})],
        unsupported={"json_schema", "function_calling"},
    )
    assert consultant(llm).propose(FIRST_ROUND, None).rationale == "plain"
    assert "JSON Schema" in llm.chat.prompts[0][-1]
    assert consultant(llm).propose(FIRST_ROUND, None).hparams.learning_rate == 0.004
    assert llm.chat.probes == ["json_schema", "function_calling"]  # remembered, not re-probed


def test_malformed_text_twice_falls_back():
    llm = role_llm(
        ["{'optimizer': adam,", "still not json"], unsupported={"json_schema", "function_calling"}
    )
    proposal = consultant(llm).propose(FIRST_ROUND, None)
    assert "not a JSON object" in proposal.policy and proposal.policy.startswith("offline:tpe")


def test_supervisor_rejects_an_already_trained_configuration():
    view = RoundView(2, (make_trial(HP, 0.8),), None, None)
    fresh = {**GOOD, "learning_rate": 0.01}
    llm = role_llm(
        [
            tool("FinalOut", **GOOD, source="consultant_a", justification="same again"),
            tool("FinalOut", **fresh, source="someone", justification="a new rate"),
        ]
    )
    proposals = [Proposal(round=2, author="consultant_a", hparams=HP, rationale="r", policy="p")]
    final = LLMSupervisor(llm, TrackRecordSupervisor(0), TPEConsultant(0)).finalize(view, proposals)
    assert final.hparams.learning_rate == 0.01 and final.source == "supervisor"
    assert "already trained" in llm.chat.prompts[1][-1]
    assert final.policy == "llm:fake-model"


def test_supervisor_placeholder_justification_falls_back_to_track_record():
    llm = role_llm([tool("FinalOut", **GOOD, source="consultant_a", justification="TBD")] * 2)
    proposals = [Proposal(round=1, author="consultant_a", hparams=HP, rationale="r", policy="p")]
    final = LLMSupervisor(llm, TrackRecordSupervisor(0), TPEConsultant(0)).finalize(
        FIRST_ROUND, proposals
    )
    assert final.policy.startswith("offline:track-record (fallback:")
    assert final.hparams == HP  # the offline supervisor picked the only proposal


def curve_rows() -> list[dict]:
    return [
        {"epoch": i + 1, "train_loss": 1.0 - 0.1 * i, "val_loss": 1.0 - 0.05 * i,
         "train_acc": 0.5 + 0.05 * i, "val_acc": 0.5 + 0.04 * i, "lr": 0.01}
        for i in range(4)
    ]  # fmt: skip


def summary_in(folder: Path) -> TrialSummary:
    return make_trial(HP, 0.62).summary.model_copy(update={"trial_dir": str(folder)})


def test_analyst_merges_known_flags_and_writes_its_reading(tmp_path):
    reply = tool(
        "AnalysisOut",
        reading="Validation accuracy is still rising; the rate looks low.",
        flags=["lr_too_low", "made_up_flag"],
        keywords=["warmup schedule"],
    )
    summary = summary_in(tmp_path)
    analysis = LLMAnalyst(role_llm([reply]), HeuristicAnalyst()).analyze(1, summary, curve_rows())
    heuristic = HeuristicAnalyst().analyze(1, summary, curve_rows())
    assert "lr_too_low" in analysis.flags and "made_up_flag" not in analysis.flags
    assert set(heuristic.flags) - {"healthy"} <= set(analysis.flags)
    assert "warmup schedule" in analysis.keywords
    assert analysis.policy == "offline:heuristics + llm:fake-model"
    assert "rate looks low" in (tmp_path / "analysis_llm.txt").read_text()


def test_analyst_failure_keeps_the_heuristics(tmp_path):
    reply = tool("AnalysisOut", reading="", flags=[], keywords=[])
    analysis = LLMAnalyst(role_llm([reply, reply]), HeuristicAnalyst()).analyze(
        1, summary_in(tmp_path), curve_rows()
    )
    assert analysis.policy.startswith("offline:heuristics (fallback:")
    assert not (tmp_path / "analysis_llm.txt").exists()


class FakeSearch:
    name = "fake"

    def __init__(self, results=None, error: Exception | None = None) -> None:
        self.results, self.error, self.queries = results or [], error, []

    def search(self, query: str) -> list[SearchResult]:
        self.queries.append(query)
        if self.error:
            raise self.error
        return self.results


RESULTS = [
    SearchResult("Tuning a ResNet", "https://a.org/resnet", "On CIFAR-10, triple weight decay."),
    SearchResult("Smoothing", "https://b.org/ls", "Label smoothing 0.1 helps."),
]
OVERFIT = Analysis(
    round=2, flags=["overfitting"], features={}, keywords=["overfitting regularization"],
    summary="gap grows", policy="offline:heuristics",
)  # fmt: skip


def remedy(source: int, **changes: str) -> dict:
    edits = [{"param": k, "edit": v} for k, v in changes.items()]
    return {"flag": "overfitting", "action": "regularize", "changes": edits, "source": source}


def test_researcher_keeps_valid_remedies_with_their_sources_and_drops_the_rest():
    reply = tool(
        "RemediesOut",
        remedies=[
            remedy(0, weight_decay="*3"),
            remedy(1, label_smoothing="+0.05"),
            remedy(1, momentum="*2"),  # not a hyperparameter of the space
            remedy(7, learning_rate="*0.5"),  # not one of the results
            remedy(0, optimizer="=adamw"),  # not an allowed value
        ],
    )
    llm, search = role_llm([reply]), FakeSearch(RESULTS)
    note = LLMResearcher(llm, KnowledgeBaseResearcher(), search).research(OVERFIT)
    assert [r.changes for r in note.remedies] == [
        {"weight_decay": "*3"},
        {"label_smoothing": "+0.05"},
    ]
    assert note.remedies[1].reference == "Smoothing — https://b.org/ls"
    assert note.policy == "llm:fake-model + search:fake (3 invalid remedies dropped)"
    prompt = "\n".join(llm.chat.prompts[0])
    assert "CIFAR" not in prompt and "ResNet" not in prompt and "[dataset]" in prompt
    assert search.queries == [note.query] and "overfitting" in note.query


@pytest.mark.parametrize(
    ("search", "reason"),
    [
        (FakeSearch(error=httpx.ConnectError("refused")), "fake search failed: ConnectError"),
        (FakeSearch([]), "fake search returned no results"),
    ],
)
def test_search_failure_uses_the_knowledge_base_for_that_round(search, reason):
    llm = role_llm([])
    note = LLMResearcher(llm, KnowledgeBaseResearcher(), search).research(OVERFIT)
    assert note.policy.startswith("offline:knowledge-base (fallback: SearchFailed: " + reason)
    assert note.remedies == KnowledgeBaseResearcher().research(OVERFIT).remedies
    assert llm.chat.prompts == []


def test_a_cse_error_carries_the_key_in_its_url_and_the_recorded_reason_does_not():
    http = HttpMockSequence([({"status": "500"}, "{}")] * ATTEMPTS)
    provider = CSESearch(SECRET, "engine", http=http, sleep=lambda seconds: None)
    with pytest.raises(HttpError) as info:
        provider.search("q")
    assert SECRET in str(info.value)
    reason = role_llm([]).reason(info.value)
    assert SECRET not in reason and "key=[redacted]" in reason
