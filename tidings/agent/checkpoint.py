"""Checkpoint writes fenced by the run's lease.

Two processes resuming one thread would both succeed and fork its history; every write here
first re-asserts the lease of the row the run holds, so a worker that lost its case to another
stops before it writes. The saver itself comes from ``tidings.store.checkpoints``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from tidings.agent.state import CaseRun, Decision, TrailLine
from tidings.domain import Address
from tidings.errors import LeaseLostError
from tidings.resolvers.base import Notice
from tidings.resolvers.order_api import CustomerView, OrderLineView, OrderView
from tidings.store.enums import CaseState, ChannelKind, LineStatus, OrderStatus


class FencedSaver(BaseCheckpointSaver[str]):
    """A saver that writes only while the run's lease (``config.configurable.work``) holds."""

    def __init__(self, inner: BaseCheckpointSaver[str]) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The latest checkpoint of a thread (or the one asked for)."""
        return self.inner.get_tuple(config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints, newest first."""
        return self.inner.list(config, filter=filter, before=before, limit=limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint, if the lease is still ours."""
        _check_lease(config)
        return self.inner.put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a node's pending writes, if the lease is still ours."""
        _check_lease(config)
        self.inner.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Forget a thread entirely."""
        self.inner.delete_thread(thread_id)

    def get_next_version(self, current: Any, channel: None) -> Any:
        """Channel versions as the inner saver counts them."""
        return self.inner.get_next_version(current, channel)


def _check_lease(config: RunnableConfig) -> None:
    work = (config.get("configurable") or {}).get("work")
    if work is not None and not work.holds():
        raise LeaseLostError(f"lease on {work.model.__name__} {work.row_id} is no longer ours")


def serializer() -> JsonPlusSerializer:
    """Checkpoints hold only the agent's own types: anything else in a checkpoint is refused
    when read back, so whoever can write to the table cannot make us build arbitrary objects."""
    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


# Every type a checkpoint of the agent holds (the state and what it nests).
CHECKPOINT_TYPES: list[type] = [
    CaseRun,
    Decision,
    Notice,
    TrailLine,
    OrderView,
    CustomerView,
    OrderLineView,
    Address,
    CaseState,
    ChannelKind,
    OrderStatus,
    LineStatus,
]
