"""What `langgraph dev` loads (langgraph.json names `./src/trainlab/graphs/server.py:hpo` …).

The LangGraph server reads a graph file's globals (not a module `__getattr__`), so this file
builds the Studio graphs of `studio.py` when it is imported — by the server only: the CLI,
notebooks and `trainlab.graphs.studio` never import it.
"""

from __future__ import annotations

from trainlab.graphs.studio import build

hpo = build("hpo")
proposal = build("proposal")
k1 = build("k1")
app = build("app")
