"""AWS service models (operations and shapes), read from botocore's data files.

The service needs the models' names, constraints and auth types, not botocore's machinery:
reading the JSON directly keeps botocore (and the ~100 ms it costs to import) off the path of
a command served in-process.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import Any

API_VERSIONS = {
    "cognito-identity": "2014-06-30",
    "cognito-sync": "2014-06-30",
    "sts": "2011-06-15",
    "iam": "2010-05-08",
}


@dataclass(eq=False)
class Shape:
    name: str
    model: ServiceModel = field(repr=False)

    @cached_property
    def _definition(self) -> dict[str, Any]:
        definition: dict[str, Any] = self.model.shapes[self.name]
        return definition

    @property
    def type_name(self) -> str:
        return str(self._definition["type"])

    @property
    def metadata(self) -> dict[str, Any]:
        return self._definition

    @cached_property
    def members(self) -> dict[str, Shape]:
        return {name: self.model.shape(ref["shape"]) for name, ref in self._definition.get("members", {}).items()}

    @property
    def required_members(self) -> list[str]:
        return list(self._definition.get("required", []))

    @property
    def member(self) -> Shape:
        return self.model.shape(self._definition["member"]["shape"])

    @property
    def key(self) -> Shape:
        return self.model.shape(self._definition["key"]["shape"])

    @property
    def value(self) -> Shape:
        return self.model.shape(self._definition["value"]["shape"])


@dataclass(frozen=True)
class Operation:
    name: str
    input_shape: Shape | None
    output_shape: Shape | None
    auth_type: str  # "none" for the operations AWS serves unsigned
    method: str = "POST"  # REST protocols: the HTTP method and path template
    request_uri: str = "/"
    result_wrapper: str | None = None  # AWS Query: the element around the output's members


class ServiceModel:
    def __init__(self, document: dict[str, Any], service_name: str = ""):
        self.service_name = service_name  # as botocore names it: cognito-identity, sts...
        self.metadata: dict[str, Any] = document["metadata"]
        self.shapes: dict[str, Any] = document["shapes"]
        self._operations: dict[str, Any] = document["operations"]
        self._shapes: dict[str, Shape] = {}

    @property
    def operation_names(self) -> list[str]:
        return list(self._operations)

    @property
    def signing_name(self) -> str:
        return str(self.metadata.get("signingName") or self.metadata["endpointPrefix"])

    @cached_property
    def errors(self) -> dict[str, str]:
        """The modeled errors: each one's error code (the shape's name unless the model gives
        another), to its shape's name."""
        return {
            definition.get("error", {}).get("code", name): name
            for name, definition in self.shapes.items()
            if definition.get("exception")
        }

    def shape(self, name: str) -> Shape:
        if name not in self._shapes:
            self._shapes[name] = Shape(name, self)
        return self._shapes[name]

    @cache  # noqa: B019 - models live as long as the process, like their cache
    def operation_model(self, name: str) -> Operation:
        definition = self._operations[name]
        # Unsigned operations say so as `authtype: none` (older models) or an empty `auth` list.
        unsigned = definition.get("authtype") == "none" or definition.get("auth") == []
        return Operation(
            name,
            self.shape(definition["input"]["shape"]) if "input" in definition else None,
            self.shape(definition["output"]["shape"]) if "output" in definition else None,
            "none" if unsigned else "v4",
            definition.get("http", {}).get("method", "POST"),
            definition.get("http", {}).get("requestUri", "/"),
            definition.get("output", {}).get("resultWrapper"),
        )


def data_folder(service: str) -> Path:
    """Where the installed botocore keeps `service`'s models (found without importing it)."""
    spec = find_spec("botocore")
    assert spec is not None and spec.submodule_search_locations, "botocore is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / service / API_VERSIONS[service]


@cache
def service_model(service: str) -> ServiceModel:
    """The model of `service` as shipped with the installed botocore (never importing it)."""
    folder = data_folder(service)
    gzipped = folder / "service-2.json.gz"
    raw = gzip.decompress(gzipped.read_bytes()) if gzipped.exists() else (folder / "service-2.json").read_bytes()
    return ServiceModel(json.loads(raw), service)


@cache
def snake(name: str) -> str:
    """botocore's Python name for a member or operation (`OpenIdConnectProviderARNs` ->
    `open_id_connect_provider_arns`), without importing botocore."""
    name = name.replace("ARNs", "Arns")
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
