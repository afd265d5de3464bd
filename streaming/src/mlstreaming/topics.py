"""Creating the topics a processor reads and writes before it starts, so it never waits for a missing topic.

Faust creates only its own internal topics (changelogs, repartition topics); a subscription to a topic that does
not exist yet is ignored until the next metadata refresh, so the processors create theirs up front.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed, TopicAlreadyExistsError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from mlstreaming.settings import ENV_PREFIX, StreamingSettings

log = logging.getLogger(__name__)


class KafkaRejectedCredentials(Exception):
    """The broker answered but refused the configured user: retrying cannot help."""


async def check_credentials(settings: StreamingSettings) -> None:
    """Fail fast on a refused SASL login (the admin client would only retry and report `Unable to bootstrap`)."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return
    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    try:
        conn = await create_conn(host, int(port), request_timeout_ms=10_000, **settings.client_options())
    except SaslAuthenticationFailed as exc:
        raise KafkaRejectedCredentials(
            f"Kafka at {settings.kafka_bootstrap} refused user {settings.kafka_username!r} "
            f"({settings.kafka_sasl_mechanism}): {exc}. Check {ENV_PREFIX}KAFKA_USERNAME and "
            f"{ENV_PREFIX}KAFKA_PASSWORD (in the chart, the KafkaUser's Secret)."
        ) from None
    except (OSError, KafkaConnectionError):  # TimeoutError included
        return  # not reachable yet: the caller's retries handle it
    conn.close()


async def ensure_topics(settings: StreamingSettings, names: list[str], timeout: float = 60.0) -> None:
    """Create the missing topics among `names` (settings' partitions and replicas); existing ones are left as is."""
    await check_credentials(settings)
    deadline = asyncio.get_running_loop().time() + timeout
    # The broker may still be starting: a refused connection is retried until the timeout, then raised.
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(KafkaConnectionError),
        stop=stop_after_delay(timeout),
        wait=wait_fixed(1.0),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            await _create_missing(settings, names, deadline)


async def _create_missing(settings: StreamingSettings, names: list[str], deadline: float) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000, **settings.client_options()
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if missing:
            log.info("creating topics %s", missing)
            partitions, replication = settings.partitions, settings.replication_factor
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
                await admin.create_topics([NewTopic(name, partitions, replication) for name in missing])
            await _until_listed(admin, missing, deadline - asyncio.get_running_loop().time())
    finally:
        await admin.close()


async def _until_listed(admin: AIOKafkaAdminClient, names: list[str], timeout: float) -> None:
    """Wait until the broker lists new topics, so the worker's first partition assignment includes them."""

    def expired(_: RetryCallState) -> None:
        raise TimeoutError(f"topics {names} were created but are not listed by the broker")

    retrying = AsyncRetrying(
        retry=retry_if_result(lambda listed: not set(names) <= set(listed)),
        stop=stop_after_delay(max(timeout, 0.0)),
        wait=wait_fixed(0.2),
        retry_error_callback=expired,
    )
    await retrying(admin.list_topics)


def ensure_topics_sync(settings: StreamingSettings, names: list[str]) -> None:
    asyncio.run(ensure_topics(settings, names))
