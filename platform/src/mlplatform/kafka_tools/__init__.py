"""Kafka's own command-line tools against the local broker, logged in as the platform's operator user.

A data engineer's first moves are `kafka-topics` and `kafka-console-consumer`. The tools of the broker's
version come from the same Maven cache as the broker (platform/runtimes/kafka/pom.xml); this module runs
them on the SCRAM listener with a client configuration written into `$MLP_HOME/secrets` (owner-only, as
every other credential there), so no password is typed, printed or passed on a command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlplatform.config import Settings
from mlplatform.runtime.service import write_if_changed
from mlplatform.runtime.services.kafka import SCRAM_MECHANISM, Kafka
from mlplatform.tools import PROJECT_ROOT, Toolchain

LOG_CONFIG = PROJECT_ROOT / "platform" / "runtimes" / "kafka" / "config" / "tools-log4j2.properties"


@dataclass(frozen=True)
class Tool:
    """One upstream tool: its main class and the option that takes a client configuration file."""

    main_class: str
    config_option: str


TOOLS = {
    "topics": Tool("org.apache.kafka.tools.TopicCommand", "--command-config"),
    "consume": Tool("org.apache.kafka.tools.consumer.ConsoleConsumer", "--command-config"),
    "produce": Tool("org.apache.kafka.tools.ConsoleProducer", "--command-config"),
    "groups": Tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--command-config"),
}


def client_config(settings: Settings) -> Path:
    """The operator user's SCRAM client settings, in the owner-only secrets folder (rewritten when they change)."""
    kafka = Kafka(settings)
    user = settings.kafka.tools_user
    password = kafka.password(user).replace("\\", "\\\\").replace('"', '\\"')
    path = settings.secrets_dir / "kafka-client.properties"
    settings.secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.secrets_dir, 0o700)
    write_if_changed(
        path,
        "security.protocol=SASL_PLAINTEXT\n"
        f"sasl.mechanism={SCRAM_MECHANISM}\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";\n',
        mode=0o600,
    )
    return path


def argv(settings: Settings, name: str, args: list[str]) -> list[str]:
    """The command line of tool `name` with the local bootstrap server and client configuration filled in."""
    tool, tools, kafka = TOOLS[name], Toolchain(settings), Kafka(settings)
    return [
        str(tools.java),
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={LOG_CONFIG}",
        "-cp",
        tools.kafka_classpath,
        tool.main_class,
        "--bootstrap-server",
        kafka.sasl_bootstrap_servers,
        tool.config_option,
        str(client_config(settings)),
        *args,
    ]
