"""The lab's SQLite checkpointer, with short channel versions.

LangGraph's SqliteSaver stores every checkpoint whole, and each names a version per channel
(`channel_versions`) and per node (`versions_seen`): as 50-character strings (32 padded digits
and a random suffix) those were two thirds of a bounded lab state's checkpoint. SQLite keeps
`channel_values` inline, not in a blob table keyed by version, so plain increasing integers
(BaseCheckpointSaver's default) serve; a run started before keeps its string versions.

`forget_subgraphs` drops the checkpoints of finished subgraph runs: each step of the proposal
subgraph stores its whole draft conversation (86 KB per proposal, measured), and once the
parent graph has checkpointed past the subgraph node, a resume needs only the parent's.
"""

from __future__ import annotations

from langgraph.checkpoint.sqlite import SqliteSaver


class CompactSqliteSaver(SqliteSaver):
    def get_next_version(self, current: str | int | None, channel: None) -> str | int:  # type: ignore[override]
        if isinstance(current, str):  # a checkpoint written with string versions
            return super().get_next_version(current, channel)
        return 1 if current is None else current + 1

    def forget_subgraphs(self) -> None:
        """Delete every subgraph checkpoint (namespace other than the root) of this database:
        call it only when no subgraph is running (a lab run's database holds one thread)."""
        with self.cursor() as cur:
            cur.execute("DELETE FROM checkpoints WHERE checkpoint_ns != ''")
            cur.execute("DELETE FROM writes WHERE checkpoint_ns != ''")
