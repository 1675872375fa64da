"""The receipt handles of a queue's most recently deleted messages, at most a fixed number of them.

moto keeps every receipt handle of every message it ever deleted (`Queue.deleted_messages`, a set) so that
deleting again with one of them succeeds, as on SQS; over a long local run that set grows by ~270 bytes per
message forever. SQS documents no period for which a deleted message's handle stays accepted, and a client
deletes again only when it retries a delete it sent moments before: the most recent handles are enough.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

# ~3 MB per queue at most (a handle is 185 characters); at the local stack's top rate (~200 events/s) a
# handle is remembered for about a minute, at the 50 events/s of a soak for over three.
DELETED_HANDLES_REMEMBERED = 10_000


class RecentHandles:
    """The set interface moto's Queue uses for `deleted_messages` (`in`, `update`), forgetting the oldest
    handle once it holds `limit`."""

    def __init__(self, limit: int = DELETED_HANDLES_REMEMBERED) -> None:
        if limit < 1:
            raise ValueError(f"remember at least one deleted handle, got {limit}")
        self.limit = limit
        self._handles: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, handle: object) -> bool:
        return handle in self._handles

    def __len__(self) -> int:
        return len(self._handles)

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def update(self, handles: Iterable[str]) -> None:
        for handle in handles:
            self._handles[handle] = None
            self._handles.move_to_end(handle)
        while len(self._handles) > self.limit:
            self._handles.popitem(last=False)
