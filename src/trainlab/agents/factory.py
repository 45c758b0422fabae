"""Builds the run's advisors: an LLM policy for every role with a key (wrapping the role's
offline policy), the offline policy for the others, and the one-line mode description."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import find_dotenv, load_dotenv
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from trainlab.agents.anonymize import Anonymizer
from trainlab.agents.base import Advisors
from trainlab.agents.credentials import (
    Endpoint,
    Redactor,
    endpoint_for,
    gemini_native_base,
    secret_values,
)
from trainlab.agents.llm import RoleLLM
from trainlab.agents.offline import TPEConsultant, offline_advisors
from trainlab.agents.roles import LLMAnalyst, LLMConsultant, LLMResearcher, LLMSupervisor
from trainlab.agents.transcripts import TranscriptSink
from trainlab.config import ROLE_NODES, ROLES, LabSettings
from trainlab.research.search import CSESearch, GeminiGroundedSearch, SearchProvider

OFFLINE = (
    "Agents: offline policies (the run's Optuna study, expert rules, allocation, heuristics, "
    "knowledge base)"
)
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_RETRIES = 3


def environment(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """`env`, or the process environment after reading `.env` (cwd or a parent)."""
    if env is not None:
        return env
    load_dotenv(find_dotenv(usecwd=True))
    return os.environ


@dataclass(frozen=True)
class ClientSetup:
    """What every LLM client of a run shares: the sanitizer, the redactor, the transcripts."""

    sanitize: Anonymizer
    redact: Redactor
    sink: TranscriptSink

    def role_llm(self, name: str, model: str, chat: ChatOpenAI) -> RoleLLM:
        return RoleLLM(name, model, chat, self.sanitize, self.redact, self.sink)


def client_setup(
    env: Mapping[str, str],
    anonymize: bool,
    terms: list[str],
    run_dir_provider: Callable[[], Path | None],
) -> ClientSetup:
    redact = Redactor(secret_values(env))
    return ClientSetup(
        Anonymizer(anonymize, terms), redact, TranscriptSink(run_dir_provider, redact)
    )


def chat_model(model: str, endpoint: Endpoint, env: Mapping[str, str]) -> ChatOpenAI:
    """One role's client: timeout and retries with backoff on 429/5xx (openai's own)."""
    return ChatOpenAI(
        model=model,
        api_key=SecretStr(endpoint.key),
        base_url=endpoint.base_url,
        timeout=float(env.get("TRAINLAB_LLM_TIMEOUT", DEFAULT_TIMEOUT_S)),
        max_retries=int(env.get("TRAINLAB_LLM_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
    )


def search_provider(
    settings: LabSettings, endpoint: Endpoint, env: Mapping[str, str]
) -> tuple[SearchProvider | None, str]:
    """The researcher's web search (None: the knowledge base) and how to describe it."""
    if settings.search_provider == "gemini":
        if env.get("GEMINI_USE_GOOGLE_SEARCH", "true").strip().lower() in {"0", "false", "no"}:
            return None, "knowledge base (GEMINI_USE_GOOGLE_SEARCH is off)"
        if not endpoint.is_gemini:
            return None, "knowledge base (Google Search grounding needs a Gemini key)"
        model = settings.models["researcher"]
        base = gemini_native_base(endpoint.base_url)
        return GeminiGroundedSearch(base, endpoint.key, model), "Gemini Google Search grounding"
    if settings.search_provider == "cse":
        key, cx = env.get("GOOGLE_CSE_API_KEY", ""), env.get("GOOGLE_CSE_ID", "")
        if not (key and cx):
            return None, "knowledge base (GOOGLE_CSE_API_KEY and GOOGLE_CSE_ID are not both set)"
        return CSESearch(key, cx), "Google Programmable Search (CSE)"
    return None, "knowledge base (--search-provider offline)"


def build_advisors(
    settings: LabSettings,
    run_dir_provider: Callable[[], Path | None],
    env: Mapping[str, str] | None = None,
) -> tuple[Advisors, str]:
    """The advisors of a run and the line that says which policies serve it.

    `env` defaults to the process environment after reading `.env` (cwd or a parent); keys are
    read here, handed to the clients and never stored in settings, state or records.
    """
    env = environment(env)
    offline = offline_advisors(settings.train.seed, settings.agent_share)
    if settings.offline:
        return offline, f"{OFFLINE}; --offline given."
    endpoints = {role: ep for role in ROLES if (ep := endpoint_for(role, env))}
    if not endpoints:
        return offline, f"{OFFLINE}; no API key set (GEMINI_API_KEY, see docs/LLM.md)."
    llms = role_models(settings, endpoints, env, run_dir_provider)
    provider, research = None, "knowledge base (researcher offline)"
    if "researcher" in llms:
        provider, research = search_provider(settings, endpoints["researcher"], env)
    advisors = llm_advisors(settings.train.seed, llms, provider, offline)
    return advisors, mode_line(settings, endpoints, research)


def role_models(
    settings: LabSettings,
    endpoints: Mapping[str, Endpoint],
    env: Mapping[str, str],
    run_dir_provider: Callable[[], Path | None],
) -> dict[str, RoleLLM]:
    """One client per role with a key, sharing the sanitizer, redactor and transcript sink."""
    setup = client_setup(env, settings.anonymize, [settings.data.dataset], run_dir_provider)
    return {
        role: setup.role_llm(
            role, settings.models[role], chat_model(settings.models[role], ep, env)
        )
        for role, ep in endpoints.items()
    }


def llm_advisors(
    seed: int, llms: Mapping[str, RoleLLM], provider: SearchProvider | None, offline: Advisors
) -> Advisors:
    """LLM policies where a node's role (ROLE_NODES) has a model, each wrapping its offline one."""
    sampler = TPEConsultant(seed)
    role_of = {node: role for role, node in ROLE_NODES.items()}
    make: dict[str, Callable[[RoleLLM, Any], Any]] = {
        "consultant_a": lambda m, off: LLMConsultant("consultant_a", m, off, sampler),
        "consultant_b": lambda m, off: LLMConsultant("consultant_b", m, off, sampler),
        "supervisor": lambda m, off: LLMSupervisor(m, off, sampler),
        "analyst": lambda m, off: LLMAnalyst(m, off),
    }

    def pick(node: str) -> Any:
        fallback, role = getattr(offline, node), role_of[node]
        return make[node](llms[role], fallback) if role in llms else fallback

    researcher = (
        LLMResearcher(llms[role_of["researcher"]], offline.researcher, provider)
        if provider
        else offline.researcher
    )
    return Advisors(**{node: pick(node) for node in make}, researcher=researcher)


def mode_line(settings: LabSettings, endpoints: Mapping[str, Endpoint], research: str) -> str:
    models = ", ".join(f"{r}={settings.models[r]}" for r in ROLES if r in endpoints)
    offline = [r for r in ROLES if r not in endpoints]
    urls = sorted({ep.base_url for ep in endpoints.values()})
    keys = sorted({ep.key_var for ep in endpoints.values()})
    anonymized = "anonymized" if settings.anonymize else "NOT anonymized"
    return (
        f"Agents: LLM {models} via {', '.join(urls)} (keys: {', '.join(keys)})"
        + (f"; offline policies for {', '.join(offline)}" if offline else "")
        + f"; research: {research}; prompts {anonymized}."
    )
