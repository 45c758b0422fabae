"""The real graph with the real ChatOpenAI clients against a loopback OpenAI-compatible server
standing in for Gemini (chat completions + native `generateContent` grounding).

One two-round run is scripted to misbehave: malformed JSON, out-of-range values, placeholders,
a 429, persistent 500s, an endpoint without json_schema and a failing search. Every failure
must be survived as documented, recorded, and never trained on. `python
tests/integration/test_llm_lab.py` serves the same fake by hand (for `python main.py`)."""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from trainlab.agents.credentials import ROLE_KEY_VARS, SECRET_VARS
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.graphs.hpo import build_hpo_graph, recursion_limit
from trainlab.lab import LabRuntime, start_run
from trainlab.lab_history import full_state
from trainlab.runstore import RunFolder, open_checkpointer
from trainlab.state import FinalConfig, Proposal, TrialSummary

KEYS = {role: f"sk-loopback-{role}-0123456789" for role in ROLE_KEY_VARS}
MODELS = {role: f"model-{role}" for role in ROLE_KEY_VARS}
LEAKS = re.compile(r"cifar|resnet|mnist|imagenet|digits|synthetic", re.IGNORECASE)
PLACEHOLDER = {
    "optimizer": "<optimizer>", "learning_rate": "<float>", "train_batch_size": "<int>",
    "weight_decay": "<float>", "label_smoothing": "<float>", "message": "...",
    "source": "...", "justification": "...",
}  # fmt: skip
GROUNDED = {
    "candidates": [
        {
            "content": {"parts": [{"text": "On CIFAR-10 a ResNet-9 likes a lower rate."}]},
            "groundingMetadata": {
                "groundingChunks": [
                    {"web": {"uri": "https://tips.example/lr", "title": "LR tips"}}
                ],
                "groundingSupports": [
                    {
                        "segment": {"text": "On CIFAR-10 a ResNet-9 likes a lower rate."},
                        "groundingChunkIndices": [0],
                    }
                ],
            },
        }
    ]
}


def answer(schema: str, k: int) -> dict[str, Any]:
    """A valid answer for the schema; `k` (a request counter) keeps configurations distinct."""
    hparams = {
        "optimizer": "sgd" if k % 2 else "adam", "learning_rate": round(0.001 + 0.0013 * k, 5),
        "train_batch_size": 64, "weight_decay": 1e-4, "label_smoothing": 0.05,
    }  # fmt: skip
    return {
        "ProposalOut": {**hparams, "message": f"Try a rate of {hparams['learning_rate']}."},
        "FinalOut": {**hparams, "source": "consultant_a", "justification": "A's rate, B's decay."},
        "AnalysisOut": {
            "reading": "Validation accuracy still climbs at the last epoch.",
            "flags": ["plateau", "not_a_flag"],
            "keywords": ["cosine learning rate schedule"],
        },
        "RemediesOut": {
            "remedies": [
                {"flag": "plateau", "action": "halve the rate", "source": 0,
                 "changes": [{"param": "learning_rate", "edit": "*0.5"}]},
                {"flag": "plateau", "action": "use momentum", "source": 0,
                 "changes": [{"param": "momentum", "edit": "=0.9"}]},
            ]
        },
    }[schema]  # fmt: skip


def completion(model: str, content: str | None, tool: tuple[str, str] | None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool:
        call = {"name": tool[0], "arguments": tool[1]}
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": call}]
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [choice], "usage": usage}  # fmt: skip


@dataclass
class LoopbackLLM:
    """Scripted fake: `faults[role]` is consumed one per request ("ok", "malformed",
    "out_of_range", "placeholder", 429, 500); roles in `no_json_schema` reject response_format.
    Requests are told apart by their per-role key; `any_key` accepts others (role "any")."""

    faults: dict[str, list[Any]] = field(default_factory=dict)
    no_json_schema: set[str] = field(default_factory=set)
    search_faults: list[Any] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=itertools.count)
    any_key: bool = False
    served: dict[str, str] = field(default_factory=dict)  # role → the model id it answers as

    def chat(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict]:
        roles = {f"Bearer {key}": role for role, key in KEYS.items()}
        role = roles.get(headers["authorization"], "any" if self.any_key else None)
        self.requests.append({"kind": "chat", "role": role, "headers": headers, "body": body})
        if role is None:
            return 401, {"error": {"message": "unknown key"}}
        if role in self.no_json_schema and "response_format" in body:
            return 400, {"error": {"message": "response_format json_schema is not supported"}}
        queue = self.faults.get(role)
        fault = queue.pop(0) if queue else "ok"
        if isinstance(fault, int):
            return fault, {"error": {"code": fault, "message": "scripted failure"}}
        schema = _schema_name(body)
        data = answer(schema, next(self.counter))
        if fault == "out_of_range":
            data.update(learning_rate=5.0, train_batch_size=1000)
        if fault == "placeholder":
            data = {**data, **{k: v for k, v in PLACEHOLDER.items() if k in data}}
        text = "{'optimizer': adam, learning_rate:" if fault == "malformed" else json.dumps(data)
        tool = (schema, text) if body.get("tools") else None
        served = self.served.get(role, body["model"])
        return 200, completion(served, None if tool else text, tool)

    def ground(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict]:
        self.requests.append({"kind": "search", "headers": headers, "body": body})
        fault = self.search_faults.pop(0) if self.search_faults else "ok"
        return (fault, {"error": {"code": fault}}) if isinstance(fault, int) else (200, GROUNDED)

    def prompts(self) -> list[str]:
        """Every text a model was sent: chat messages and grounded-search prompts."""
        texts = []
        for request in self.requests:
            body = request["body"]
            texts += [str(m["content"]) for m in body.get("messages", [])]
            texts += [p["text"] for c in body.get("contents", []) for p in c["parts"]]
        return texts


