"""The ML platform's core package: configuration, local runtime, setup and the `mlp` CLI."""

__version__ = "0.1.0"
