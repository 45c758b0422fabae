"""Which policy serves each role: key precedence, base URLs, the mode line, search providers,
and secrets that stay out of every record."""

from __future__ import annotations

import json

import pytest

from trainlab.agents.credentials import (
    GEMINI_DEFAULT_BASE_URL,
    OPENAI_DEFAULT_BASE_URL,
    SECRET_VARS,
    Redactor,
    endpoint_for,
    gemini_native_base,
    secret_values,
)
from trainlab.agents.factory import build_advisors
from trainlab.agents.offline import KnowledgeBaseResearcher, TPEConsultant, TrackRecordSupervisor
from trainlab.agents.roles import LLMAnalyst, LLMConsultant, LLMResearcher, LLMSupervisor
from trainlab.agents.transcripts import TranscriptSink
from trainlab.config import FLASH_MODEL, PRO_MODEL, LabSettings
from trainlab.lab import LabRuntime
from trainlab.research.search import CSESearch, GeminiGroundedSearch


def test_per_role_gemini_key_wins_over_shared_and_openai():
    env = {"GEMINI_API_KEY_SUP": "sup", "GEMINI_API_KEY": "shared", "OPENAI_API_KEY": "oa"}
    sup, gen_a = endpoint_for("supervisor", env), endpoint_for("gen_a", env)
    assert (sup.key, sup.key_var, sup.base_url) == (
        "sup",
        "GEMINI_API_KEY_SUP",
        GEMINI_DEFAULT_BASE_URL,
    )
    assert (gen_a.key, gen_a.key_var) == ("shared", "GEMINI_API_KEY")


def test_openai_compatible_endpoint_when_no_gemini_key():
    env = {"OPENAI_API_KEY": "ollama", "OPENAI_BASE_URL": "http://localhost:11434/v1"}
    endpoint = endpoint_for("exec", env)
    assert (endpoint.key, endpoint.base_url, endpoint.is_gemini) == (
        "ollama", "http://localhost:11434/v1", False,
    )  # fmt: skip
    plain = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": ""}  # as copied from .env.example
    assert endpoint_for("exec", plain).base_url == OPENAI_DEFAULT_BASE_URL
    assert endpoint_for("exec", {"GEMINI_API_KEY": "  "}) is None  # blank is unset


def test_gemini_base_url_override_and_native_base():
    env = {"GEMINI_API_KEY": "k", "GEMINI_OPENAI_BASE_URL": "http://127.0.0.1:9/v1beta/openai/"}
    assert endpoint_for("researcher", env).base_url == "http://127.0.0.1:9/v1beta/openai/"
    assert gemini_native_base(GEMINI_DEFAULT_BASE_URL) == (
        "https://generativelanguage.googleapis.com/v1beta/"
    )


def test_endpoint_repr_hides_the_key():
    assert "s3cret" not in repr(endpoint_for("gen_a", {"GEMINI_API_KEY": "s3cret"}))


def test_no_key_means_offline_with_one_clear_line():
    advisors, mode = build_advisors(LabSettings(), lambda: None, env={})
    assert isinstance(advisors.consultant_a, TPEConsultant)
    assert mode.startswith("Agents: offline policies") and "no API key" in mode


def test_offline_flag_wins_over_keys():
    advisors, mode = build_advisors(
        LabSettings(offline=True), lambda: None, {"GEMINI_API_KEY": "k"}
    )
    assert isinstance(advisors.supervisor, TrackRecordSupervisor)
    assert "--offline" in mode


def test_every_role_with_a_key_gets_its_llm_and_own_client():
    env = {f"GEMINI_API_KEY_{s}": f"key-{s}" for s in ("GEN_A", "GEN_B", "SUP", "EXEC", "RES")}
    advisors, mode = build_advisors(LabSettings(), lambda: None, env)
    assert isinstance(advisors.consultant_a, LLMConsultant)
    assert isinstance(advisors.consultant_b, LLMConsultant)
    assert isinstance(advisors.supervisor, LLMSupervisor)
    assert isinstance(advisors.analyst, LLMAnalyst)
    assert isinstance(advisors.researcher, LLMResearcher)
    sup = advisors.supervisor.llm.chat
    assert sup.model_name == PRO_MODEL and sup.openai_api_key.get_secret_value() == "key-SUP"
    assert sup.openai_api_base == GEMINI_DEFAULT_BASE_URL and sup.max_retries >= 1
    assert advisors.consultant_b.llm.chat.openai_api_key.get_secret_value() == "key-GEN_B"
    assert isinstance(advisors.researcher.provider, GeminiGroundedSearch)
    assert f"supervisor={PRO_MODEL}" in mode and "Gemini Google Search grounding" in mode
    assert not any(key in mode for key in env.values())


