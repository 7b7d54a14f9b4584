"""IAM, just enough for identity pools: roles with their trust policies (checked by policy.py),
developer access keys for `cogid serve`, and who signed a request (a key or temporary
credentials STS issued, recognised until they expire)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from cogid.local import errors
from cogid.local.iam.names import _BASE32, _SECRET, DEFAULT_SESSION, DEVELOPER_USER, _random
from cogid.local.iam.policy import parse_trust_policy
from cogid.local.identity.pool import ACCOUNT, Caller, utc_datetime
from cogid.local.store import Store

_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)")


class IAM:
    """IAM roles and access keys, and who signed a request."""

    def __init__(self, store: Store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock

    def _role(self, name: str) -> dict[str, Any]:
        role = self.store.role(name)
        if role is None:
            raise errors.NoSuchEntity(f"The role with name {name} cannot be found.")
        return role

    @staticmethod
    def _wire_role(role: dict[str, Any]) -> dict[str, Any]:
        # IAM returns policy documents URL-encoded; botocore decodes them for the caller.
        wire = {
            **role,
            "CreateDate": utc_datetime(role["CreateDate"]),
            "AssumeRolePolicyDocument": quote(role["AssumeRolePolicyDocument"], safe=""),
        }
        return wire

    def create_role(
        self,
        caller: Caller,
        role_name: str,
        assume_role_policy_document: str,
        path: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
        tags: list[dict[str, str]] | None = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        parse_trust_policy(assume_role_policy_document)
        path = path or "/"
        role = {
            "Path": path,
            "RoleName": role_name,
            "RoleId": "AROA" + _random(_BASE32, 17),
            "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{role_name}",
            "CreateDate": self.clock(),
            "AssumeRolePolicyDocument": assume_role_policy_document,
            "MaxSessionDuration": max_session_duration or DEFAULT_SESSION,
        }
        if description is not None:
            role["Description"] = description
        if tags:
            role["Tags"] = tags
        with self.store.write():
            if self.store.role(role_name) is not None:
                raise errors.EntityAlreadyExists(f"Role with name {role_name} already exists.")
            self.store.insert_role(role_name, role)
        return {"Role": self._wire_role(role)}

    def get_role(self, caller: Caller, role_name: str) -> dict[str, Any]:
        with self.store.read():
            return {"Role": self._wire_role(self._role(role_name))}

    def list_roles(
        self, caller: Caller, path_prefix: str | None = None, marker: str | None = None, max_items: int | None = None
    ) -> dict[str, Any]:
        limit = max_items or 100
        try:
            after = int(marker) if marker else 0
        except ValueError:
            raise errors.ValidationError("Invalid Marker") from None
        if not 0 <= after < 2**63:
            raise errors.ValidationError("Invalid Marker")
        with self.store.read():
            rows = self.store.list_roles(after, path_prefix or "/", limit + 1)
        roles = [json.loads(row["doc"]) for row in rows[:limit]]
        result: dict[str, Any] = {"Roles": [self._wire_role(r) for r in roles], "IsTruncated": len(rows) > limit}
        if len(rows) > limit:
            result["Marker"] = str(rows[limit - 1]["seq"])
        return result

    def delete_role(self, caller: Caller, role_name: str) -> dict[str, Any]:
        with self.store.write():
            if not self.store.delete_role(role_name):
                raise errors.NoSuchEntity(f"The role with name {role_name} cannot be found.")
        return {}

    def update_assume_role_policy(self, caller: Caller, role_name: str, policy_document: str) -> dict[str, Any]:
        parse_trust_policy(policy_document)
        with self.store.write():
            role = self._role(role_name)
            self.store.update_role(role["RoleName"], {**role, "AssumeRolePolicyDocument": policy_document})
        return {}

    def role_by_arn(self, arn: str) -> dict[str, Any] | None:
        match = _ROLE_ARN.fullmatch(arn)
        if match is None or match.group(1) != ACCOUNT:
            return None
        role = self.store.role(match.group(2))
        return role if role is not None and role["Arn"] == arn else None

    # -- developer access keys (what `cogid serve` accepts for SigV4) --------------------------

    def create_access_key(self, caller: Caller, user_name: str | None = None) -> dict[str, Any]:
        key: dict[str, Any] = {
            "UserName": user_name or DEVELOPER_USER,
            "AccessKeyId": "AKIA" + _random(_BASE32, 16),
            "Status": "Active",
            "SecretAccessKey": _random(_SECRET, 40),
            "CreateDate": self.clock(),
        }
        with self.store.write():
            self.store.insert_access_key(key["AccessKeyId"], key)
        return {"AccessKey": {**key, "CreateDate": utc_datetime(key["CreateDate"])}}

    def list_access_keys(self, caller: Caller, user_name: str | None = None, **_paging: Any) -> dict[str, Any]:
        with self.store.read():
            keys = self.store.access_keys()
        metadata = [
            {
                "UserName": k["UserName"],
                "AccessKeyId": k["AccessKeyId"],
                "Status": k["Status"],
                "CreateDate": utc_datetime(k["CreateDate"]),
            }
            for k in keys
            if user_name is None or k["UserName"] == user_name
        ]
        return {"AccessKeyMetadata": metadata, "IsTruncated": False}

    def delete_access_key(self, caller: Caller, access_key_id: str, user_name: str | None = None) -> dict[str, Any]:
        with self.store.write():
            if not self.store.delete_access_key(access_key_id):
                raise errors.NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        return {}

    # -- who is calling ------------------------------------------------------------------------

    def credentials(self, access_key: str, session_token: str | None) -> dict[str, Any]:
        """The principal behind an access key, with its secret (for SigV4 checks).

        Raises UnrecognizedClient for an unknown key or a session token that does not match,
        ExpiredToken for a temporary key past its expiry.
        """
        kind, doc = self.store.signer(access_key) or ("", {})
        if kind == "session":
            if session_token != doc["SessionToken"]:
                raise errors.AuthFailure("The security token included in the request is invalid.", "unrecognized")
            if doc["Expiration"] <= self.clock():
                raise errors.AuthFailure("The security token included in the request is expired", "expired")
            return {
                "Secret": doc["SecretAccessKey"],
                "Arn": doc["Arn"],
                "UserId": doc["UserId"],
                "Session": True,
                # The Cognito identity the credentials were vended to, and its pool (Cognito Sync
                # scopes each identity to its own data). Sessions stored before the pool was
                # recorded have none: their identity alone then decides.
                "IdentityId": doc["IdentityId"],
                "IdentityPoolId": doc.get("IdentityPoolId"),
            }
        if kind == "key" and session_token is None:  # a permanent key takes no session token
            return {
                "Secret": doc["SecretAccessKey"],
                "UserId": doc["AccessKeyId"],
                "Arn": f"arn:aws:iam::{ACCOUNT}:user/{doc['UserName']}",
            }
        raise errors.AuthFailure("The security token included in the request is invalid.", "unrecognized")
