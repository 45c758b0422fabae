"""LangGraph wiring only: the lab (hpo), the proposal workflow, K-1 and the app composing them.

Importing a graph module builds nothing: each has one `build_*_graph`; `studio` builds the
Studio graphs on first use, and `server` (what langgraph.json names) builds them at import."""