def test_roles_without_a_key_stay_offline_and_say_so():
    advisors, mode = build_advisors(LabSettings(), lambda: None, {"GEMINI_API_KEY_SUP": "k"})
    assert isinstance(advisors.supervisor, LLMSupervisor)
    assert isinstance(advisors.consultant_a, TPEConsultant)
    assert isinstance(advisors.researcher, KnowledgeBaseResearcher)
    assert "offline policies for gen_a, gen_b, exec, researcher" in mode


@pytest.mark.parametrize(
    ("provider", "env", "expected"),
    [
        ("gemini", {"GEMINI_API_KEY": "k"}, GeminiGroundedSearch),
        ("gemini", {"GEMINI_API_KEY": "k", "GEMINI_USE_GOOGLE_SEARCH": "false"}, None),
        ("gemini", {"OPENAI_API_KEY": "k"}, None),  # grounding needs the Gemini API
        (
            "cse",
            {"GEMINI_API_KEY": "k", "GOOGLE_CSE_API_KEY": "c", "GOOGLE_CSE_ID": "i"},
            CSESearch,
        ),
        ("cse", {"GEMINI_API_KEY": "k", "GOOGLE_CSE_API_KEY": "c"}, None),
        ("offline", {"GEMINI_API_KEY": "k"}, None),
    ],
)
def test_search_provider_selection(provider, env, expected):
    advisors, mode = build_advisors(LabSettings(search_provider=provider), lambda: None, env)
    if expected is None:
        assert isinstance(advisors.researcher, KnowledgeBaseResearcher)
        assert "research: knowledge base" in mode
    else:
        assert isinstance(advisors.researcher.provider, expected)


def test_redactor_and_secret_values():
    env = {"GEMINI_API_KEY": "abc123", "GOOGLE_CSE_API_KEY": "cse9", "OTHER": "visible"}
    redact = Redactor(secret_values(env))
    assert (
        redact("key=abc123&k2=cse9 OTHER=visible") == "key=[redacted]&k2=[redacted] OTHER=visible"
    )


def test_transcript_sink_appends_redacted_lines_and_skips_without_a_run_dir(tmp_path):
    run_dir: list = [None]
    sink = TranscriptSink(lambda: run_dir[0], Redactor(("abc123",)))
    sink.write(1, {"text": "nothing yet"})
    assert not (tmp_path / "transcripts").exists()
    run_dir[0] = tmp_path
    sink.write(2, {"text": "error for abc123"})
    sink.write(2, {"text": "second"})
    lines = (tmp_path / "transcripts" / "round_2.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["error for [redacted]", "second"]
    assert json.loads(lines[0])["round"] == 2


def clear_keys(monkeypatch, cwd):
    """No key in the environment (restored afterwards, even if .env adds some) and no .env."""
    for var in (*SECRET_VARS, "GEMINI_OPENAI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.chdir(cwd)


def test_runtime_create_reads_dotenv_and_transcribes_into_its_run_dir(monkeypatch, tmp_path):
    clear_keys(monkeypatch, tmp_path)
    (tmp_path / ".env").write_text("GEMINI_API_KEY_GEN_B=from-dotenv\n")
    monkeypatch.setenv("GEMINI_API_KEY_GEN_A", "from-env")
    runtime = LabRuntime.create(LabSettings(), run_dir=tmp_path / "first")
    assert isinstance(runtime.advisors.consultant_a, LLMConsultant)
    assert isinstance(runtime.advisors.consultant_b, LLMConsultant)
    assert isinstance(runtime.advisors.supervisor, TrackRecordSupervisor)
    assert runtime.mode.startswith(f"Agents: LLM gen_a={FLASH_MODEL}, gen_b=")
    transcripts = runtime.advisors.consultant_a.llm.transcripts
    runtime.run_dir = tmp_path / "moved"  # what the graph's init node does
    transcripts.write(1, {"note": "x"})
    assert (tmp_path / "moved" / "transcripts" / "round_1.jsonl").is_file()
