"""IAM roles with their trust policies, and the STS calls that assume them.

Just enough IAM for identity pools: roles, their trust policies (evaluated as AWS does for
web-identity federation), developer access keys for `cogid serve`, and temporary credentials
that are stored so requests signed with them are recognised until they expire.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import jwt

from cogid.local import errors
from cogid.local.identity.pool import ACCOUNT, ISSUER, TAGS_CLAIM, Caller, utc_datetime
from cogid.local.signing import KeyRing
from cogid.local.store import Store

STS_OPERATIONS = ("AssumeRoleWithWebIdentity", "GetCallerIdentity")
IAM_OPERATIONS = (
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "CreateAccessKey",
    "ListAccessKeys",
    "DeleteAccessKey",
)

COGNITO_PRINCIPAL = "cognito-identity.amazonaws.com"
WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
TAG_SESSION_ACTION = "sts:TagSession"
CONDITION_KEYS = {f"{COGNITO_PRINCIPAL}:{name}" for name in ("aud", "amr", "sub")}
NOT_AUTHORIZED = "Not authorized to perform {}"
DEFAULT_SESSION = 3600
MAX_SESSION_TAGS = 50
DEVELOPER_USER = "cogid-developer"

_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@functools.cache
def _glob(pattern: str) -> re.Pattern[str]:
    """IAM's StringLike: `*` any run of characters, `?` any one."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


# -- trust policies --------------------------------------------------------------------------

_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda have, want: have == want,
    "StringEqualsIgnoreCase": lambda have, want: have.lower() == want.lower(),
    "StringLike": lambda have, want: _glob(want).fullmatch(have) is not None,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
}
_QUALIFIERS = ("ForAnyValue", "ForAllValues")
_VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_ELEMENTS = {"Sid", "Effect", "Principal", "Action", "Condition"}
AUD_KEY = f"{COGNITO_PRINCIPAL}:aud"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(value: Any) -> bool:
    return all(isinstance(v, str) for v in _as_list(value)) and value != []


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return _as_list(document.get("Statement", []))


def _names_cognito(principal: Any) -> bool:
    """Does this Principal take in Cognito's federated users ("*" and {"AWS": "*"} are everyone)?"""
    if principal == "*":
        return True
    return isinstance(principal, dict) and (
        COGNITO_PRINCIPAL in _as_list(principal.get("Federated", [])) or "*" in _as_list(principal.get("AWS", []))
    )


def _grants(actions: Any, action: str) -> bool:
    return any(_glob(a.lower()).fullmatch(action.lower()) for a in _as_list(actions))


def _check_statement(statement: Any) -> None:
    if not isinstance(statement, dict):
        raise errors.MalformedPolicyDocument("Each Statement must be a JSON object.")
    unknown = set(statement) - _STATEMENT_ELEMENTS
    if unknown:
        raise errors.MalformedPolicyDocument(f"Unsupported policy element in a trust policy: {sorted(unknown)[0]}")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise errors.MalformedPolicyDocument("Effect must be Allow or Deny.")
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise errors.MalformedPolicyDocument("Sid must be a string.")
    principal, actions = statement.get("Principal"), statement.get("Action")
    if principal is None or actions is None:
        raise errors.MalformedPolicyDocument("A trust policy statement needs a Principal and an Action.")
    if principal != "*" and not (
        isinstance(principal, dict) and principal and all(_strings(v) for v in principal.values())
    ):
        raise errors.MalformedPolicyDocument('Principal must be "*" or an object of principal names.')
    if not _strings(actions):
        raise errors.MalformedPolicyDocument("Action must be a string or a list of strings.")
    conditions = statement.get("Condition", {})
    if not isinstance(conditions, dict) or not all(isinstance(c, dict) for c in conditions.values()):
        raise errors.MalformedPolicyDocument("Condition must map operators to objects of condition keys.")
    if not _names_cognito(principal):
        return  # other principals never assume a role through this service
    for operator, tests in conditions.items():
        qualifier, _, base = operator.rpartition(":")
        if qualifier not in ("", *_QUALIFIERS) or (base not in _OPERATORS and base not in _NEGATED):
            raise errors.MalformedPolicyDocument(f"Unsupported condition operator: {operator}")
        for key, wanted in tests.items():
            if key.lower() not in CONDITION_KEYS:
                raise errors.MalformedPolicyDocument(f"Unsupported condition key for {COGNITO_PRINCIPAL}: {key}")
            if not _strings(wanted):
                raise errors.MalformedPolicyDocument(f"Condition values of {key} must be strings.")
    # IAM will not let a role trust every identity pool (Cognito guide, "IAM roles").
    keys = {key.lower() for tests in conditions.values() for key in tests}
    if statement["Effect"] == "Allow" and _grants(actions, WEB_IDENTITY_ACTION) and AUD_KEY not in keys:
        raise errors.MalformedPolicyDocument(
            f"A statement trusting {COGNITO_PRINCIPAL} needs a condition on {AUD_KEY}."
        )


