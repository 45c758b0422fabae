"""The search engine: an Optuna study owned by the run, allocation, pruning and budgets."""
