"""Trains and predicts for the promotion tests, in the MLServer environment (MLflow + scikit-learn).

One process for the whole session (importing MLflow and scikit-learn is the slow part): each stdin
line is a JSON request, each stdout line its JSON answer. `train` logs runs with real models and
the metrics the test chose, so every promotion case is exact; `predict` loads a registered version
with MLflow pyfunc, the reference the served model must match.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

FEATURES = ["amount", "hour", "merchant_risk", "velocity"]


def frame(seed: int, rows: int) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, len(FEATURES))), columns=FEATURES)


def train(request: dict[str, Any]) -> list[str]:
    mlflow.set_experiment(request["experiment"])
    run_ids = []
    for run in request["runs"]:
        seed = run.get("seed", 0)
        features = frame(seed, 400)
        weights = np.random.default_rng(seed + 1000).normal(size=len(FEATURES))
        labels = (features.to_numpy() @ weights > 0).astype(int)
        model = LogisticRegression(max_iter=200, C=run.get("C", 1.0)).fit(features, labels)
        with mlflow.start_run() as active:
            mlflow.log_params({"seed": seed, "C": run.get("C", 1.0)})
            mlflow.log_metrics(run.get("metrics", {}))
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(features, model.predict(features)),
                # Stated, not inferred: inference loads the model in a subprocess, slowly.
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
        run_ids.append(active.info.run_id)
    return run_ids


def train_online(request: dict[str, Any]) -> str:
    """Log one run whose model is `online_model.py` (scoring features in), behaving as `config` says."""
    mlflow.set_experiment(request["experiment"])
    example = pd.DataFrame([[120.0] + [1.0] * (len(request["columns"]) - 1)], columns=request["columns"])
    with mlflow.start_run() as active:
        mlflow.log_metrics(request.get("metrics", {}))
        mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("online_model.py")),
            model_config=request.get("config", {}),
            input_example=example,
            pip_requirements=["pandas", "numpy"],
        )
    return str(active.info.run_id)


def predict(request: dict[str, Any]) -> dict[str, Any]:
    rows = frame(99, request.get("rows", 16))
    predictions = np.asarray(mlflow.pyfunc.load_model(request["model_uri"]).predict(rows)).ravel().tolist()
    return {"columns": FEATURES, "rows": rows.to_numpy().tolist(), "predictions": predictions}


def main() -> None:
    mlflow.set_tracking_uri(sys.argv[1])
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # MLflow prints run links
                result: Any = {"train": train, "train_online": train_online, "predict": predict}[request["op"]](request)
            answers.write(json.dumps({"ok": result}) + "\n")
        except Exception:
            answers.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
