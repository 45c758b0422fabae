"""LangGraph wiring only: the lab (hpo), the proposal workflow, K-1 and the app composing them.

Importing a graph module builds nothing: each has one `build_*_graph`; `studio` builds the
graphs that langgraph.json names on first use."""
