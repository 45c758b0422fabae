"""What the proposal graph's nodes do: show agents the draft, merge what they wrote into a
`ResearchProposal`, and save proposals and answers as JSON + Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from trainlab.proposals.agents import ROLES, Message
from trainlab.proposals.request import Draft, ProposalRequest
from trainlab.proposals.schema import ResearchProposal
from trainlab.runstore import atomic_write_bytes, write_json


class ProposalRecord(BaseModel):
    """What a run keeps of one proposal (or answer): its verdict and where its files are."""

    kind: Literal["proposal", "answer"]
    name: str
    pattern: str
    topic: str
    title: str
    components: list[str]
    verdict: str
    lab_round: int | None
    json_path: str
    markdown_path: str


def _messages(raw: Sequence[dict[str, Any]], kind: str) -> list[Message]:
    return [Message.model_validate(m) for m in raw if m["kind"] == kind]


def merged_sections(raw: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every section as last written (later rounds revise earlier ones)."""
    sections: dict[str, Any] = {}
    for message in _messages(raw, "contribution"):
        sections.update(message.sections)
    return sections


def draft(request: ProposalRequest, raw: Sequence[dict[str, Any]], round_: int) -> Draft:
    critiques = _messages(raw, "critique")
    return Draft(
        topic=request.question if request.pattern == "specialized" else request.topic,
        round=round_,
        sections=merged_sections(raw),
        critique=tuple(critiques[-1].sections["points"]) if critiques else (),
        budget=request.budget,
        exclude=request.exclude,
        transcript_round=request.lab_round or round_,
    )


def assemble(request: ProposalRequest, raw: Sequence[dict[str, Any]]) -> ResearchProposal:
    """The proposal from the contributions (a missing or empty section is a ValidationError)."""
    authors = {
        field: f"{ROLES[m.speaker].title} ({m.policy})"
        for m in _messages(raw, "contribution")
        for field in m.sections
    }
    critiques = _messages(raw, "critique")
    sections = merged_sections(raw)
    extra = {k: v for k, v in sections.items() if k not in ResearchProposal.model_fields}
    return ResearchProposal.model_validate(
        {
            **sections,
            "extra_sections": extra,  # what registered roles wrote
            "topic": request.topic,
            "review": critiques[-1].sections["points"] if critiques else [],
            "authors": authors,
        }
    )


def save_proposal(request: ProposalRequest, proposal: ResearchProposal) -> ProposalRecord:
    json_path, md_path = proposal.save(request.out_dir, request.name)
    return ProposalRecord(
        kind="proposal",
        name=request.name,
        pattern=request.pattern,
        topic=request.topic,
        title=proposal.title,
        components=proposal.components,
        verdict=proposal.verdict,
        lab_round=request.lab_round,
        json_path=str(json_path),
        markdown_path=str(md_path),
    )


def save_answer(request: ProposalRequest, message: Message) -> ProposalRecord:
    role = ROLES[message.speaker]
    stem = request.out_dir / request.name
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    write_json(json_path, {"question": request.question, **message.model_dump(mode="json")})
    text = f"# {role.title} agent\n\n**Question:** {request.question}\n\n{message.text}\n\n"
    atomic_write_bytes(md_path, (text + f"*Policy: {message.policy}*\n").encode())
    return ProposalRecord(
        kind="answer",
        name=request.name,
        pattern=request.pattern,
        topic=request.question,
        title=f"{role.title} answers: {request.question}",
        components=[],
        verdict="answered",
        lab_round=request.lab_round,
        json_path=str(json_path),
        markdown_path=str(md_path),
    )
