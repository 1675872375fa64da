"""moto's register of model instances, held weakly in the local stack's moto server (local/emulation/instances.py)."""

from __future__ import annotations

import gc
import weakref

import pytest
from moto.core.common_models import BaseModel
from moto.sqs.models import Message

from local.emulation import instances as moto_instances
from local.emulation.instances import WeakInstances


@pytest.fixture
def weakly_tracked(monkeypatch: pytest.MonkeyPatch) -> None:
    """track_weakly's patch, undone after the test (the register of each class stays weak: it keeps the list
    interface moto's own __new__ uses)."""
    monkeypatch.setattr(BaseModel, "__new__", moto_instances._new_weakly_tracked)


def test_moto_keeps_every_model_instance_it_ever_made(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto as it comes (its register a plain list, as its metaclass and its reset make it)
    monkeypatch.setattr(Message, "instances_tracked", [])
    # WHEN a message is made and dropped THEN its class's register still holds it: the leak (the moto version is
    # pinned by local/fast_sqs's install; a version that stops leaking fails here, and the patch can go)
    message = Message("kept", "body")
    kept = weakref.ref(message)
    del message
    gc.collect()
    assert kept() is not None and kept() in list(Message.instances_tracked)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("weakly_tracked")
def test_a_dropped_instance_is_freed_and_a_live_one_stays_listed() -> None:
    # GIVEN the weak register WHEN two messages are made and one is dropped
    live, dropped = Message("live", "body"), Message("dropped", "body")
    gone = weakref.ref(dropped)
    del dropped
    gc.collect()
    # THEN the dropped one is freed, and the register (moto's dashboard, S3's reset) still lists the live one
    register = Message.instances_tracked  # type: ignore[attr-defined]
    assert isinstance(register, WeakInstances)
    assert gone() is None
    assert live in list(register)
    assert all(instance.id != "dropped" for instance in register)


@pytest.mark.usefixtures("weakly_tracked")
def test_motos_reset_of_the_register_is_followed() -> None:
    # GIVEN moto's reset, which assigns each class a new plain list (moto.core.model_instances.reset_model_data)
    Message.instances_tracked = []  # type: ignore[attr-defined]
    # WHEN a message is made THEN the class's register is weak again and lists it
    made = Message("after-reset", "body")
    register = Message.instances_tracked  # type: ignore[attr-defined]
    assert isinstance(register, WeakInstances)
    assert list(register) == [made]
