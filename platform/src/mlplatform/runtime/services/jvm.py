"""What the Kafka broker and the Connect worker share: a JVM on the cached Kafka classpath."""

from __future__ import annotations

import abc

from mlplatform.runtime.service import Service
from mlplatform.tools import KAFKA_RUNTIME, PROJECT_ROOT

#: JMX exporter rules shared with the chart, so local metrics have the cluster's names.
JMX_RULES = PROJECT_ROOT / "charts" / "mlplatform" / "files" / "jmx"


class JavaService(Service, abc.ABC):
    main_class: str

    @property
    @abc.abstractmethod
    def heap(self) -> str: ...

    @property
    @abc.abstractmethod
    def metrics_port(self) -> int: ...

    #: File name of this JVM's rules in JMX_RULES.
    jmx_rules: str

    @abc.abstractmethod
    def arguments(self) -> list[str]:
        """Arguments after the main class."""

    def argv(self) -> list[str]:
        config = KAFKA_RUNTIME / "config"
        return [
            str(self.tools.java),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={config / 'log4j2.properties'}",
            f"-javaagent:{self.tools.jmx_agent}={self.settings.host}:{self.metrics_port}:{JMX_RULES / self.jmx_rules}",
            "-cp",
            self.tools.kafka_classpath,
            self.main_class,
            *self.arguments(),
        ]
