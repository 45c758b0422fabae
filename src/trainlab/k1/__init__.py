"""K-1: a modular transformer LM trained over text domains with top-K sparse group updates.

Modules: data (domains, byte tokenizer), model (grouped transformer), sparse (top-K updater
with trust), continual (learners: k1, dense, EWC, replay), metrics (R, BWT, forgetting),
experiment (the steps the graph runs), report (results and plots), cli (`main.py k1`).
The graph wiring lives in `graphs/k1.py`.
"""
