"""Train the fraud classifier on the warehouse's labelled transactions and log it to MLflow.

Logs the parameters, held-out metrics (roc_auc, average_precision, f1, precision, recall, accuracy) and the
model (scikit-learn flavor, with signature and input example). Registration is the promoter's job.
Deterministic for a given seed and data.
"""

from __future__ import annotations

import argparse

import mlflow
import numpy as np
import pandas as pd
import sklearn
import skops
from features import FEATURE_COLUMNS, build_features
from mlflow.models import infer_signature
from psycopg import sql
from reference import ARTIFACT, feature_stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from warehouse import connect, table_identifier

MIN_ROWS = 200
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def as_int(value: str) -> int:
    return int(float(value))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="public.transactions")
    parser.add_argument("--seed", type=as_int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--max-iter", type=as_int, default=150)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-depth", type=as_int, default=6)
    parser.add_argument("--tumbling-seconds", type=float, default=60)
    parser.add_argument("--hopping-seconds", type=float, default=300)
    parser.add_argument("--hopping-step-seconds", type=float, default=60)
    return parser.parse_args(argv)


def load_transactions(table: str) -> pd.DataFrame:
    """Labelled rows only; unlabelled ones (e.g. live traffic) cannot be learned from."""
    query = sql.SQL(
        "SELECT id, account_id, amount, created_at, is_fraud FROM {} WHERE is_fraud IS NOT NULL ORDER BY id"
    ).format(table_identifier(table))
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute(query)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["id", "account_id", "amount", "created_at", "is_fraud"])
    return frame.astype({"amount": "float64", "is_fraud": "bool"})


def evaluate(model: HistGradientBoostingClassifier, x: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    scores = model.predict_proba(x)[:, 1]
    predicted = (scores >= 0.5).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(y, predicted)),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    transactions = load_transactions(args.table)
    labels = transactions["is_fraud"].astype(int).to_numpy()
    if len(transactions) < MIN_ROWS or labels.min() == labels.max():
        raise SystemExit(
            f"{args.table} has {len(transactions)} labelled rows ({int(labels.sum()) if len(labels) else 0} fraud): "
            f"need at least {MIN_ROWS} with both classes. Generate demo data with `python generate.py --rows 5000`."
        )
    features = build_features(transactions, args.tumbling_seconds, args.hopping_seconds, args.hopping_step_seconds)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=args.test_size, random_state=args.seed, stratify=labels
    )
    model = HistGradientBoostingClassifier(
        max_iter=args.max_iter,
        learning_rate=args.learning_rate,
        max_depth=args.max_depth,
        early_stopping=False,
        random_state=args.seed,
    ).fit(x_train, y_train)
    metrics = evaluate(model, x_test, y_test)

    with mlflow.start_run() as run:
        # `mlflow run` has already logged the MLproject parameters (as it formats them): log only the others.
        already = run.data.params
        params = {**vars(args), "train_rows": len(x_train), "test_rows": len(x_test)}
        mlflow.log_params({name: value for name, value in params.items() if name not in already})
        mlflow.set_tags({"mlp.features": ",".join(FEATURE_COLUMNS), "mlp.data.table": args.table})
        mlflow.log_metrics({**metrics, "fraud_share": float(labels.mean())})
        mlflow.log_dict(feature_stats(x_train), ARTIFACT)
        example = x_train.head(5)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            # Saved with skops (MLflow's default); these trees are our own, and the type is recorded in MLmodel
            # so loaders (pyfunc, MLServer) accept it.
            skops_trusted_types=TRUSTED_TYPES,
            # Pinned explicitly: faster and more predictable than inferring them in a subprocess.
            pip_requirements=[
                f"scikit-learn=={sklearn.__version__}",
                f"skops=={skops.__version__}",
                f"numpy=={np.__version__}",
                f"pandas=={pd.__version__}",
            ],
        )
    summary = ", ".join(f"{name}={value:.4f}" for name, value in metrics.items())
    print(f"run {run.info.run_id}: {len(transactions)} rows, {summary}")


if __name__ == "__main__":
    main()