def parse_trust_policy(text: str) -> dict[str, Any]:
    """Parse and check a trust policy; anything this service would not evaluate is refused."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than any policy has
        raise errors.MalformedPolicyDocument("Syntax errors in policy.") from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        raise errors.MalformedPolicyDocument("The policy must be a JSON object with a Statement.")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise errors.MalformedPolicyDocument(f"Unsupported policy element: {sorted(unknown)[0]}")
    if "Version" in document and document["Version"] not in _VERSIONS:
        raise errors.MalformedPolicyDocument(f"Version must be one of {', '.join(_VERSIONS)}.")
    if not _statements(document):
        raise errors.MalformedPolicyDocument("The policy needs at least one Statement.")
    for statement in _statements(document):
        _check_statement(statement)
    return dict(document)


def _condition_holds(operator: str, wanted: Any, have: list[str]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    negated = base in _NEGATED
    test = _OPERATORS[_NEGATED.get(base, base)]

    def holds(value: str) -> bool:  # a negated operator holds when no listed value matches
        hit = any(test(value, str(w)) for w in _as_list(wanted))
        return hit != negated

    if qualifier == "ForAnyValue":
        return any(holds(v) for v in have)
    if qualifier == "ForAllValues":
        return all(holds(v) for v in have)
    # Single-valued operators: a missing key fails a positive operator and passes a negated
    # one, as in IAM; on the multi-valued amr a positive one needs some value to match.
    if not have:
        return negated
    return all(holds(v) for v in have) if negated else any(holds(v) for v in have)


def _allows(document: dict[str, Any], context: dict[str, list[str]], action: str) -> bool:
    allowed = False
    for statement in _statements(document):
        if not _names_cognito(statement["Principal"]) or not _grants(statement["Action"], action):
            continue
        applies = all(
            _condition_holds(operator, wanted, context.get(key.lower(), []))
            for operator, tests in statement.get("Condition", {}).items()
            for key, wanted in tests.items()
        )
        if applies and statement["Effect"] == "Deny":
            return False  # an explicit Deny always wins
        allowed = allowed or applies
    return allowed


def trust_refusal(document: dict[str, Any], claims: dict[str, Any]) -> str | None:
    """The action this trust policy refuses a holder of these Cognito token claims, if any."""
    context = {
        f"{COGNITO_PRINCIPAL}:aud": [str(claims.get("aud", ""))],
        f"{COGNITO_PRINCIPAL}:sub": [str(claims.get("sub", ""))],
        f"{COGNITO_PRINCIPAL}:amr": [str(v) for v in claims.get("amr", [])],
    }
    if not _allows(document, context, WEB_IDENTITY_ACTION):
        return WEB_IDENTITY_ACTION
    # The token's principal tags become session tags, which the role must also let in (spec §8.1).
    tagged = bool((claims.get(TAGS_CLAIM) or {}).get("principal_tags"))
    return TAG_SESSION_ACTION if tagged and not _allows(document, context, TAG_SESSION_ACTION) else None


def _check_session_tags(tags: dict[str, list[str]]) -> None:
    """STS's limits on session tags (spec §8.1): the enhanced flow's come from login claims."""
    if len(tags) > MAX_SESSION_TAGS:
        raise errors.ValidationError(f"At most {MAX_SESSION_TAGS} session tags are allowed; {len(tags)} were given.")
    for key, values in tags.items():
        if len(key) > 128 or any(len(value) > 256 for value in values):
            raise errors.ValidationError(
                f"Session tag {key[:128]!r}: keys are at most 128 characters long and values at most 256."
            )


# -- the service -----------------------------------------------------------------------------


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
            return {"Secret": doc["SecretAccessKey"], "Arn": doc["Arn"], "UserId": doc["UserId"], "Session": True}
        if kind == "key" and session_token is None:  # a permanent key takes no session token
            return {
                "Secret": doc["SecretAccessKey"],
                "UserId": doc["AccessKeyId"],
                "Arn": f"arn:aws:iam::{ACCOUNT}:user/{doc['UserName']}",
            }
        raise errors.AuthFailure("The security token included in the request is invalid.", "unrecognized")


class STS:
    """AssumeRoleWithWebIdentity for Cognito tokens, and GetCallerIdentity."""

    def __init__(self, store: Store, iam: IAM, keys: KeyRing, clock: Callable[[], float]):
        self.store = store
        self.iam = iam
        self.keys = keys
        self.clock = clock

    def verify(self, token: str) -> dict[str, Any]:
        """Verify a Cognito token as STS does: signature and `kid`, issuer, audience, expiry."""
        try:
            # Times are checked below against the service clock, not the machine's.
            claims = self.keys.decode(
                token,
                issuer=ISSUER,
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iat", "sub", "aud"],
                },
            )
        except jwt.PyJWTError as error:
            raise errors.InvalidIdentityToken(f"Couldn't verify the web identity token: {error}") from None
        if not all(isinstance(claims[t], int) and not isinstance(claims[t], bool) for t in ("exp", "iat")):
            raise errors.InvalidIdentityToken("The web identity token's exp and iat must be integers.")
        with self.store.read():
            known_pool = isinstance(claims["aud"], str) and self.store.pool(claims["aud"]) is not None
        if not known_pool:  # a token of a deleted pool, or not of a pool at all
            raise errors.InvalidIdentityToken("Incorrect token audience")
        now = self.clock()
        if claims["exp"] <= now:
            raise errors.ExpiredToken(
                f"Token expired: current date/time {int(now)} must be before the expiration date/time{claims['exp']}"
            )
        return claims

    def _trusted_role(self, role_arn: str, claims: dict[str, Any], duration: int) -> dict[str, Any]:
        role = self.iam.role_by_arn(role_arn)
        if role is None:
            raise errors.AccessDenied(NOT_AUTHORIZED.format(WEB_IDENTITY_ACTION))
        refused = trust_refusal(json.loads(role["AssumeRolePolicyDocument"]), claims)
        if refused is not None:
            raise errors.AccessDenied(NOT_AUTHORIZED.format(refused))
        if duration > role["MaxSessionDuration"]:
            raise errors.ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        _check_session_tags((claims.get(TAGS_CLAIM) or {}).get("principal_tags") or {})
        return role

    def check(self, role_arn: str, claims: dict[str, Any], duration: int) -> None:
        """Raise what `assume` would for this role, claims and duration; stores nothing, so a
        caller can ask inside its own transaction and roll back on refusal."""
        with self.store.read():
            self._trusted_role(role_arn, claims, duration)

    def assume(
        self, role_arn: str, session_name: str, claims: dict[str, Any], duration: int, guest: bool = False
    ) -> dict[str, Any]:
        """Trust check and a new stored session; returns the STS result members.

        `session_name` is the caller's RoleSessionName in the basic flow, and
        "CognitoIdentityCredentials" in the enhanced one (spec §7.3). A Cognito identity id
        cannot serve as one as it is (':' is outside [\\w+=,.@-]); callers who want the
        identity in the session name use its guid part.
        """
        with self.store.write():
            role = self._trusted_role(role_arn, claims, duration)
            expires = int(self.clock()) + duration
            user_id = f"{role['RoleId']}:{session_name}"
            arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/{session_name}"
            session = {
                "AccessKeyId": "ASIA" + _random(_BASE32, 16),
                "SecretAccessKey": _random(_SECRET, 40),
                "SessionToken": base64.b64encode(secrets.token_bytes(192)).decode(),
                "Expiration": expires,
                "Arn": arn,
                "UserId": user_id,
                "RoleArn": role_arn,
                "IdentityId": claims["sub"],
                "Guest": guest,
            }
            self.store.purge_sessions(self.clock() - 86400)
            self.store.insert_session(session["AccessKeyId"], session, expires)
        return {
            "Credentials": {
                "AccessKeyId": session["AccessKeyId"],
                "SecretAccessKey": session["SecretAccessKey"],
                "SessionToken": session["SessionToken"],
                "Expiration": utc_datetime(expires),
            },
            "SubjectFromWebIdentityToken": claims["sub"],
            "AssumedRoleUser": {"AssumedRoleId": user_id, "Arn": arn},
            "Provider": COGNITO_PRINCIPAL,
            "Audience": claims["aud"],
        }

    def assume_role_with_web_identity(
        self,
        caller: Caller,
        role_arn: str,
        role_session_name: str,
        web_identity_token: str,
        provider_id: str | None = None,
        policy_arns: list[dict[str, str]] | None = None,
        policy: str | None = None,
        duration_seconds: int | None = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        if provider_id is not None:
            raise errors.ValidationError("ProviderId must be absent for OpenID Connect tokens.")
        if policy is not None:
            try:
                if not isinstance(json.loads(policy), dict):
                    raise ValueError(policy)
            except (ValueError, RecursionError):
                raise errors.MalformedPolicyDocument("The policy is not in the valid JSON format.") from None
        claims = self.verify(web_identity_token)
        result = self.assume(role_arn, role_session_name, claims, duration_seconds or DEFAULT_SESSION)
        if policy or policy_arns:  # spec Q28: only when session policies were passed
            result["PackedPolicySize"] = min(100, (len(policy or "") + 200 * len(policy_arns or [])) * 100 // 2048)
        return result

    def get_caller_identity(self, caller: Caller) -> dict[str, Any]:
        if caller.principal is None:  # an unsigned in-process call: the account itself
            return {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}
        return {"UserId": caller.principal["UserId"], "Account": ACCOUNT, "Arn": caller.principal["Arn"]}
