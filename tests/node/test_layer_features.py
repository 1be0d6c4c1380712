"""The hub reads what its layer offers once, from the declared extensions."""

from __future__ import annotations

import pytest
from channels.layers import InMemoryChannelLayer

from realtime.layers.extensions import HEALTH, LOCALITY, missing_members
from realtime.layers.layer import MultiRedisChannelLayer
from realtime.node.features import LayerBrokenPromise, LayerFeatures
from realtime.testing import InProcessLayer


def test_our_layer_declares_what_it_has():
    layer = MultiRedisChannelLayer()
    assert missing_members(layer) == []
    features = LayerFeatures.of(layer)
    assert features.process_local  # no Redis nodes
    assert features.send_remote == layer.group_send_remote
    assert features.health == layer.health and features.add_node == layer.add_node


def test_a_plain_channels_layer_gets_the_plain_api():
    features = LayerFeatures.of(InMemoryChannelLayer())
    assert features.process_local and features.groups
    assert features.send_remote is features.health is features.add_node is None


def test_a_layer_that_declares_its_locality_is_believed():
    assert not LayerFeatures.of(InProcessLayer()).process_local


def test_a_layer_that_breaks_its_promise_is_refused_at_once():
    class Liar(InMemoryChannelLayer):
        extensions = ["groups", HEALTH, LOCALITY]
        is_process_local = False

    with pytest.raises(LayerBrokenPromise) as refused:
        LayerFeatures.of(Liar())
    assert str(refused.value) == (
        "Liar declares extensions it lacks: realtime.health: health, realtime.health: stats, "
        "realtime.health: set_excluded_nodes"
    )
