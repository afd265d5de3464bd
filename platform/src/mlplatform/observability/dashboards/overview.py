"""Platform overview: is every component scraped and up, what is firing, where data flows and waits.

Built only from series both the cluster and the local platform have (`up` of every scrape target, the
platform's alerts, Kafka's JMX rules, the processors' lag, process memory), so it shows data everywhere.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from mlplatform.observability.dashboards.common import NS, Query, build, graph, single

FILE = "overview.json"


def dashboard() -> db.Dashboard:
    health = [
        single(
            "Scrape targets down",
            "Targets Prometheus scrapes in this namespace that did not answer the last scrape.",
            [Query(f"count(up{{{NS}}} == 0) or vector(0)")],
            red_above=1,
        ),
        single(
            "Firing platform alerts",
            "Alerts of the platform's rules firing now (see Alertmanager for details).",
            [Query(f'count(ALERTS{{{NS}, alertstate="firing"}}) or vector(0)')],
            red_above=1,
        ),
        graph(
            "Targets up by job",
            "Answering scrape targets per job: a dip is a component down or restarting.",
            [Query(f"sum by (job) (up{{{NS}}})", "{{job}}")],
        ),
    ]
    flow = [
        graph(
            "Messages in per second by topic",
            "Records written to each Kafka topic (broker JMX).",
            [
                Query(
                    "sum by (topic) (rate(kafka_server_brokertopicmetrics_messagesinpersec_total"
                    f'{{{NS}, topic!=""}}[5m]))',
                    "{{topic}}",
                )
            ],
            unit="ops",
        ),
        graph(
            "Stream processor lag",
            "Records waiting in the processors' input topics.",
            [Query(f"sum by (processor, topic) (mlp_stream_consumer_lag{{{NS}}})", "{{processor}} {{topic}}")],
        ),
        graph(
            "Resident memory by job",
            "Memory of the platform's processes as they report it (JVMs, Python services, Prometheus).",
            [Query(f"sum by (job) (process_resident_memory_bytes{{{NS}}})", "{{job}}")],
            unit="bytes",
            width=24,
        ),
    ]
    return build(
        "mlp-overview",
        "ML platform / Overview",
        "Every component scraped and up, firing alerts, data flow and memory.",
        [],
        [("Health", health), ("Data flow and resources", flow)],
    )
