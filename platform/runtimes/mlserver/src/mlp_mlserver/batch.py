"""Batch prediction: a registered model version scores Parquet or CSV files in object storage, chunk by chunk.

Online scoring answers one V2 request at a time, which is right when an event waits for its answer. When a
night's files need scores, throughput matters more: this loads the model once, in the same runtime
environment the model server uses, and scores whole chunks of rows in-process.

A run is resumable and writes nothing twice:
- Each chunk of `chunk_rows` rows of an input file becomes one object, `part-<file>-<chunk>.parquet`. S3 shows
  an object only once it is written whole, so a killed run leaves no half-written part.
- The run's plan, `_batch.json` beside the parts, records the inputs (with size and modification time), the
  chunk size and the model version. A restart with the same arguments lists the parts already present and
  scores only the others, with the version the run started with even if the alias has moved since.
- Every output row carries a request id made of the plan's digest, the file's number and the row's
  (`<plan>-<file>-<row>`). A chunk scored again gets the same ids, so a consumer can always tell a repeat.

`_SUCCESS.json` marks a complete run with its totals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq

PLAN, SUCCESS = "_batch.json", "_SUCCESS.json"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv"}
#: Columns every output row has, besides the model's predictions.
ID_COLUMNS = ("request_id", "model_name", "model_version", "source", "row")


class BatchError(Exception):
    """A run that cannot go on; the message names the problem and the fix."""


@dataclass(frozen=True)
class Input:
    uri: str
    size: int
    mtime: str


@dataclass(frozen=True)
class Plan:
    model_name: str
    model_version: str
    chunk_rows: int
    inputs: tuple[Input, ...]

    @cached_property
    def id(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = [asdict(i) for i in self.inputs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        inputs = tuple(Input(**i) for i in data["inputs"])
        return cls(data["model_name"], str(data["model_version"]), int(data["chunk_rows"]), inputs)


def s3_path(uri: str) -> str:
    """`s3://bucket/key` -> `bucket/key`, the path pyarrow's S3 filesystem takes."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise BatchError(f"{uri!r} is not an object storage URI: write it as s3://BUCKET/PATH")
    return f"{parsed.netloc}/{parsed.path.lstrip('/')}".rstrip("/")


def filesystem() -> pa_fs.S3FileSystem:
    """MinIO or S3, from the usual variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL (or
    MLflow's MLFLOW_S3_ENDPOINT_URL)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL")
    options: dict[str, Any] = {"region": os.environ.get("AWS_REGION", "us-east-1")}
    if endpoint:
        parsed = urlparse(endpoint)
        options.update(endpoint_override=parsed.netloc or parsed.path, scheme=parsed.scheme or "https")
    return pa_fs.S3FileSystem(**options)


def file_format(path: str) -> str:
    for suffix, kind in sorted(FORMATS.items(), key=lambda item: -len(item[0])):
        if path.lower().endswith(suffix):
            return kind
    raise BatchError(f"s3://{path} is neither Parquet nor CSV: name inputs *.parquet, *.pq, *.csv or *.csv.gz")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A shell-like glob: `*` and `?` stay within one folder, `**` crosses folders, `[...]` is a character class."""
    parts, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            parts.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def expand(fs: pa_fs.FileSystem, patterns: list[str]) -> list[Input]:
    """The objects the input URIs name (globs: `*`, `?`, `[..]` within a folder, `**` across), sorted."""
    found: dict[str, Input] = {}
    for pattern in patterns:
        path = s3_path(pattern)
        wildcard = min((path.find(c) for c in "*?[" if c in path), default=-1)
        if wildcard < 0:
            infos = [fs.get_file_info(path)]
        else:
            base = path[: path.rfind("/", 0, wildcard)]
            selector = pa_fs.FileSelector(base, recursive=True, allow_not_found=True)
            matches = glob_regex(path).fullmatch
            infos = [i for i in fs.get_file_info(selector) if matches(i.path)]
        files = [i for i in infos if i.type == pa_fs.FileType.File]
        if not files:
            raise BatchError(f"no object matches {pattern}: check the bucket, the path and the pattern")
        for info in files:
            file_format(info.path)
            mtime = info.mtime.isoformat() if info.mtime else ""
            found[info.path] = Input(f"s3://{info.path}", int(info.size or 0), mtime)
    return [found[key] for key in sorted(found)]


