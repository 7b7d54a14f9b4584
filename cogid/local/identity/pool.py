"""The Cognito Identity records every service shares: who is calling (`Caller`), the account, a
stored identity pool (`Pool`) and identity (`Identity`), and the constants of Cognito's tokens.

It imports nothing of the service, so the model, federation, STS and IAM (and the wire, which
builds a `Caller`) can all depend on it without depending on one another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

from cogid.local.store import Row

ACCOUNT = "000000000000"
# Spec Q13: the real issuer string by default, so trust policies and STS `Provider` look real.
ISSUER = "https://cognito-identity.amazonaws.com"
POOL_ARN_CLAIM = "https://cognito-identity.amazonaws.com/identity-pool-arn"
TAGS_CLAIM = "https://aws.amazon.com/tags"

# The IdentityPool shape's members, in AWS's order, and the keywords the operations take.
POOL_MEMBERS = {
    "IdentityPoolName": "identity_pool_name",
    "AllowUnauthenticatedIdentities": "allow_unauthenticated_identities",
    "AllowClassicFlow": "allow_classic_flow",
    "SupportedLoginProviders": "supported_login_providers",
    "DeveloperProviderName": "developer_provider_name",
    "OpenIdConnectProviderARNs": "open_id_connect_provider_arns",
    "CognitoIdentityProviders": "cognito_identity_providers",
    "SamlProviderARNs": "saml_provider_arns",
    "IdentityPoolTags": "identity_pool_tags",
}


@dataclass(frozen=True)
class Caller:
    """Who sent a request and where: the region of the endpoint (or of the id, if unsigned)."""

    region: str
    principal: dict[str, Any] | None = None  # None: an unsigned in-process call, the account


@lru_cache(maxsize=64)
def _parsed(doc: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(doc)
    return parsed


class Pool:
    """A pool as stored. Its roles and role mappings are parsed on first use: most calls (every
    token call) need neither. Its `doc` is parsed once per text and shared by every Pool read
    with that text (a token call reads its pool twice): it is never changed in place (a change
    is a new doc, written with store.update_pool)."""

    def __init__(self, row: Row):
        self.id: str = row["id"]
        self.region: str = row["region"]
        self.doc: dict[str, Any] = _parsed(row["doc"])
        self._roles: str = row["roles"]
        self._role_mappings: str = row["role_mappings"]

    @cached_property
    def roles(self) -> dict[str, str]:
        roles: dict[str, str] = json.loads(self._roles)
        return roles

    @cached_property
    def role_mappings(self) -> dict[str, Any]:
        mappings: dict[str, Any] = json.loads(self._role_mappings)
        return mappings

    @property
    def arn(self) -> str:
        return f"arn:aws:cognito-identity:{self.region}:{ACCOUNT}:identitypool/{self.id}"

    @property
    def developer_provider(self) -> str | None:
        return self.doc.get("DeveloperProviderName")

    @property
    def allows_guests(self) -> bool:
        return bool(self.doc.get("AllowUnauthenticatedIdentities"))


@dataclass
class Identity:
    id: str
    pool_id: str
    state: str  # guest | authenticated | disabled
    created: float
    modified: float
    seq: int = 0  # creation order in the store (0: not read back yet)

    @classmethod
    def from_row(cls, row: Row) -> Identity:
        return cls(row["id"], row["pool_id"], row["state"], row["created"], row["modified"], row["seq"])


def utc_datetime(epoch: float) -> datetime:
    """An epoch as the aware datetime botocore would parse it into."""
    return datetime.fromtimestamp(epoch, UTC)
