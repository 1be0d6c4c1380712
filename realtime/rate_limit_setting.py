"""The ``REALTIME["RATE_LIMIT"]`` setting: its defaults and its validation.

The setting's meaning is documented with the limiter in :mod:`realtime.connection.limits`;
it lives down here so that :mod:`realtime.conf` can validate it without importing the
connection layer.
"""

from __future__ import annotations

from typing import Any

from .validators import is_positive_int, is_positive_number

DEFAULT_RATE_LIMIT: dict[str, Any] = {
    "rate": 50,
    "burst": 100,
    "events": {},
    "close_after": 50,
    "close_window": 10.0,
    "bytes_rate": 1024 * 1024,
    "bytes_burst": 4 * 1024 * 1024,
}

LIMIT_KEYS = ("rate", "burst")


def _limit_errors(where: str, shape: Any) -> list[str]:
    if not isinstance(shape, dict):
        return [f"{where} must be None or a dict with 'rate' and 'burst', not {shape!r}."]
    errors = [f"{where} has an unknown key {key!r}." for key in shape if key not in LIMIT_KEYS]
    for key in ("rate", "burst"):
        if key not in shape:
            errors.append(f"{where} needs {key!r}.")
    if "rate" in shape and not is_positive_number(shape["rate"]):
        errors.append(f"{where}['rate'] must be frames per second > 0, not {shape['rate']!r}.")
    if "burst" in shape and not is_positive_int(shape["burst"]):
        errors.append(f"{where}['burst'] must be an integer >= 1, not {shape['burst']!r}.")
    return errors


def _bytes_errors(where: str, value: dict[str, Any]) -> list[str]:
    rate = value.get("bytes_rate", DEFAULT_RATE_LIMIT["bytes_rate"])
    burst = value.get("bytes_burst", DEFAULT_RATE_LIMIT["bytes_burst"])
    if rate is None and burst is None:
        return []
    if not is_positive_number(rate) or not is_positive_int(burst):
        return [
            f"{where}['bytes_rate'] and ['bytes_burst'] must be bytes per second > 0 and an "
            f"integer >= 1 (or both None: no byte budget), not {rate!r} and {burst!r}."
        ]
    return []


def rate_limit_errors(value: Any) -> list[str]:
    """Describe every problem of a ``RATE_LIMIT`` setting; empty when valid."""
    where = "REALTIME['RATE_LIMIT']"
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{where} must be None (off) or a dict, not {value!r}."]
    errors = [
        f"{where} has an unknown key {key!r}; known: {', '.join(DEFAULT_RATE_LIMIT)}."
        for key in value
        if key not in DEFAULT_RATE_LIMIT
    ]
    if "rate" in value and not is_positive_number(value["rate"]):
        errors.append(f"{where}['rate'] must be frames per second > 0, not {value['rate']!r}.")
    if "burst" in value and not is_positive_int(value["burst"]):
        errors.append(f"{where}['burst'] must be an integer >= 1, not {value['burst']!r}.")
    close_after = value.get("close_after")
    if close_after is not None and not is_positive_int(close_after):
        errors.append(
            f"{where}['close_after'] must be None or an integer >= 1, not {close_after!r}."
        )
    errors += _bytes_errors(where, value)
    if "close_window" in value and not is_positive_number(value["close_window"]):
        errors.append(
            f"{where}['close_window'] must be seconds > 0, not {value['close_window']!r}."
        )
    events = value.get("events", {})
    if not isinstance(events, dict):
        return [
            *errors,
            f"{where}['events'] must be a dict of event name to limit, not {events!r}.",
        ]
    for name, shape in events.items():
        if not isinstance(name, str) or not name:
            errors.append(f"{where}['events'] keys must be event names, not {name!r}.")
        elif shape is not None:
            errors.extend(_limit_errors(f"{where}['events'][{name!r}]", shape))
    return errors
