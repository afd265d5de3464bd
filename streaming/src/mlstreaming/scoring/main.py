"""`mlp-scoring`: the scoring processor's command line (Faust's, with `worker` as the default command)."""

from __future__ import annotations

from mlstreaming.scoring.app import build, topics
from mlstreaming.worker import run


def main() -> None:
    run(lambda settings: build(settings).app, topics, lambda settings: settings.scoring_metrics_port)


if __name__ == "__main__":
    main()