def chunks(fs: pa_fs.FileSystem, source: Input, chunk_rows: int) -> Iterator[pa.Table]:
    """The file's rows in chunks of exactly `chunk_rows` (the last may be shorter), the same on every run."""
    path = s3_path(source.uri)
    batches: Iterator[pa.RecordBatch]
    if file_format(path) == "parquet":
        batches = pq.ParquetFile(fs.open_input_file(path)).iter_batches(batch_size=chunk_rows)
    else:
        options = pa_csv.ReadOptions(use_threads=False, block_size=1 << 22)
        batches = iter(pa_csv.open_csv(fs.open_input_stream(path), read_options=options))
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def part_name(file_index: int, chunk_index: int) -> str:
    return f"part-{file_index:05d}-{chunk_index:06d}.parquet"


def predictions_frame(predicted: Any, rows: int) -> pd.DataFrame:
    """The model's output as columns: `prediction`, or `prediction_<name>` for several."""
    if isinstance(predicted, pd.Series):
        predicted = predicted.to_numpy()
    if isinstance(predicted, pd.DataFrame):
        frame = predicted.reset_index(drop=True)
        if frame.shape[1] == 1:
            return frame.set_axis(["prediction"], axis=1)
        return frame.rename(columns=lambda c: f"prediction_{c}")
    values = np.asarray(predicted)
    if values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1):
        return pd.DataFrame({"prediction": values.reshape(rows)})
    return pd.DataFrame({f"prediction_{i}": values[:, i] for i in range(values.shape[1])})


class BatchRun:
    """One run of `plan` writing into `output` (a folder URI); `run()` scores the parts not yet present."""

    def __init__(self, fs: pa_fs.FileSystem, plan: Plan, output: str, model: Any) -> None:
        self.fs, self.plan, self.output, self.model = fs, plan, s3_path(output), model

    def done_parts(self) -> set[str]:
        selector = pa_fs.FileSelector(self.output, allow_not_found=True)
        return {i.base_name for i in self.fs.get_file_info(selector) if i.base_name.startswith("part-")}

    def run(self, progress: Any = None) -> dict[str, Any]:
        say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
        done = self.done_parts()
        if done:
            say(f"resuming: {len(done)} parts already in s3://{self.output}, scoring the rest")
        started, scored, skipped, parts = time.monotonic(), 0, 0, 0
        for file_index, source in enumerate(self.plan.inputs):
            for chunk_index, table in enumerate(chunks(self.fs, source, self.plan.chunk_rows)):
                name = part_name(file_index, chunk_index)
                parts += 1
                if name in done:
                    skipped += table.num_rows
                    continue
                first_row = chunk_index * self.plan.chunk_rows
                self._write(name, self._score(file_index, source, first_row, table))
                scored += table.num_rows
                elapsed = max(time.monotonic() - started, 1e-9)
                say(
                    f"{source.uri} rows {first_row:,}-{first_row + table.num_rows - 1:,} → {name} · "
                    f"{scored:,} rows scored, {scored / elapsed:,.0f} rows/s"
                )
        summary = {
            "model_name": self.plan.model_name,
            "model_version": self.plan.model_version,
            "parts": parts,
            "rows": scored + skipped,
            "rows_scored": scored,
            "rows_resumed": skipped,
            "seconds": round(time.monotonic() - started, 3),
            "output": f"s3://{self.output}",
        }
        with self.fs.open_output_stream(f"{self.output}/{SUCCESS}") as stream:
            stream.write(json.dumps(summary, indent=2).encode())
        return summary

    def _score(self, file_index: int, source: Input, first_row: int, table: pa.Table) -> pa.Table:
        frame = table.to_pandas()
        try:
            predicted = self.model.predict(frame)
        except Exception as exc:  # the model's own error, with where it happened
            raise BatchError(
                f"model {self.plan.model_name} version {self.plan.model_version} failed on {source.uri} rows "
                f"{first_row:,}-{first_row + len(frame) - 1:,}: {exc}"
            ) from exc
        rows = np.arange(first_row, first_row + len(frame), dtype=np.int64)
        ids = f"{self.plan.id}-{file_index:05d}-" + pd.Series(rows).astype(str).str.zfill(9)
        out = pd.DataFrame(
            {
                "request_id": ids,
                "model_name": self.plan.model_name,
                "model_version": self.plan.model_version,
                "source": source.uri,
                "row": rows,
            }
        )
        return pa.Table.from_pandas(pd.concat([out, predictions_frame(predicted, len(frame))], axis=1))

    def _write(self, name: str, table: pa.Table) -> None:
        # One PUT per part: the object appears whole or not at all.
        pq.write_table(table, f"{self.output}/{name}", filesystem=self.fs)


