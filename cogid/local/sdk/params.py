"""Parameter validation as botocore does it before sending: same rules, same messages.

botocore checks a call's parameters against the operation's input shape (unknown and missing
members, Python types, `min` lengths and values) and refuses with ParamValidationError listing
every fault. The boto3-free client must refuse the same calls with the same words, or a script
that runs locally fails on AWS; botocore's own validator needs botocore.model and
botocore.utils (~90 ms to import), hence this reading of the same rules over our light shapes.
tests/test_client_parity.py holds the two side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cogid.local.wire.shapes import Shape

_SCALARS: dict[str, tuple[type, ...]] = {
    "float": (float, int),  # and decimal.Decimal: see _is_scalar
    "double": (float, int),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "string": (str,),
}
_CONTAINERS: dict[str, tuple[type, ...]] = {"structure": (dict,), "map": (dict,), "list": (list, tuple)}
_CONSTRAINTS = {"required", "min", "document", "union"}


def check(params: dict[str, Any], shape: Shape | None) -> None:
    """Raise botocore's ParamValidationError unless `params` fit `shape`."""
    if shape is None:
        return
    faults: list[str] = []
    _check(params, shape, "", faults)
    if faults:
        from botocore.exceptions import ParamValidationError  # light: only the exceptions module

        raise ParamValidationError(report="\n".join(faults))


def _label(name: str) -> str:
    return name[1:] if name.startswith(".") else name or "input"


_NUMBERS = "<class 'float'>, <class 'decimal.Decimal'>, <class 'int'>"  # botocore's order


def _types(types: tuple[type, ...]) -> str:
    return _NUMBERS if types == _SCALARS["float"] else ", ".join(str(t) for t in types)


def _is_scalar(value: Any, kind: str) -> bool:
    """Is `value` of the Python types botocore takes for `kind` (a Decimal for a float, too,
    told by its class so that decimal is imported only by whoever passes one)?"""
    if kind in ("float", "double") and type(value).__module__ == "decimal":
        return type(value).__name__ == "Decimal"
    return isinstance(value, _SCALARS[kind])


def _wrong_type(value: Any, name: str, valid: str, faults: list[str]) -> None:
    faults.append(
        f"Invalid type for parameter {_label(name)}, value: {value}, type: {type(value)}, valid types: {valid}"
    )


def _below_min(measure: int | float, shape: Shape, name: str, what: str, shown: Any, faults: list[str]) -> None:
    minimum = shape.metadata.get("min")
    if minimum is not None and measure < minimum:
        kind = "length" if what == "length" else "value"
        faults.append(f"Invalid {kind} for parameter {_label(name)}, value: {shown}, valid min {what}: {minimum}")


def _check(value: Any, shape: Shape, name: str, faults: list[str]) -> None:
    kind = shape.type_name
    if kind in _CONTAINERS and not isinstance(value, _CONTAINERS[kind]):
        return _wrong_type(value, name, _types(_CONTAINERS[kind]), faults)
    if kind in _SCALARS and not _is_scalar(value, kind):
        return _wrong_type(value, name, _types(_SCALARS[kind]), faults)
    if kind == "structure":
        _check_structure(value, shape, name, faults)
    elif kind == "list":
        _below_min(len(value), shape, name, "length", len(value), faults)
        _check_items(value, shape.member, name, faults)
    elif kind == "map":
        for key, item in value.items():
            _check(key, shape.key, f"{name} (key: {key})", faults)
            _check(item, shape.value, f"{name}.{key}", faults)
    elif kind == "string":
        _below_min(len(value), shape, name, "length", len(value), faults)
    elif kind in ("integer", "long", "float", "double"):
        _below_min(value, shape, name, "value", value, faults)
    elif kind == "blob" and not (isinstance(value, (bytes, bytearray, str)) or hasattr(value, "read")):
        _wrong_type(value, name, f"{bytes}, {bytearray}, file-like object", faults)
    elif kind == "timestamp" and not _is_timestamp(value):
        _wrong_type(value, name, f"{datetime}, timestamp-string", faults)
    return None


def _check_structure(value: dict[str, Any], shape: Shape, name: str, faults: list[str]) -> None:
    members = shape.members
    if shape.metadata.get("union"):  # exactly one member set
        names = ", ".join(members)
        if not value:
            faults.append(f"Must set one of the following keys for tagged unionstructure {_label(name)}: {names}.")
        elif len(value) > 1:
            faults.append(
                f"Invalid number of parameters set for tagged union structure {_label(name)}."
                f" Can only set one of the following keys: {names}."
            )
    for required in shape.required_members:
        if required not in value:
            faults.append(f'Missing required parameter in {_label(name)}: "{required}"')
    for key in value:
        if key not in members:
            faults.append(f'Unknown parameter in {_label(name)}: "{key}", must be one of: {", ".join(members)}')
    for key, item in value.items():
        if key in members:
            _check(item, members[key], f"{name}.{key}", faults)


def _check_items(items: Any, member: Shape, name: str, faults: list[str]) -> None:
    kind = member.type_name
    if kind in _SCALARS and not _CONSTRAINTS & set(member.metadata):
        # botocore only type-checks the items of a list of unconstrained scalars.
        for index, item in enumerate(items):
            if not _is_scalar(item, kind):
                _wrong_type(item, f"{name}[{index}]", _types(_SCALARS[kind]), faults)
        return
    for index, item in enumerate(items):
        _check(item, member, f"{name}[{index}]", faults)


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    try:
        to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def to_datetime(value: Any) -> datetime:
    """A timestamp parameter as botocore reads one: a datetime, epoch seconds, or ISO 8601."""
    from datetime import UTC

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(f"not a timestamp: {value!r}")
