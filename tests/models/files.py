"""Input files for batch prediction and the check of its output, run in the model runtime's environment.

The test process has no pandas or pyarrow; this script does (`python files.py write|check|signature`, a JSON request on
stdin, a JSON answer on stdout), with the same S3 variables as the batch program.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
from mlp_mlserver.batch import filesystem, s3_path


def write(request: dict[str, Any]) -> dict[str, Any]:
    """Feature rows into MinIO: each file is {"uri", "rows", "seed"}, Parquet or CSV by its suffix."""
    fs = filesystem()
    written = {}
    for spec in request["files"]:
        rng = np.random.default_rng(spec["seed"])
        # Columns are floats unless the request types them (a model signature's `long`/`integer` columns).
        types = request.get("types", {})
        frame = pd.DataFrame(
            {
                column: rng.integers(0, 200, spec["rows"])
                if types.get(column) in {"long", "integer"}
                else rng.uniform(0, 200, spec["rows"])
                for column in request["columns"]
            }
        )
        path = s3_path(spec["uri"])
        if path.endswith(".csv"):
            with fs.open_output_stream(path) as stream:
                stream.write(frame.to_csv(index=False).encode())
        else:
            pq.write_table(pa.Table.from_pandas(frame), path, filesystem=fs, row_group_size=spec.get("group", 4096))
        written[spec["uri"]] = frame["amount"].tolist()
    return {"amounts": written}


def check(request: dict[str, Any]) -> dict[str, Any]:
    """What the output folder holds: parts, rows, distinct ids and (source, row) pairs, versions, predictions."""
    fs = filesystem()
    folder = s3_path(request["output"])
    names = sorted(i.base_name for i in fs.get_file_info(pa_fs.FileSelector(folder, allow_not_found=True)))
    parts = [n for n in names if n.startswith("part-")]
    frames = [pq.read_table(f"{folder}/{n}", filesystem=fs).to_pandas() for n in parts]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    pairs = out[["source", "row"]].apply(tuple, axis=1) if len(out) else pd.Series(dtype=object)
    return {
        "files": names,
        "parts": len(parts),
        "rows": len(out),
        "distinct_request_ids": int(out["request_id"].nunique()) if len(out) else 0,
        "distinct_rows": int(pairs.nunique()),
        "versions": sorted(out["model_version"].unique().tolist()) if len(out) else [],
        "columns": list(out.columns),
        # source -> predictions in row order, for the test to compare with the model's rule
        "predictions": {
            source: group.sort_values("row")["prediction"].tolist() for source, group in out.groupby("source")
        }
        if len(out)
        else {},
        "rows_by_source": {source: group["row"].sort_values().tolist() for source, group in out.groupby("source")}
        if len(out)
        else {},
    }


def signature(request: dict[str, Any]) -> dict[str, Any]:
    """The input columns of a model (`model_uri`) and their MLflow types."""
    import mlflow.models

    inputs = mlflow.models.get_model_info(request["model_uri"]).signature.inputs.inputs
    return {"columns": [c.name for c in inputs], "types": {c.name: c.type.name for c in inputs}}


if __name__ == "__main__":
    answer = {"write": write, "check": check, "signature": signature}[sys.argv[1]](json.load(sys.stdin))
    json.dump(answer, sys.stdout)
