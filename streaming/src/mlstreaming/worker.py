"""What both entry points share: Faust app settings, command-line defaults, topics and metrics before start."""

from __future__ import annotations

import sys
from collections.abc import Callable

import faust
from pydantic import ValidationError

from mlstreaming import metrics
from mlstreaming.settings import StreamingSettings
from mlstreaming.topics import KafkaRejectedCredentials, ensure_topics_sync


def faust_app(app_id: str, settings: StreamingSettings) -> faust.App:
    """At-least-once Faust app; outputs carry their input's id so duplicates after a crash are detectable."""
    return faust.App(
        app_id,
        broker=settings.broker_urls,
        broker_credentials=settings.broker_credentials(),
        processing_guarantee="at_least_once",
        store=settings.table_store,
        datadir=str(settings.data_dir / app_id),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_threaded=settings.producer_threaded,
        # Faust ignores a subscribed topic missing from the metadata when partitions are assigned (its own
        # internal topics can be, on a busy broker); a short refresh makes the consumer rejoin once it appears.
        consumer_metadata_max_age_ms=int(settings.metadata_max_age_seconds * 1000),
        web_enabled=False,
        autodiscover=False,
    )


def worker_argv(argv: list[str], settings: StreamingSettings) -> list[str]:
    """`worker` by default, without Faust's web server, logging at the configured level."""
    args = list(argv) or ["worker"]
    if args[0] == "worker":
        if not any(a in ("--with-web", "--without-web") for a in args):
            args.append("--without-web")
        if not any(a in ("-l", "--loglevel") or a.startswith("--loglevel=") for a in args):
            args += ["--loglevel", settings.log_level]
    return args


def run(
    build: Callable[[StreamingSettings], faust.App],
    topics: Callable[[StreamingSettings], list[str]],
    default_port: Callable[[StreamingSettings], int],
) -> None:
    """Create topics and start the metrics server for `worker`, then hand over to Faust's command line."""
    try:
        settings = StreamingSettings()
    except ValidationError as exc:
        sys.exit(f"Invalid streaming settings (MLP_STREAMING__* variables):\n{exc}")
    args = worker_argv(sys.argv[1:], settings)
    app = build(settings)
    if args[0] == "worker":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            ensure_topics_sync(settings, topics(settings))
        except KafkaRejectedCredentials as exc:
            sys.exit(str(exc))
        metrics.serve(settings.metrics_port if settings.metrics_port is not None else default_port(settings))
    sys.argv = [sys.argv[0], *args]
    app.main()
