"""`mlp-features`: the feature processor's command line (Faust's, with `worker` as the default command)."""

from __future__ import annotations

from mlstreaming.features.app import build, topics
from mlstreaming.worker import run


def main() -> None:
    run(lambda settings: build(settings).app, topics, lambda settings: settings.features_metrics_port)


if __name__ == "__main__":
    main()
