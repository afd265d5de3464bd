"""`mlp kafka`: Kafka's own topics, console consumer and producer, and consumer-group tools, logged in.

Each command hands its options to the upstream tool unchanged (its own `--help` lists them:
`mlp kafka topics -- --help`); only the broker address and the SCRAM client settings are filled in.
"""

from __future__ import annotations

import subprocess
from typing import Annotated

import typer

from mlplatform.config import Settings
from mlplatform.errors import PlatformError, ToolMissing
from mlplatform.kafka_tools import argv
from mlplatform.runtime.services.kafka import Kafka

app = typer.Typer(
    help="Kafka's command-line tools against the local broker, logged in as the operator user.",
    no_args_is_help=True,
)
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
Topic = Annotated[str, typer.Argument(help="The topic (first, before the tool's own options).", show_default=False)]


def _run(name: str, args: list[str]) -> None:
    settings = Settings()
    kafka = Kafka(settings)
    if not (kafka.tools.kafka_home / ".complete").exists():
        raise ToolMissing("Kafka's command-line tools are not installed: run `mlp setup` (or `make setup`).")
    if not kafka.tcp_open(settings.kafka.sasl_port):
        raise PlatformError(
            f"Kafka is not answering on {kafka.sasl_bootstrap_servers}: start it with `mlp up kafka` "
            "(`mlp status` shows what runs)."
        )
    raise typer.Exit(subprocess.run(argv(settings, name, args), check=False).returncode)


def _topic_first(topic: str, command: str) -> str:
    if topic.startswith("-"):
        raise PlatformError(f"name the topic first: `mlp kafka {command} TOPIC [options]` (got {topic!r} first)")
    return topic


@app.command(context_settings=PASSTHROUGH)
def topics(ctx: typer.Context) -> None:
    """kafka-topics: `--list`, `--describe --topic features`, `--create --topic t --partitions 3`, …"""
    _run("topics", ctx.args)


@app.command(context_settings=PASSTHROUGH)
def consume(ctx: typer.Context, topic: Topic) -> None:
    """kafka-console-consumer: `mlp kafka consume features --from-beginning --max-messages 5`, …"""
    _run("consume", ["--topic", _topic_first(topic, "consume"), *ctx.args])


@app.command(context_settings=PASSTHROUGH)
def produce(ctx: typer.Context, topic: Topic) -> None:
    """kafka-console-producer: one record per line of standard input, e.g. `mlp kafka produce t < records.jsonl`."""
    _run("produce", ["--topic", _topic_first(topic, "produce"), *ctx.args])


@app.command(context_settings=PASSTHROUGH)
def groups(ctx: typer.Context) -> None:
    """kafka-consumer-groups: `--list`, `--describe --group mlp-features`, …"""
    _run("groups", ctx.args)