def read_plan(fs: pa_fs.FileSystem, output: str) -> Plan | None:
    path = f"{s3_path(output)}/{PLAN}"
    if fs.get_file_info(path).type != pa_fs.FileType.File:
        return None
    with fs.open_input_stream(path) as stream:
        return Plan.from_dict(json.loads(stream.read()))


def plan_run(
    fs: pa_fs.FileSystem,
    model_name: str,
    inputs: list[str],
    output: str,
    chunk_rows: int,
    version: str | None,
    alias: str,
    resolve: Any,
) -> Plan:
    """The run's plan: the one stored in `output` when these arguments resumed it, else a new one, stored."""
    # A glob may reach into the output folder (inputs and predictions side by side): never score predictions.
    inside = f"s3://{s3_path(output)}/"
    found = [i for i in expand(fs, inputs) if not i.uri.startswith(inside)]
    if not found:
        raise BatchError(f"every object matching the inputs is inside the output folder {output}: name other inputs")
    stored = read_plan(fs, output)
    if stored is not None:
        if (stored.model_name, stored.chunk_rows, stored.inputs) != (model_name, chunk_rows, tuple(found)):
            raise BatchError(
                f"{output} holds a run of {stored.model_name} over other inputs or another chunk size "
                f"({len(stored.inputs)} files, {stored.chunk_rows} rows per chunk): choose a new --output, "
                "or delete that folder to start over"
            )
        if version is not None and version != stored.model_version:
            raise BatchError(
                f"{output} holds a run with version {stored.model_version}, not {version}: resume it without "
                "--version, or choose a new --output"
            )
        return stored
    plan = Plan(model_name, version or resolve(model_name, alias), chunk_rows, tuple(found))
    with fs.open_output_stream(f"{s3_path(output)}/{PLAN}") as stream:
        stream.write(json.dumps(plan.as_dict(), indent=2).encode())
    return plan


def _resolve_alias(model_name: str, alias: str) -> str:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        raise BatchError(
            f"registered model {model_name!r} has no version with alias @{alias}: promote one, or pass --version"
        ) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlp-batch-predict",
        description="Score Parquet or CSV files in object storage with a registered model version; resumable.",
    )
    parser.add_argument("model", help="The registered model's name.")
    parser.add_argument(
        "--input", action="append", required=True, help="s3://BUCKET/PATH, globs allowed (*.parquet, *.csv)."
    )
    parser.add_argument("--output", required=True, help="s3://BUCKET/FOLDER for the parts and the run's plan.")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", help="A version number (default: the version behind --alias).")
    which.add_argument("--alias", default="champion", help="The alias to score with (default: champion).")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="Rows per chunk and output part.")
    args = parser.parse_args(argv)
    if args.chunk_rows < 1:
        parser.error("--chunk-rows must be at least 1")
    try:
        fs = filesystem()
        plan = plan_run(
            fs, args.model, args.input, args.output, args.chunk_rows, args.version, args.alias, _resolve_alias
        )
        print(
            f"scoring {len(plan.inputs)} files with {plan.model_name} version {plan.model_version} "
            f"into {args.output} ({plan.chunk_rows:,} rows per part)",
            file=sys.stderr,
            flush=True,
        )
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(f"models:/{plan.model_name}/{plan.model_version}")
        summary = BatchRun(fs, plan, args.output, model).run()
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # pyarrow's S3 errors: credentials, endpoint, missing bucket
        print(f"error: object storage refused the request: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