def _schema_name(body: dict[str, Any]) -> str:
    if "response_format" in body:
        return body["response_format"]["json_schema"]["name"]
    if body.get("tools"):
        return body["tools"][0]["function"]["name"]
    return re.search(r'"title": "(\w+Out)"', body["messages"][-1]["content"]).group(1)


def serve(fake: LoopbackLLM, port: int = 0) -> ThreadingHTTPServer:
    """Serve the fake on 127.0.0.1 in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            headers = {k.lower(): v for k, v in self.headers.items()}
            route = fake.ground if self.path.endswith(":generateContent") else fake.chat
            status, payload = route(headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("retry-after-ms", "5")  # keeps the client's backoff short
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def llm_env(monkeypatch: pytest.MonkeyPatch, base: str, cwd: Path) -> None:
    for var in SECRET_VARS:
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    for role, var in ROLE_KEY_VARS.items():
        monkeypatch.setenv(var, KEYS[role])
    monkeypatch.setenv("GEMINI_OPENAI_BASE_URL", f"{base}/v1beta/openai/")
    monkeypatch.setenv("TRAINLAB_LLM_MAX_RETRIES", "1")
    monkeypatch.setenv("TRAINLAB_LLM_TIMEOUT", "20")
    monkeypatch.chdir(cwd)  # no .env from the repository


FAULTS = {
    "gen_a": ["malformed"],  # round 1: retried once, then fine
    "gen_b": ["out_of_range"],  # round 1: clamped with a warning
    "supervisor": ["placeholder", "placeholder", 429],  # r1: offline fallback; r2: 429 retried
    "exec": ["ok", 500, 500],  # r1: function calling; r2: 500 after the retry → heuristics
    "researcher": ["ok"],
}


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory) -> tuple[Path, dict, LoopbackLLM]:
    tmp = tmp_path_factory.mktemp("llm_lab")
    fake = LoopbackLLM(
        faults={role: list(f) for role, f in FAULTS.items()},
        no_json_schema={"exec"},
        served={"researcher": "model-researcher-routed"},  # a retired id routed elsewhere
        search_faults=["ok", 500, 500, 500],  # round 2: search fails → knowledge base
    )
    server = serve(fake)
    with pytest.MonkeyPatch.context() as monkeypatch:
        llm_env(monkeypatch, f"http://127.0.0.1:{server.server_port}", tmp)
        settings = LabSettings(
            rounds=2, consult_turns=1, output_dir=tmp / "runs", models=MODELS,
            train=TrainSettings(epochs=1, patience=1, model_width=8, device="cpu", seed=0,
                                num_workers=0, save_checkpoints=False),
            data=DataSettings(dataset="synthetic", data_dir=tmp / "data"),
        )  # fmt: skip
        run_dir = start_run(settings)
        with open_checkpointer(run_dir) as saver:
            compiled, _ = build_hpo_graph(LabRuntime.create(settings, run_dir=run_dir), saver)
            config = {"configurable": {"thread_id": "t"}, "recursion_limit": recursion_limit(2, 1)}
            state = compiled.invoke({"run_dir": str(run_dir)}, config, durability="sync")
    server.shutdown()
    return run_dir, full_state(RunFolder(run_dir), state), fake  # the histories live on disk


def records(state: dict, key: str, cls: type) -> list:
    return [cls.model_validate(item) for item in state[key]]


def test_each_role_reaches_the_base_url_with_its_own_key_and_model(llm_run):
    _, _, fake = llm_run
    chats = [r for r in fake.requests if r["kind"] == "chat"]
    assert {r["role"] for r in chats} == set(KEYS)  # no unknown key, every role called
    for request in chats:
        assert request["body"]["model"] == MODELS[request["role"]]
    searches = [r for r in fake.requests if r["kind"] == "search"]
    assert searches and all(r["headers"]["x-goog-api-key"] == KEYS["researcher"] for r in searches)
    assert searches[0]["body"]["tools"] == [{"google_search": {}}]


def test_malformed_json_is_retried_and_out_of_range_values_are_clamped(llm_run):
    _, state, _ = llm_run
    first_a, first_b = records(state, "proposals", Proposal)[:2]
    assert first_a.policy == "llm:model-gen_a" and first_a.author == "consultant_a"
    assert first_b.policy == "llm:model-gen_b"
    assert first_b.hparams.learning_rate == 0.1 and first_b.hparams.train_batch_size == 512
    assert any("clamped" in w for w in first_b.warnings)


def test_placeholders_fall_back_and_a_429_is_retried(llm_run):
    _, state, _ = llm_run
    finals = records(state, "finals", FinalConfig)
    trials = records(state, "trials", TrialSummary)
    assert finals[0].policy.startswith(
        "offline:track-record (fallback: InvalidAnswer: after a retry"
    )
    assert finals[1].policy == "llm:model-supervisor"
    for final, trial in zip(finals, trials, strict=True):
        assert trial.requested_hparams == final.hparams  # trained exactly what was decided
    assert len({t.effective_hparams.key() for t in trials}) == 2


def test_analyst_uses_function_calling_then_survives_500s(llm_run):
    run_dir, _, _ = llm_run
    first = json.loads((run_dir / "trial_0" / "analysis.json").read_text())
    assert first["policy"] == "offline:heuristics + llm:model-exec"
    assert "plateau" in first["flags"] and "not_a_flag" not in first["flags"]
    assert "climbs" in (run_dir / "trial_0" / "analysis_llm.txt").read_text()
    second = json.loads((run_dir / "trial_1" / "analysis.json").read_text())
    assert second["policy"].startswith(
        "offline:heuristics (fallback: OpenAIAPIError: Error code: 500"
    )


def test_research_is_grounded_sanitized_and_falls_back_when_search_fails(llm_run):
    run_dir, _, fake = llm_run
    first = json.loads((run_dir / "trial_0" / "research.json").read_text())
    assert first["policy"] == "llm:model-researcher + search:gemini (1 invalid remedies dropped)"
    assert first["remedies"][0]["changes"] == {"learning_rate": "*0.5"}
    assert first["sources"] == ["LR tips — https://tips.example/lr"]
    second = json.loads((run_dir / "trial_1" / "research.json").read_text())
    assert second["policy"].startswith("offline:knowledge-base (fallback: SearchFailed: gemini")
    researcher_prompts = [
        m["content"] for r in fake.requests if r.get("role") == "researcher"
        for m in r["body"]["messages"]
    ]  # fmt: skip
    assert any("[dataset] a [model] likes a lower rate" in text for text in researcher_prompts)


def test_no_prompt_names_the_dataset_or_the_model(llm_run):
    _, _, fake = llm_run
    prompts = fake.prompts()
    assert len(prompts) > 20
    leaks = [text for text in prompts if LEAKS.search(text)]
    assert not leaks, leaks[0]


def test_transcripts_record_every_exchange_with_policy_and_reason(llm_run):
    run_dir, _, _ = llm_run
    files = sorted(p.name for p in (run_dir / "transcripts").iterdir())
    assert files == ["round_1.jsonl", "round_2.jsonl"]
    first = [json.loads(line) for line in (run_dir / "transcripts" / "round_1.jsonl").open()]
    assert [e["role"] for e in first] == ["gen_a", "gen_b", "supervisor", "exec", "researcher"]
    sup = first[2]
    assert sup["model"] == "model-supervisor" and "after a retry" in sup["fallback_reason"]
    assert len(sup["exchanges"]) == 2 and "could not be used" in str(sup["exchanges"][1])
    assert len(first[0]["exchanges"]) == 2  # the malformed answer and the retry
    assert first[0]["served_model"] == "model-gen_a"  # the endpoint's `model` field, as sent
    assert first[4]["model"] == "model-researcher" != first[4]["served_model"]
    assert first[4]["served_model"] == "model-researcher-routed"


def test_no_key_anywhere_in_the_run_folder(llm_run):
    run_dir, _, _ = llm_run
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "checkpoints.sqlite" for p in files)
    for path in files:
        data = path.read_bytes()
        for key in KEYS.values():
            assert key.encode() not in data, (path, key)


if __name__ == "__main__":  # serve a well-behaved fake for `python main.py` by hand
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    serve(LoopbackLLM(any_key=True), port)
    print(f"fake Gemini on http://127.0.0.1:{port}/v1beta/openai/ (any key)", flush=True)
    threading.Event().wait()


def test_consultants_and_supervisor_see_the_optimizer_state_and_the_remedy_record(llm_run):
    _, _, fake = llm_run
    for role in ("gen_a", "gen_b", "supervisor"):
        chats = [r for r in fake.requests if r["kind"] == "chat" and r["role"] == role]
        last = "\n".join(str(m["content"]) for m in chats[-1]["body"]["messages"])
        assert "Optimizer: tpe (1 complete trials)." in last  # round 2: the TPE study's view
        assert re.search(r"Top trials:\n- #0: 0\.\d{4} ", last)
        assert "The sampler's own next suggestion: " in last
        assert "No remedy has been tried in this run yet." in last
