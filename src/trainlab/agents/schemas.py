"""What each LLM role must answer: pydantic schemas for structured output.

Numbers are plain floats/ints here (not `space.HParams`): out-of-range values must reach
`space.coerce`, which clamps them with a recorded warning instead of rejecting the answer.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, create_model

from trainlab import space
from trainlab.agents.llm import InvalidAnswer

PLACEHOLDER = re.compile(
    r"\s*(|\.\.\.|…|<[^>]*>|\{[^}]*\}|\[[^\]]*\]|tbd|todo|n/?a|none|null|string|placeholder"
    r"|x{3,}|your .* here)\s*",
    re.IGNORECASE,
)

HParamsOut = create_model(
    "HParamsOut",
    __doc__="A point of the search space as the model writes it (fields from `space.SPACE`).",
    **space.answer_fields(),
)


class ProposalOut(HParamsOut):
    """A consultant's turn: a configuration and the message to the other consultant."""

    message: str = Field(description="your reasoning and reply to the other consultant")


class FinalOut(HParamsOut):
    """The supervisor's decision."""

    source: str = Field(description="consultant_a, consultant_b or supervisor (your own mix)")
    justification: str


class AnalysisOut(BaseModel):
    """The analyst's reading of the learning curves."""

    reading: str = Field(description="what the curves show, in a few sentences")
    flags: list[str] = Field(description="diagnoses from the allowed flag list")
    keywords: list[str] = Field(description="short web-search phrases for remedies")


class ChangeOut(BaseModel):
    param: str = Field(description="a hyperparameter of the search space")
    edit: str = Field(description='"*0.3" multiplies, "+0.05" adds, "=sgd" or "=0.01" sets')


class RemedyOut(BaseModel):
    flag: str
    action: str
    changes: list[ChangeOut]
    source: int = Field(description="number of the search result this advice comes from")


class RemediesOut(BaseModel):
    """The researcher's remedies, each backed by one of the numbered search results."""

    remedies: list[RemedyOut]


def require_text(text: str, field: str) -> str:
    """The answer's text, stripped; an empty or placeholder text is an InvalidAnswer."""
    if PLACEHOLDER.fullmatch(text):
        raise InvalidAnswer(f"{field} is empty or a placeholder ({text!r})")
    return text.strip()
