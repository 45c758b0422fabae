"""Deploy a lab run's best model: ONNX export with parity, INT8, pruning, distillation."""
