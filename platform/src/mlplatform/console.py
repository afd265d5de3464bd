"""The one Rich console every command prints through."""

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
