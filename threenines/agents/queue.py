"""The agent's result queue is the core's durable queue (``threenines.core.queue``)."""

from threenines.core.queue import DiskQueue, QueueError

__all__ = ["DiskQueue", "QueueError"]
