"""The legacy GHOSTLY+ baseline (dev/test/demo only) and its deterministic synthetic data generator."""
