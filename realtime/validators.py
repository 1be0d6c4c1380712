"""Value checks shared by every settings validator (the app's ``REALTIME`` and the layer's
``CONFIG``): one home, so "a positive number" means the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Validator = Callable[[Any], bool]


def is_int(value: Any) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_positive_number(value: Any) -> bool:
    """A number > 0."""
    return is_number(value) and value > 0


def is_positive_int(value: Any) -> bool:
    """An integer >= 1."""
    return is_int(value) and value > 0


def none_or(check: Validator) -> Validator:
    """``check``, with None accepted too."""
    return lambda value: value is None or check(value)


def is_dotted_path(value: Any) -> bool:
    """A dotted Python path such as ``"myapp.auth.authenticate"``."""
    return (
        isinstance(value, str)
        and "." in value
        and all(part.isidentifier() for part in value.split("."))
    )
