"""Request checks generated from botocore's own service model.

Types, required members, lengths, ranges, enums and patterns all come from the model, so every
operation is checked the same way and the messages read like AWS's (Coral) validation errors:
``1 validation error detected: Value 'x' at 'identityPoolName' failed to satisfy constraint: ...``.
Rules the model cannot express live in identity/model.py.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from cogid.local.errors import Serialization, Validation

# Java regex classes Python's re lacks. ASCII is exact; the rest of Unicode is let through,
# since a pattern on a name is there to keep out separators and control characters.
_UNICODE_CLASSES = {
    r"\p{L}": r"a-zA-Z\u00aa-\uffff",
    r"\p{M}": r"\u0300-\u036f",
    r"\p{S}": r"$+<=>^`|~",
    r"\p{N}": r"0-9",
    r"\p{P}": r"!-#%-*,-/:;?@\[-\]_{}",
    r"\p{Z}": r" \u00a0\u2000-\u200a\u2028\u2029\u3000",
}

_MAX_SHOWN = 256
# JSON can spell a lone UTF-16 surrogate (\ud800), which no UTF-8 text, token or store can hold.
_SURROGATE = re.compile("[\ud800-\udfff]")


@cache
def _pattern(source: str) -> re.Pattern[str]:
    for java, python in _UNICODE_CLASSES.items():
        source = source.replace(java, python)
    # Java's \w and \s are ASCII-only unless asked otherwise.
    return re.compile(source, re.ASCII | re.DOTALL)


@cache
def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _shown(value: Any, sensitive: bool) -> str:
    if sensitive:
        return "Value at"
    if value is None:
        return "Value null at"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    return f"Value '{text}' at"


# A member's path, kept as nested (parent, name) pairs and spelled out only for a message.
Path = tuple[Any, str] | None


def _spelled(path: Path) -> str:
    parts = []
    while path is not None:
        path, name = path
        parts.append(name)
    return ".".join(reversed(parts))


def _holds_secrets(shape: Any) -> bool:
    """Is `shape`, or a list's member or a map's key or value, sensitive (a Logins map's tokens)?
    A message about the whole container must not quote it then."""
    parts = [shape, shape.member] if shape.type_name == "list" else [shape, shape.key, shape.value]
    return any(part.metadata.get("sensitive") for part in parts)


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
}


_TYPE_BOUNDS = {"integer": 2**31, "long": 2**63}

# Local safeguards beside the models' constraints, not AWS limits (README): a list longer than
# this is refused before its members are read. Cognito Sync's UpdateRecords: a device that
# replaced all 1,024 records of a dataset offline sends 2,048 patches; 180,000 tiny ones (8 MiB)
# took a worker seconds to validate and then held the store's write lock for seconds more.
LOCAL_MAX_ITEMS = {"RecordPatchList": 2048}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, value: Any, path: Path, rule: str, sensitive: bool = False) -> None:
        self.errors.append(f"{_shown(value, sensitive)} '{_spelled(path)}' failed to satisfy constraint: {rule}")

    def check(self, shape: Any, value: Any, path: Path) -> Any:
        expected = _TYPES.get(shape.type_name, (object,))
        if not isinstance(value, expected) or (
            isinstance(value, bool) and shape.type_name in ("integer", "long", "float", "double")
        ):
            raise Serialization(f"Value at '{_spelled(path)}' must be of type {shape.type_name}")
        method = getattr(self, "_" + shape.type_name, None)
        return method(shape, value, path) if method else value

    def _structure(self, shape: Any, value: dict[str, Any], path: Path) -> dict[str, Any]:
        cleaned = {}
        for name in shape.required_members:
            if value.get(name) is None:
                self.fail(None, (path, _lower_camel(name)), "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:  # unknown members are ignored, as AWS does
                cleaned[name] = self.check(member, value[name], (path, _lower_camel(name)))
        return cleaned

    def _list(self, shape: Any, value: list[Any], path: Path) -> list[Any]:
        self._size(shape, value, path, "length", _holds_secrets(shape))
        local_max = LOCAL_MAX_ITEMS.get(shape.name)
        if local_max is not None and len(value) > local_max:  # not quoted: it is long
            self.fail(value, path, f"Member must have length less than or equal to {local_max}", sensitive=True)
            return value
        return [self.check(shape.member, item, (path, f"{i}.member")) for i, item in enumerate(value, 1)]

    def _map(self, shape: Any, value: dict[str, Any], path: Path) -> dict[str, Any]:
        self._size(shape, value, path, "length", _holds_secrets(shape))
        cleaned = {}
        for key, item in value.items():
            self.check(shape.key, key, (path, "key"))
            if item is None:
                self.fail(None, (path, "value"), "Map value must not be null")
            else:
                cleaned[key] = self.check(shape.value, item, (path, "value"))
        return cleaned

    def _string(self, shape: Any, value: str, path: Path) -> str:
        if not value.isascii() and _SURROGATE.search(value):
            raise Serialization(f"Value at '{_spelled(path)}' is not valid Unicode: it holds a lone surrogate")
        sensitive = bool(shape.metadata.get("sensitive"))
        self._size(shape, value, path, "length", sensitive)
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]", sensitive)
        pattern = shape.metadata.get("pattern")
        if pattern and not _pattern(pattern).fullmatch(value):
            self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}", sensitive)
        return value

    def _integer(self, shape: Any, value: int, path: Path) -> int:
        bound = _TYPE_BOUNDS[shape.type_name]
        if not -bound <= value < bound:  # no Java int or long holds it: the body cannot be read
            raise does_not_fit(_spelled(path), shape.type_name)
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.fail(value, path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self.fail(value, path, f"Member must have value less than or equal to {high}")
        return value

    _long = _integer

    def _size(self, shape: Any, value: Any, path: Path, what: str, sensitive: bool = False) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            self.fail(value, path, f"Member must have {what} greater than or equal to {low}", sensitive)
        if high is not None and len(value) > high:
            self.fail(value, path, f"Member must have {what} less than or equal to {high}", sensitive)


def does_not_fit(where: str, type_name: str) -> Serialization:
    """A number no Java `integer` or `long` holds: the body or query cannot be read."""
    return Serialization(f"Value at '{where}' does not fit {'an' if type_name == 'integer' else 'a'} {type_name}")


def validate(input_shape: Any, params: Any) -> dict[str, Any]:
    """Check `params` against an operation's input shape; return them without unknown members.

    Raises SerializationException for a wrong JSON type, ValidationException listing every
    constraint violation otherwise.
    """
    if input_shape is None:
        return {}
    if not isinstance(params, dict):
        raise Serialization("Request body must be a JSON object")
    checker = _Checker()
    cleaned: dict[str, Any] = checker.check(input_shape, params, None)
    if checker.errors:
        count = len(checker.errors)
        noun = "error" if count == 1 else "errors"
        raise Validation(f"{count} validation {noun} detected: " + "; ".join(checker.errors))
    return cleaned
