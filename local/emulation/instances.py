"""moto's register of model instances, made weak: what nothing else holds is freed.

moto appends every instance of every model it ever makes to its class's `instances_tracked` list
(`moto.core.common_models.BaseModel.__new__`), for its dashboard (`/moto-api/data.json`) and for S3's reset
(which closes the files of every key it made). Nothing is ever removed: each SQS message (and each copy a
receive makes of it), each DynamoDB item written, each S3 object put or overwritten, each CloudWatch datum
stays in memory for the life of the server, whatever was deleted. `track_weakly` keeps the register but holds
its instances by weak reference: the dashboard and S3's reset still see every instance that is alive.
Written for the moto version local/fast_sqs pins (`install` refuses any other).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

from moto.core.common_models import BaseModel


class WeakInstances:
    """The list interface moto uses on `instances_tracked` (`append`, iteration, `len`), holding weakly."""

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref[Any]] = {}

    def append(self, instance: object) -> None:
        key = id(instance)
        # A model that cannot be referenced weakly (none in moto 5.2.5) is not registered.
        with contextlib.suppress(TypeError):
            # The callback runs before the object's memory (and so its id) can be reused.
            self._refs[key] = weakref.ref(instance, lambda _, key=key: self._refs.pop(key, None))  # type: ignore[misc]

    def __iter__(self) -> Iterator[Any]:
        return iter([instance for ref in list(self._refs.values()) if (instance := ref()) is not None])

    def __len__(self) -> int:
        return len(self._refs)


def _new_weakly_tracked(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
    instance = object.__new__(cls)
    tracked = cls.__dict__.get("instances_tracked")
    if not isinstance(tracked, WeakInstances):
        # moto's metaclass gave the class a list, and its reset (`reset_model_data`) assigns a new one
        tracked = WeakInstances()
        cls.instances_tracked = tracked
    tracked.append(instance)
    return instance


def track_weakly() -> None:
    """Make moto's register of model instances weak, for every model class and every instance made from now on."""
    BaseModel.__new__ = _new_weakly_tracked  # type: ignore[method-assign]
