"""Optimizers, losses and architectures beyond the defaults, named in `registry.REGISTRY`."""
