"""A single-node Kafka broker in KRaft mode (broker and controller in one process)."""

from __future__ import annotations

import base64
import subprocess
import uuid

from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialUpsertion
from kafka.errors import KafkaError

from mlplatform.errors import PlatformError
from mlplatform.runtime.service import Endpoint, Port, write_if_changed
from mlplatform.runtime.services.jvm import JavaService

SCRAM_MECHANISM = "SCRAM-SHA-512"


class Kafka(JavaService):
    name = "kafka"
    jmx_rules = "kafka.yaml"
    main_class = "kafka.Kafka"

    @property
    def heap(self) -> str:
        return self.settings.kafka.heap

    @property
    def metrics_port(self) -> int:
        return self.settings.kafka.metrics_port

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.settings.host}:{self.settings.kafka.port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        return f"{self.settings.host}:{self.settings.kafka.sasl_port}"

    def ports(self) -> list[Port]:
        k = self.settings.kafka
        return [
            Port("kafka.port", k.port),
            Port("kafka.sasl_port", k.sasl_port),
            Port("kafka.controller_port", k.controller_port),
            Port("kafka.metrics_port", k.metrics_port),
        ]

    @property
    def config_file(self) -> str:
        return str(self.run_dir / "server.properties")

    def prepare(self) -> None:
        super().prepare()
        k, host = self.settings.kafka, self.settings.host
        properties = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@{host}:{k.controller_port}",
            "listeners": (
                f"PLAINTEXT://{host}:{k.port},SASL_PLAINTEXT://{host}:{k.sasl_port},"
                f"CONTROLLER://{host}:{k.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{host}:{k.port},SASL_PLAINTEXT://{host}:{k.sasl_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
            "log.retention.hours": 168,
        }
        write_if_changed(self.run_dir / "server.properties", "".join(f"{k}={v}\n" for k, v in properties.items()))
        if not (self.data_dir / "logs" / "meta.properties").exists():
            self._format_storage()

    def _format_storage(self) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        result = subprocess.run(
            [
                str(self.tools.java),
                "-cp",
                self.tools.kafka_classpath,
                "kafka.tools.StorageTool",
                "format",
                "--config",
                self.config_file,
                "--cluster-id",
                cluster_id,
                "--ignore-formatted",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PlatformError(
                f"Formatting Kafka's storage in {self.data_dir} failed:\n{result.stdout}{result.stderr}"
            )

    def password(self, user: str) -> str:
        return self.credentials.generated(f"kafka-user-{user}").get_secret_value()

    def sasl_environment(self, prefix: str, user: str) -> dict[str, str]:
        """`<prefix>KAFKA_*` variables logging `user` in on the SCRAM listener (processors, model exporter)."""
        return {
            f"{prefix}KAFKA_BOOTSTRAP": self.sasl_bootstrap_servers,
            f"{prefix}KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            f"{prefix}KAFKA_SASL_MECHANISM": SCRAM_MECHANISM,
            f"{prefix}KAFKA_USERNAME": user,
            f"{prefix}KAFKA_PASSWORD": self.password(user),
        }

    def initialize(self) -> None:
        """(Re)set the SCRAM users, as Strimzi's User Operator does for KafkaUsers."""
        k = self.settings.kafka
        users = [k.processors_user, k.exporter_user, k.tools_user]
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=10_000)
        try:
            errors = admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion(user, SCRAM_MECHANISM, self.password(user)) for user in users]
            )
        finally:
            admin.close()
        refused = {user: error for user, error in errors.items() if error}
        if refused:
            raise PlatformError(f"Kafka refused SCRAM credentials: {refused}")

    def arguments(self) -> list[str]:
        return [self.config_file]

    def is_ready(self) -> bool:
        if not self.tcp_open(self.settings.kafka.port):
            return False
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=3000)
        except KafkaError:
            return False
        try:
            admin.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            admin.close()

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("Kafka bootstrap", self.bootstrap_servers)]
