"""`mlp kafka`: Kafka's own tools of the broker's version, on the SCRAM listener, against the real broker."""

from __future__ import annotations

import stat

from mlplatform.config import Settings
from mlplatform.credentials import Credentials

from tests.conftest import run_mlp
from tests.runtime.helpers import unique


def test_create_produce_consume_and_see_the_group(platform: Settings, credentials: Credentials) -> None:
    topic, group = unique("tools"), unique("reader")
    run_mlp("kafka", "topics", "--create", "--topic", topic, "--partitions", "2")
    described = run_mlp("kafka", "topics", "--describe", "--topic", topic).stdout
    assert f"Topic: {topic}" in described and "PartitionCount: 2" in described, described
    assert topic in run_mlp("kafka", "topics", "--list").stdout.split()

    records = ['{"id": 1}', '{"id": 2}', '{"id": 3}']
    run_mlp("kafka", "produce", topic, stdin="\n".join(records) + "\n")
    consumed = run_mlp(
        "kafka", "consume", topic, "--from-beginning", "--max-messages", "3", "--group", group, "--timeout-ms", "60000"
    )
    assert sorted(consumed.stdout.splitlines()) == sorted(records), consumed.stdout + consumed.stderr
    assert group in run_mlp("kafka", "groups", "--list").stdout.split()
    offsets = run_mlp("kafka", "groups", "--describe", "--group", group).stdout
    assert topic in offsets, offsets

    # The operator user logged in with the password from the secrets folder, which no output shows.
    config = platform.secrets_dir / "kafka-client.properties"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert f'username="{platform.kafka.tools_user}"' in config.read_text()
    password = credentials.generated(f"kafka-user-{platform.kafka.tools_user}").get_secret_value()
    for result in (described, consumed.stdout, consumed.stderr, offsets):
        assert password not in result


def test_the_topic_comes_first_and_a_missing_one_is_named(platform: Settings) -> None:
    misplaced = run_mlp("kafka", "consume", "--from-beginning", "features", check=False)
    assert misplaced.returncode != 0 and "name the topic first" in misplaced.stderr, misplaced.stderr
    missing = unique("absent")
    described = run_mlp("kafka", "topics", "--describe", "--topic", missing, check=False)
    assert described.returncode != 0 and missing in described.stdout + described.stderr, described
