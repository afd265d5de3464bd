"""`mlp-promote`: decide and roll out, printing the decision as JSON on stdout (and nothing else).

Exit 0 when a decision was taken (promoted or not), 2 on bad input, 1 when the rollout failed.
Defaults follow the platform's `MLP_*` settings, so inside `mlp`'s environment no option is needed
beyond what names the model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from mlp_promoter.decision import COMPARISONS
from mlp_promoter.errors import PromoterError

COMMANDS = ("promote", "finalize", "rollback", "judge")


def _mlp_home() -> Path:
    if os.environ.get("MLP_HOME"):
        return Path(os.environ["MLP_HOME"])
    if os.geteuid() == 0:
        return Path("/var/lib/mlp")
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "mlp"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parser(command: str) -> argparse.ArgumentParser:
    host = _env("MLP_HOST", "127.0.0.1")
    p = argparse.ArgumentParser(
        prog="mlp-promote" if command == "promote" else f"mlp-promote {command}",
        description={
            "promote": "Promote the best run of an experiment when the policy allows it, and roll it out.",
            "finalize": "Give the canary all traffic and make it the champion.",
            "rollback": "Withdraw the canary; the champion keeps all traffic.",
            "judge": "Judge the canary on its live traffic against the champion: finalize, roll back or extend.",
        }[command],
    )
    p.add_argument("--model-name", required=True, help="registered model name")
    if command == "promote":
        p.add_argument("--experiment", required=True, help="MLflow experiment whose runs compete")
        p.add_argument("--policy", required=True, help="promotion policy as JSON, or @file (.json/.yaml)")
        p.add_argument("--model-artifact", help="name of the logged model when a run logged several")
        p.add_argument(
            "--compare",
            choices=COMPARISONS,
            default="offline",
            help="offline: the best run must beat the champion's metric by the margin; live (a retraining started "
            "by new data or a signal): the newest run challenges the champion as a canary, for the judge",
        )
    if command == "rollback":
        p.add_argument("--reason", default="rolled back by an operator", help="recorded on the version")
    if command == "judge":
        p.add_argument(
            "--prometheus-url",
            default=_env("MLP_PROMOTER_PROMETHEUS_URL", f"http://{host}:{_env('MLP_PROMETHEUS__PORT', '9090')}"),
            help="the Prometheus that scrapes the scoring processor and the model-metrics exporter",
        )
        p.add_argument("--wait", action="store_true", help="wait for the window (and one extension) to end")
    p.add_argument(
        "--target",
        choices=("local", "seldon"),
        default="seldon" if command != "promote" else None,
        required=command == "promote",
        help="serve locally with MLServer, or as a SeldonDeployment",
    )
    p.add_argument("--dry-run", action="store_true", help="change nothing; print the decision and manifests")
    p.add_argument("--output-dir", type=Path, help="seldon: write manifests here (GitOps) instead of applying")
    p.add_argument(
        "--tracking-uri", default=_env("MLFLOW_TRACKING_URI", f"http://{host}:{_env('MLP_MLFLOW__PORT', '5000')}")
    )
    seldon = p.add_argument_group("seldon target")
    seldon.add_argument("--namespace", default=_env("MLP_PROMOTER_NAMESPACE", "mlp-models"))
    seldon.add_argument(
        "--secret-name",
        default=_env("MLP_PROMOTER_S3_SECRET", "mlp-seldon-rclone"),
        help="rclone-style S3 Secret for Seldon's storage initializer (envSecretRefName)",
    )
    seldon.add_argument(
        "--artifact-root",
        default=_env("MLP_PROMOTER_ARTIFACT_ROOT", f"s3://{_env('MLP_MLFLOW__ARTIFACT_BUCKET', 'mlflow')}"),
        help="S3 location behind the tracking server's mlflow-artifacts: URIs",
    )
    seldon.add_argument(
        "--replicas",
        type=int,
        help="replicas of each predictor when the policy does not autoscale (default: autoscaling.min_replicas)",
    )
    seldon.add_argument(
        "--cpu-request",
        default="100m",
        help="CPU the model container requests when the policy autoscales (the CPU target is a share of it)",
    )
    local = p.add_argument_group("local target")
    local.add_argument(
        "--server-url",
        default=_env("MLP_PROMOTER_SERVER_URL", f"http://{host}:{_env('MLP_MODEL_SERVER__PORT', '8080')}"),
    )
    local.add_argument(
        "--model-repository",
        type=Path,
        default=Path(_env("MLP_PROMOTER_MODEL_REPOSITORY", str(_mlp_home() / "data" / "model-server" / "models"))),
    )
    return p


def run(argv: list[str]) -> dict[str, Any]:
    command = argv[0] if argv and argv[0] in COMMANDS else "promote"
    args = parser(command).parse_args(argv[1:] if argv and argv[0] in COMMANDS else argv)

    from mlflow import MlflowClient

    from mlp_promoter import promote
    from mlp_promoter.policy import load_policy
    from mlp_promoter.registry import Registry
    from mlp_promoter.targets import target_class

    policy = load_policy(args.policy) if command == "promote" else None
    os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri  # artifact downloads use it too
    registry = Registry(MlflowClient(tracking_uri=args.tracking_uri), args.model_name)
    target = target_class(args.target).from_cli(args)
    if command == "finalize":
        return promote.finalize(registry, target)
    if command == "rollback":
        return promote.rollback(registry, target, args.reason)
    if command == "judge":
        return promote.judge(registry, target, args.prometheus_url, wait=args.wait)
    assert policy is not None
    return promote.promote(registry, args.experiment, policy, target, args.model_artifact, args.compare)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    from mlflow.exceptions import MlflowException

    try:
        # Libraries (Tempo, MLflow) print; stdout is kept for the one JSON decision.
        with contextlib.redirect_stdout(sys.stderr):
            result = run(sys.argv[1:] if argv is None else argv)
    except PromoterError as exc:
        print(f"mlp-promote: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except MlflowException as exc:
        print(f"mlp-promote: error: MLflow: {exc.message}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
