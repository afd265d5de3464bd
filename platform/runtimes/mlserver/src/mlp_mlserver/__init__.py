"""The platform's MLServer runtimes (the local model server's; see runtime.py)."""

from mlp_mlserver.runtime import CheckedMLflowRuntime

__all__ = ["CheckedMLflowRuntime"]
