"""Creating the topics a processor reads and writes before it starts, so it never waits for a missing topic.

Faust creates only its own internal topics (changelogs, repartition topics); a subscription to a topic that does
not exist yet is ignored until the next metadata refresh, so the processors create theirs up front.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap: str, names: list[str], partitions: int, replication: int, timeout: float = 60.0
) -> None:
    """Create the missing topics among `names`; existing topics are left as they are."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [name for name in dict.fromkeys(names) if name not in existing]
            if missing:
                log.info("creating topics %s", missing)
                with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
                    await admin.create_topics([NewTopic(name, partitions, replication) for name in missing])
                await _until_listed(admin, missing, deadline)
            return
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1.0)
        finally:
            await admin.close()


async def _until_listed(admin: AIOKafkaAdminClient, names: list[str], deadline: float) -> None:
    """Wait until the broker lists new topics, so the worker's first partition assignment includes them."""
    loop = asyncio.get_running_loop()
    while not set(names) <= set(await admin.list_topics()):
        if loop.time() > deadline:
            raise TimeoutError(f"topics {names} were created but are not listed by the broker")
        await asyncio.sleep(0.2)


def ensure_topics_sync(bootstrap: str, names: list[str], partitions: int, replication: int) -> None:
    asyncio.run(ensure_topics(bootstrap, names, partitions, replication))
