"""The ``REALTIME["HISTORY"]`` setting's validation (connection state recovery).

The setting's meaning is documented in :mod:`realtime.recovery.streams`; it lives down here
so that :mod:`realtime.conf` can validate it without importing the recovery package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .validators import is_positive_int


def policy_errors(setting: Any) -> list[str]:
    """Problems with a REALTIME["HISTORY"] value (empty when it is valid)."""
    if not isinstance(setting, Mapping):
        return [f"HISTORY must be a dict, not {setting!r}"]
    problems = []
    for key, value in setting.items():
        if not isinstance(key, str) or not key:
            problems.append(f"HISTORY key {key!r} must be a non-empty string")
        elif value is not None and (
            not isinstance(value, Mapping)
            or set(value) - {"size", "ttl"}
            or not all(is_positive_int(v) for v in value.values())
        ):
            problems.append(
                f"HISTORY[{key!r}] must be None (no history) or a dict of positive integers "
                f"'size' and 'ttl', not {value!r}"
            )
    return problems
