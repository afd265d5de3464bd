"""Kafka and Connect: broker health, throughput, connector and task states (JMX exporter rules of the chart).

Metric names are those of the chart's JMX exporter rules (ConfigMap <release>-kafka-metrics); the local broker
and worker must export with the same rules.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from mlplatform.observability.dashboards.common import NS, RATE, Query, build, graph, rate_by, single

FILE = "kafka-connect.json"


def dashboard() -> db.Dashboard:
    brokers = [
        single(
            "Brokers reporting",
            "Brokers whose JMX exporter answers (each reports its leader partition count).",
            [Query(f"count(kafka_server_replicamanager_leadercount{{{NS}}})", "brokers")],
        ),
        single(
            "Active controllers",
            "Exactly one KRaft controller must be active.",
            [Query(f"sum(kafka_controller_kafkacontroller_activecontrollercount{{{NS}}})", "active")],
        ),
        single(
            "Under-replicated partitions",
            "Partitions with fewer in-sync replicas than configured; KafkaUnderReplicatedPartitions fires when > 0.",
            [Query(f"sum(kafka_server_replicamanager_underreplicatedpartitions{{{NS}}})", "under-replicated")],
            red_above=1,
        ),
        single(
            "Offline partitions",
            "Partitions without a leader: nobody can read or write them.",
            [Query(f"sum(kafka_controller_kafkacontroller_offlinepartitionscount{{{NS}}})", "offline")],
            red_above=1,
        ),
        graph(
            "Messages in per second by topic",
            "Records appended to each topic.",
            [
                Query(
                    rate_by("kafka_server_brokertopicmetrics_messagesinpersec_total", "topic", f'{NS}, topic!=""'),
                    "{{topic}}",
                )
            ],
            unit="ops",
        ),
        graph(
            "Bytes in and out per second",
            "Broker network throughput (all topics).",
            [
                Query(
                    rate_by("kafka_server_brokertopicmetrics_bytesinpersec_total", "namespace", f'{NS}, topic=""'), "in"
                ),
                Query(
                    rate_by("kafka_server_brokertopicmetrics_bytesoutpersec_total", "namespace", f'{NS}, topic=""'),
                    "out",
                ),
            ],
            unit="Bps",
        ),
        graph(
            "Request latency p99",
            "Total time of produce and fetch requests at the 99th percentile, as the broker measures it.",
            [
                Query(
                    f'max by (request) (kafka_network_requestmetrics_totaltimems{{{NS}, quantile="99thPercentile"}})',
                    "{{request}}",
                )
            ],
            unit="ms",
            width=24,
        ),
    ]
    connect = [
        single(
            "Failed connector tasks",
            "Tasks in state FAILED; KafkaConnectTaskFailed fires after 5 minutes.",
            [Query(f"sum(kafka_connect_worker_connector_failed_task_count{{{NS}}}) or vector(0)", "failed")],
            red_above=1,
        ),
        single(
            "Running connectors",
            "Connectors in state RUNNING on the workers.",
            [Query(f'count(kafka_connect_connector_status{{{NS}, status="running"}}) or vector(0)', "running")],
        ),
        single(
            "Connector states",
            "Connectors by state (running, paused, failed, ...).",
            [Query(f"count by (status) (kafka_connect_connector_status{{{NS}}})", "{{status}}")],
        ),
        single(
            "Task states",
            "Connector tasks by state.",
            [Query(f"count by (status) (kafka_connect_connector_task_status{{{NS}}})", "{{status}}")],
        ),
        graph(
            "Connector and task status",
            "Each connector's and task's state over time (one line per state it was in).",
            [
                Query(
                    f"max by (connector, status) (kafka_connect_connector_status{{{NS}}})", "{{connector}} {{status}}"
                ),
                Query(
                    f"max by (connector, task, status) (kafka_connect_connector_task_status{{{NS}}})",
                    "{{connector}}/{{task}} {{status}}",
                ),
            ],
        ),
        graph(
            "Records moved per second by connector",
            "Records source tasks wrote to Kafka and sink tasks read from it.",
            [
                Query(
                    rate_by("kafka_connect_source_task_source_record_write_total", "connector", NS, RATE),
                    "{{connector}} written",
                ),
                Query(
                    rate_by("kafka_connect_sink_task_sink_record_read_total", "connector", NS, RATE),
                    "{{connector}} read",
                ),
            ],
            unit="ops",
        ),
    ]
    return build(
        "mlp-kafka-connect",
        "ML platform / Kafka and Connect",
        "Kafka brokers and Kafka Connect: health, throughput, connector and task states.",
        [],
        [("Brokers", brokers), ("Kafka Connect", connect)],
    )
