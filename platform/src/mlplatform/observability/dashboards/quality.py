"""Model quality: champion and challenger evaluation metrics, prediction distribution and feature drift.

All from the model-metrics exporter (mlplatform.observability.model_exporter).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common

from mlplatform.observability.dashboards.common import (
    NS,
    RATE,
    Query,
    build,
    canary_decisions,
    distribution,
    graph,
    label_variable,
    rate_by,
    single,
)

FILE = "model-quality.json"
SEL = f'{NS}, model=~"$model"'


def dashboard() -> db.Dashboard:
    registry = [
        single(
            "Versions under each alias",
            "Which registered version each alias (champion, challenger) points to.",
            [
                Query(
                    f"max by (model, alias, version) (mlp_model_alias_info{{{SEL}}})",
                    "{{model}} {{alias}}: v{{version}}",
                )
            ],
            width=12,
            text_mode=common.BigValueTextMode.NAME,
        ),
        single(
            "Registry readable",
            "1 while the exporter reads MLflow's registry; 0 raises ModelRegistryUnreadable after 10 minutes.",
            [Query(f"min(mlp_model_exporter_registry_up{{{NS}}})", "registry up")],
            width=12,
        ),
        graph(
            "Champion metrics over versions",
            "Evaluation metrics of the champion; a promotion shows as a new version's line.",
            [
                Query(
                    f'max by (model, version, metric) (mlp_model_metric{{{SEL}, alias="champion"}})',
                    "{{model}} v{{version}} {{metric}}",
                )
            ],
        ),
        graph(
            "Champion vs challenger metrics",
            "The same metric of the champion and the challenger, the promotion decision at a glance.",
            [Query(f"max by (model, alias, metric) (mlp_model_metric{{{SEL}}})", "{{model}} {{alias}} {{metric}}")],
        ),
    ]
    predictions = [
        distribution(
            "Prediction distribution (time range)",
            "Predictions read from the prediction log in the dashboard's time range, by upper bucket bound.",
            Query(f"sum by (le) (increase(mlp_model_prediction_bucket{{{SEL}}}[$__range]))", "{{le}}"),
        ),
        graph(
            "Judge's input: share of positive predictions by version",
            "Share of each version's logged predictions above 0.5 over 5 minutes: canary against champion on the "
            "score histogram the judge's score_psi gate compares. Orange marks: the judge's decisions.",
            [
                Query(
                    f'1 - sum by (model, version) (rate(mlp_model_prediction_bucket{{{SEL}, le="0.5"}}[{RATE}]))'
                    f" / sum by (model, version) (rate(mlp_model_prediction_count{{{SEL}}}[{RATE}]))",
                    "{{model}} v{{version}}",
                )
            ],
            unit="percentunit",
        ),
        graph(
            "Judge's input: predictions with an outcome, by version and outcome",
            "Logged predictions joined with their label (is_fraud on the warehouse's change topic) per second: the "
            "true/false positives and negatives behind the judge's precision_drop and recall_drop gates.",
            [
                Query(
                    rate_by("mlp_model_outcomes_total", "model, version, outcome", SEL, RATE),
                    "{{model}} v{{version}} {{outcome}}",
                )
            ],
            unit="ops",
        ),
        graph(
            "Mean prediction by version",
            "Mean of each version's latest predictions (the drift window).",
            [Query(f"max by (model, version) (mlp_model_prediction_mean{{{SEL}}})", "{{model}} v{{version}}")],
        ),
        graph(
            "Logged predictions per second by version",
            "Records of the prediction log, per model version.",
            [Query(rate_by("mlp_model_prediction_count", "model, version", SEL, RATE), "{{model}} v{{version}}")],
            unit="ops",
        ),
    ]
    drift = [
        graph(
            "Feature drift (PSI)",
            "Population stability index of each feature's latest values against training's reference (or the "
            "version's first predictions, reference=baseline); ModelFeatureDriftHigh fires above 0.2.",
            [
                Query(
                    f"max by (model, version, feature, reference) (mlp_model_feature_drift_psi{{{SEL}}})",
                    "{{model}} v{{version}} {{feature}} ({{reference}})",
                )
            ],
            threshold=0.2,
        ),
        graph(
            "Feature mean shift (reference standard deviations)",
            "How far each feature's mean moved from the reference.",
            [
                Query(
                    f"max by (model, version, feature) (mlp_model_feature_mean_shift{{{SEL}}})",
                    "{{model}} v{{version}} {{feature}}",
                )
            ],
        ),
    ]
    return build(
        "mlp-model-quality",
        "ML platform / Model quality",
        "Registered models: champion and challenger metrics, what the served models predict, feature drift.",
        [label_variable("model", "Model", '{__name__=~"mlp_model_alias_info|mlp_model_drift_window_records"}')],
        [("Registry", registry), ("Predictions", predictions), ("Drift", drift)],
        [canary_decisions(SEL)],
    )
