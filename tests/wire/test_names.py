"""Group names for node-level groups (pure)."""

from __future__ import annotations

import re

import pytest

from realtime.wire import names

VALID_GROUP = re.compile(r"^[a-zA-Z\d\-_.]{1,99}$")


@pytest.mark.parametrize(
    ("namespace", "room", "expected"),
    [
        ("chat", "1000", "r-chat.1000"),
        ("app:chat:game:hot", "1000", "r-app_3Achat_3Agame_3Ahot.1000"),
        ("a.b", "x_y", "r-a_2Eb.x_5Fy"),
        ("ü", "room one", "r-_C3_BC.room_20one"),
        ("broadcast", "1", "r-broadcast.1"),
        ("private_socket", "1", "r-private_5Fsocket.1"),
    ],
)
def test_room_group(namespace, room, expected):
    assert names.room_group(namespace, room) == expected


def test_escaping_is_injective_for_tricky_pairs():
    pairs = [("a.b", "c"), ("a", "b.c"), ("a_2Eb", "c"), ("a:b", "c"), ("a", "b:c")]
    assert len({names.room_group(*pair) for pair in pairs}) == len(pairs)


def test_long_names_are_hashed_and_valid():
    group = names.room_group("n" * 500, "r" * 500)
    assert VALID_GROUP.match(group)
    assert group.startswith("r-__") and ".__" in group
    assert group != names.room_group("n" * 500, "r" * 499)


@pytest.mark.parametrize("user_id", ["1", "a b", "x" * 300, "😀", "", "../etc"])
def test_user_groups_are_valid(user_id):
    assert VALID_GROUP.match(names.user_group(user_id))


def test_node_group():
    assert names.node_group("node-a") == "realtime.node.node-a"
    assert VALID_GROUP.match(names.node_group("host.example.com-123"))


def test_user_namespaces_never_collide_with_system_groups():
    system = {
        names.group_namespace(names.ALL_NODES_GROUP),
        names.group_namespace(names.node_group("x")),
    }
    assert system == {"realtime"}
    for namespace in ("realtime", "realtime.all", "rt-user", "", "r-"):
        assert names.group_namespace(names.room_group(namespace or "x", "1")) not in system
    assert names.group_namespace(names.user_group("realtime")) == "rt-user"
