"""Training-optimization tools (seed 003): LR range test, batch finder, gradients, suggest."""
