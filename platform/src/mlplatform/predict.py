"""`mlp predict batch`: score files in the local MinIO with a registered model, in the model runtime's environment.

The scoring itself is `mlp-batch-predict` (platform/runtimes/mlserver, `mlp_mlserver.batch`), the same
program a recipe's batch DAG runs in a pod in the cluster. This command only points it at the local platform:
the tracking server, and MinIO with credentials passed in its environment, never on its command line.
"""

from __future__ import annotations

import os
import subprocess
from typing import Annotated

import typer

from mlplatform.config import Settings
from mlplatform.credentials import Credentials
from mlplatform.errors import PlatformError, ToolMissing
from mlplatform.tools import Toolchain

app = typer.Typer(no_args_is_help=True)


@app.callback()
def predict() -> None:
    """Predictions over files: `mlp predict batch MODEL --input s3://… --output s3://…`."""


def batch_environment(settings: Settings) -> dict[str, str]:
    """Where the batch program finds the tracking server and MinIO (credentials included: keep it off logs)."""
    tracking = {"MLFLOW_TRACKING_URI": f"http://{settings.host}:{settings.mlflow.port}"}
    return {**tracking, **Credentials(settings).object_storage_env()}


@app.command()
def batch(
    model: Annotated[str, typer.Argument(help="The registered model (`fraud-detector`).", show_default=False)],
    inputs: Annotated[
        list[str],
        typer.Option("--input", help="s3://BUCKET/PATH of Parquet or CSV files; globs allowed; repeatable."),
    ],
    output: Annotated[str, typer.Option(help="s3://BUCKET/FOLDER for the predictions and the run's plan.")],
    version: Annotated[str | None, typer.Option(help="A model version (default: the --alias's).")] = None,
    alias: Annotated[str, typer.Option(help="The alias whose version scores.")] = "champion",
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk, and per output part.")] = 50_000,
) -> None:
    """Score files in MinIO with the champion (or a version), in chunks, with progress; a rerun resumes.

    Each output row has the model version and a request id. Rerun the same command after an interruption: it
    scores only the chunks not yet written, with the version it started with, and writes none twice.
    """
    settings = Settings()
    program = Toolchain(settings).python_env("mlserver") / "bin" / "mlp-batch-predict"
    if not program.exists():
        raise ToolMissing(f"{program} is missing: run `mlp setup` (or `make setup`).")
    args = [str(program), model, "--output", output, "--chunk-rows", str(chunk_rows)]
    for uri in inputs:
        args += ["--input", uri]
    args += ["--version", version] if version else ["--alias", alias]
    result = subprocess.run(args, env={**os.environ, **batch_environment(settings)}, check=False)
    if result.returncode == 2:
        raise typer.Exit(2)  # the program named the problem
    if result.returncode:
        raise PlatformError(f"batch prediction stopped (exit {result.returncode}); rerun the command to resume")
