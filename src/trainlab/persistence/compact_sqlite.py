"""The lab's SQLite checkpointer, with short channel versions.

LangGraph's SqliteSaver stores every checkpoint whole, and each names a version per channel
(`channel_versions`) and per node (`versions_seen`): as 50-character strings (32 padded digits
and a random suffix) those were two thirds of a bounded lab state's checkpoint. SQLite keeps
`channel_values` inline, not in a blob table keyed by version, so plain increasing integers
(BaseCheckpointSaver's default) serve; a run started before keeps its string versions.
"""

from __future__ import annotations

from langgraph.checkpoint.sqlite import SqliteSaver


class CompactSqliteSaver(SqliteSaver):
    def get_next_version(self, current: str | int | None, channel: None) -> str | int:  # type: ignore[override]
        if isinstance(current, str):  # a checkpoint written with string versions
            return super().get_next_version(current, channel)
        return 1 if current is None else current + 1
