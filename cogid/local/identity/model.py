"""Amazon Cognito Identity: one method per operation, with AWS's semantics.

Methods take the request members as snake_case keywords (already checked against botocore's
shapes by wire/validate.py) and return the response members as AWS names. They know nothing of JSON,
XML or HTTP. Section and case numbers (E4, D9, Q3 ...) refer to spec/cognito-identity.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cogid.local import errors
from cogid.local.identity.federation import COGNITO_KEY, PUBLIC_PROVIDERS, Federation, Login
from cogid.local.identity.pool import (
    ACCOUNT,
    ISSUER,
    POOL_ARN_CLAIM,
    POOL_MEMBERS,
    TAGS_CLAIM,
    Caller,
    Identity,
    Pool,
    utc_datetime,
)
from cogid.local.signing import KeyRing
from cogid.local.store import Duplicate, Row, Store

MAX_POOLS = 1000
MAX_LOGINS = 20
MAX_TAGS = 50
MAX_ATTRIBUTE_NAME_BYTES = 460  # all attribute names of a principal-tag map together
MAX_DEVELOPER_USER = 1024
MAX_RULES = 25  # spec Q5: the guide's 25, not the model's 400
DEFAULT_TOKEN_DURATION = 900
OPEN_ID_TOKEN_DURATION = 600
ENHANCED_SESSION = 3600

LOGINS_DONT_MATCH = "Logins don't match. Please include at least one valid login for this identity or identity pool."
UNAUTH_NOT_SUPPORTED = "Unauthenticated access is not supported for this identity pool."
INVALID_POOL_CONFIGURATION = "Invalid identity pool configuration. Check assigned IAM roles for this pool."
UNSUPPORTED_DEVELOPER_PROVIDER = "This identity pool does not support the specified developer provider"

_USER_POOL_PROVIDER = re.compile(r"cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/[\w-]+_[0-9a-zA-Z]+")
_OIDC_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:oidc-provider/(.+)")
_SAML_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:saml-provider/[\w+=,.@-]+")
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+")


@dataclass(frozen=True)
class Issued:
    """What a token call settled on, signed after its transaction commits."""

    identity_id: str
    claims: dict[str, Any]


def _mapped_role(mapping: dict[str, Any], claims: dict[str, Any], custom_role_arn: str | None) -> str | None:
    """The role a Token or Rules mapping picks for these IdP claims; None when ambiguous."""
    if mapping["Type"] == "Token":
        roles = _claim_values(claims.get("cognito:roles"))
        if custom_role_arn is not None:  # it must be one the user pool granted, else denied
            if custom_role_arn not in roles:
                raise errors.NotAuthorized(
                    f"CustomRoleArn '{custom_role_arn}' is not one of the roles in the token's cognito:roles claim."
                )
            return custom_role_arn
        preferred = claims.get("cognito:preferred_role")
        if preferred:
            return str(preferred)
        return roles[0] if len(roles) == 1 else None
    matches = []
    for rule in mapping["RulesConfiguration"]["Rules"]:
        if rule["Claim"] not in claims:
            continue  # an absent claim matches no rule, NotEqual included
        values = _claim_values(claims[rule["Claim"]])
        wanted, match_type = rule["Value"], rule["MatchType"]
        # Spec Q20: case-sensitive; a multi-valued claim matches if any element does.
        if match_type == "NotEqual":
            hit = wanted not in values
        else:
            test = {"Equals": str.__eq__, "Contains": str.__contains__, "StartsWith": str.startswith}[match_type]
            hit = any(test(value, wanted) for value in values)
        if hit:
            matches.append(rule["RoleARN"])
    if custom_role_arn is not None:  # CustomRoleArn picks among the matching rules
        return custom_role_arn if custom_role_arn in matches else None
    return matches[0] if matches else None


def _default_tag_claims(provider: str) -> dict[str, str]:
    """The fixed tag -> claim map of `UseDefaults` (spec §6.8; tag names as the guide lists them)."""
    if provider.startswith("cognito-idp."):
        return {"client": "aud", "username": "sub"}
    if provider == "www.amazon.com":
        return {"app_id": "aud", "user_id": "user_id"}
    return {"app_id": "aud", "user_id": "sub"}


def _claim_values(value: Any) -> list[str]:
    """A claim as the strings rules and tags compare: JSON's spelling for what is not a string
    (`true`, not Python's `True`)."""
    if value is None:
        return []
    return [v if isinstance(v, str) else json.dumps(v) for v in (value if isinstance(value, list) else [value])]


def _page_token(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": seq}).encode()).decode()


def _page_start(token: str | None) -> int:
    if token is None:
        return 0
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
        raise errors.InvalidParameter("Invalid pagination token") from None
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise errors.InvalidParameter("Invalid pagination token")
    return after


class CognitoIdentity:
    """The identity-pool service over one store."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        federation: Federation,
        sts: Any,
        clock: Callable[[], float],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ):
        self.store = store
        self.keys = keys
        self.federation = federation
        self.sts = sts  # iam.STS: the enhanced flow assumes roles through it
        self.clock = clock
        self.new_id = new_id
        # Called inside every merge's transaction as (loser, survivor, pool id): the data other
        # services keep per identity follows it (Cognito Sync's datasets, spec sync §6).
        self.merge_listeners: list[Callable[[str, str, str], None]] = []

    # -- lookups ---------------------------------------------------------------------------

    def _pool(self, caller: Caller, pool_id: str, row: Row | None = None) -> Pool:
        row = row if row is not None else self.store.pool(pool_id)
        # A pool id sent to another region's endpoint is not found there (spec §2).
        if row is None or row["region"] != caller.region:
            raise errors.ResourceNotFound(f"IdentityPool '{pool_id}' not found.")
        return Pool(row)

    def _identity(self, identity_id: str) -> Identity:
        row = self.store.identity(identity_id)
        if row is None:
            raise errors.ResourceNotFound(f"Identity '{identity_id}' not found.")
        return Identity.from_row(row)

    def _identity_in(self, caller: Caller, identity_id: str) -> tuple[Pool, Identity]:
        identity = self._identity(identity_id)
        try:
            return self._pool(caller, identity.pool_id), identity
        except errors.ResourceNotFound:  # another region's identity is unknown at this endpoint
            raise errors.ResourceNotFound(f"Identity '{identity_id}' not found.") from None

    def _identity_of_pool(self, pool: Pool, identity_id: str) -> Identity:
        identity = self._identity(identity_id)
        if identity.pool_id != pool.id:  # D11: another pool's identity is unknown here
            raise errors.ResourceNotFound(f"Identity '{identity_id}' not found.")
        return identity

    def _arn_pool(self, caller: Caller, arn: str) -> Pool:
        prefix = f"arn:aws:cognito-identity:{caller.region}:{ACCOUNT}:identitypool/"
        if not arn.startswith(prefix):
            raise errors.ResourceNotFound(f"Resource '{arn}' not found.")
        return self._pool(caller, arn[len(prefix) :])

    # -- pool administration ---------------------------------------------------------------

    def _check_pool_doc(self, doc: dict[str, Any]) -> None:
        for key in doc.get("SupportedLoginProviders", {}):
            if key not in PUBLIC_PROVIDERS:
                raise errors.InvalidParameter(
                    f"SupportedLoginProviders: '{key}' is not a supported public login provider"
                    f" (one of {', '.join(sorted(PUBLIC_PROVIDERS))})"
                )
        for provider in doc.get("CognitoIdentityProviders", []):
            if (
                not provider.get("ProviderName")
                or not provider.get("ClientId")
                or not _USER_POOL_PROVIDER.fullmatch(provider["ProviderName"])
            ):
                raise errors.InvalidParameter("Invalid Cognito Identity Provider")
        for arn in doc.get("OpenIdConnectProviderARNs", []):
            if not _OIDC_ARN.fullmatch(arn):
                raise errors.InvalidParameter(f"OpenIdConnectProviderARNs: '{arn}' is not an IAM OIDC provider ARN")
        for arn in doc.get("SamlProviderARNs", []):
            if not _SAML_ARN.fullmatch(arn):
                raise errors.InvalidParameter(f"SamlProviderARNs: '{arn}' is not an IAM SAML provider ARN")
        if len(doc.get("IdentityPoolTags", {})) > MAX_TAGS:
            raise errors.InvalidParameter(f"IdentityPoolTags: at most {MAX_TAGS} tags per identity pool")

    @staticmethod
    def _pool_doc(pool_id: str, members: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {"IdentityPoolId": pool_id}
        for name, keyword in POOL_MEMBERS.items():
            if members.get(keyword) is not None:
                doc[name] = members[keyword]
        doc.setdefault("IdentityPoolTags", {})  # present even when empty, as AWS answers
        return doc

    def _conflicting_developer_provider(self, name: str | None) -> errors.ServiceError:
        return errors.ResourceConflict(f"Developer provider name '{name}' is already used by another identity pool")

    def create_identity_pool(self, caller: Caller, **members: Any) -> dict[str, Any]:
        pool_id = f"{caller.region}:{self.new_id()}"
        doc = self._pool_doc(pool_id, members)
        self._check_pool_doc(doc)
        try:
            with self.store.write():
                if self.store.count_pools(caller.region) >= MAX_POOLS:
                    raise errors.LimitExceeded(f"At most {MAX_POOLS} identity pools per region")
                self.store.insert_pool(pool_id, caller.region, doc, self.clock())
        except Duplicate:
            raise self._conflicting_developer_provider(doc.get("DeveloperProviderName")) from None
        return doc

    def describe_identity_pool(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            return self._pool(caller, identity_pool_id).doc

    def update_identity_pool(self, caller: Caller, identity_pool_id: str, **members: Any) -> dict[str, Any]:
        doc = self._pool_doc(identity_pool_id, members)
        try:
            with self.store.write():
                old = self._pool(caller, identity_pool_id).doc  # spec §7: not found comes first
                self._check_pool_doc(doc)
                # Full replacement, except: the developer provider is set once and kept when
                # omitted; tags are kept when omitted (spec §6.3, Q26, Q30).
                current = old.get("DeveloperProviderName")
                wanted = doc.get("DeveloperProviderName")
                if current and wanted and wanted != current:
                    raise errors.InvalidParameter(
                        f"DeveloperProviderName cannot be changed once set (it is '{current}')"
                    )
                if current:
                    doc["DeveloperProviderName"] = current
                if members.get("identity_pool_tags") is None:
                    doc["IdentityPoolTags"] = old.get("IdentityPoolTags", {})
                self.store.update_pool(identity_pool_id, doc)
        except Duplicate:
            raise self._conflicting_developer_provider(doc.get("DeveloperProviderName")) from None
        return doc

    def delete_identity_pool(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.write():
            self._pool(caller, identity_pool_id)
            self.store.delete_pool(identity_pool_id)
        return {}

    def list_identity_pools(self, caller: Caller, max_results: int, next_token: str | None = None) -> dict[str, Any]:
        after = _page_start(next_token)
        with self.store.read():
            rows = self.store.list_pools(caller.region, after, max_results + 1)
        result: dict[str, Any] = {
            "IdentityPools": [
                {"IdentityPoolId": row["id"], "IdentityPoolName": json.loads(row["doc"])["IdentityPoolName"]}
                for row in rows[:max_results]
            ]
        }
        if len(rows) > max_results:
            result["NextToken"] = _page_token(rows[max_results - 1]["seq"])
        return result

    # -- roles and role mappings -----------------------------------------------------------

    def _configured_providers(self, pool: Pool) -> set[str]:
        doc = pool.doc
        keys = set(doc.get("SupportedLoginProviders", {}))
        for provider in doc.get("CognitoIdentityProviders", []):
            keys.add(f"{provider['ProviderName']}:{provider['ClientId']}")
        for arn in doc.get("OpenIdConnectProviderARNs", []):
            keys.add(arn)  # spec Q22: the ARN or the issuer host both name an OIDC provider
            keys.add(_OIDC_ARN.fullmatch(arn).group(1))  # type: ignore[union-attr]
        keys.update(doc.get("SamlProviderARNs", []))
        return keys

    def set_identity_pool_roles(
        self,
        caller: Caller,
        identity_pool_id: str,
        roles: dict[str, str],
        role_mappings: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        role_mappings = role_mappings or {}
        with self.store.write():
            pool = self._pool(caller, identity_pool_id)  # spec §7: not found comes first
            for kind, arn in roles.items():
                if not _ROLE_ARN.fullmatch(arn):
                    raise errors.InvalidParameter(f"Roles.{kind}: '{arn}' is not an IAM role ARN")
            configured = self._configured_providers(pool)
            for key, mapping in role_mappings.items():
                if key not in configured:
                    raise errors.InvalidParameter(
                        f"{key} is not a valid RoleMapping ProviderName or is not a configured provider."
                    )
                self._check_role_mapping(key, mapping)
            self.store.set_roles(identity_pool_id, roles, role_mappings)
        return {}

    @staticmethod
    def _check_role_mapping(key: str, mapping: dict[str, Any]) -> None:
        if "AmbiguousRoleResolution" not in mapping:
            raise errors.InvalidParameter(f"RoleMappings.{key}: AmbiguousRoleResolution is required")
        if mapping["Type"] == "Rules":
            rules = mapping.get("RulesConfiguration", {}).get("Rules", [])
            if not rules:
                raise errors.InvalidParameter(
                    f"RoleMappings.{key}: Type Rules needs RulesConfiguration with 1 or more rules"
                )
            if len(rules) > MAX_RULES:
                raise errors.InvalidParameter(f"RoleMappings.{key}: at most {MAX_RULES} rules per provider")
            for rule in rules:
                if not _ROLE_ARN.fullmatch(rule["RoleARN"]):
                    raise errors.InvalidParameter(f"RoleMappings.{key}: '{rule['RoleARN']}' is not an IAM role ARN")

    def get_identity_pool_roles(self, caller: Caller, identity_pool_id: str) -> dict[str, Any]:
        with self.store.read():
            pool = self._pool(caller, identity_pool_id)
        result: dict[str, Any] = {"IdentityPoolId": pool.id, "Roles": pool.roles}
        if pool.role_mappings:
            result["RoleMappings"] = pool.role_mappings
        return result

    def set_principal_tag_attribute_map(
        self,
        caller: Caller,
        identity_pool_id: str,
        identity_provider_name: str,
        use_defaults: bool | None = None,
        principal_tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "IdentityPoolId": identity_pool_id,
            "IdentityProviderName": identity_provider_name,
            "UseDefaults": bool(use_defaults),
            "PrincipalTags": principal_tags or {},
        }
        with self.store.write():
            self._pool(caller, identity_pool_id)
            names = sum(len(name.encode()) for name in doc["PrincipalTags"].values())
            if names > MAX_ATTRIBUTE_NAME_BYTES:  # spec §6.8
                raise errors.InvalidParameter(
                    f"PrincipalTags: the attribute names add up to {names} bytes;"
                    f" at most {MAX_ATTRIBUTE_NAME_BYTES} are allowed"
                )
            self.store.set_principal_tag_map(identity_pool_id, identity_provider_name, doc)
        return doc

    def get_principal_tag_attribute_map(
        self, caller: Caller, identity_pool_id: str, identity_provider_name: str
    ) -> dict[str, Any]:
        with self.store.read():
            self._pool(caller, identity_pool_id)
            doc = self.store.principal_tag_map(identity_pool_id, identity_provider_name)
        # Spec Q17: a provider never configured answers UseDefaults=false and no tags.
        return doc or {
            "IdentityPoolId": identity_pool_id,
            "IdentityProviderName": identity_provider_name,
            "UseDefaults": False,
        }

    # -- tags ------------------------------------------------------------------------------

    def _retag(self, caller: Caller, arn: str, change: Callable[[dict[str, str]], None]) -> dict[str, Any]:
        with self.store.write():
            pool = self._arn_pool(caller, arn)
            tags = dict(pool.doc.get("IdentityPoolTags", {}))
            change(tags)
            if len(tags) > MAX_TAGS:
                raise errors.InvalidParameter(f"Tags: at most {MAX_TAGS} tags per identity pool")
            self.store.update_pool(pool.id, {**pool.doc, "IdentityPoolTags": tags})
        return {}

    def tag_resource(self, caller: Caller, resource_arn: str, tags: dict[str, str]) -> dict[str, Any]:
        return self._retag(caller, resource_arn, lambda current: current.update(tags))

    def untag_resource(self, caller: Caller, resource_arn: str, tag_keys: list[str]) -> dict[str, Any]:
        def remove(current: dict[str, str]) -> None:
            for key in tag_keys:
                current.pop(key, None)

        return self._retag(caller, resource_arn, remove)

    def list_tags_for_resource(self, caller: Caller, resource_arn: str) -> dict[str, Any]:
        with self.store.read():
            pool = self._arn_pool(caller, resource_arn)
        return {"Tags": pool.doc.get("IdentityPoolTags", {})}

    # -- linking (spec §12) ----------------------------------------------------------------

    def _new_identity(self, pool: Pool, state: str) -> Identity:
        now = self.clock()
        identity = Identity(f"{pool.region}:{self.new_id()}", pool.id, state, now, now)
        self.store.insert_identity(identity.id, pool.id, state, now)
        return identity

    def _owners(self, pool: Pool, logins: Iterable[Login]) -> dict[Login, str]:
        owners = {}
        for login in logins:
            owner = self.store.login_owner(pool.id, login.provider, login.subject)
            if owner is not None:
                owners[login] = owner
        return owners

    def _held(self, identity_id: str) -> list[tuple[str, str, bool]]:
        return [(row["provider"], row["subject"], bool(row["developer"])) for row in self.store.logins(identity_id)]

    @staticmethod
    def _check_capacity(
        identity_id: str,
        held: list[tuple[str, str, bool]],
        incoming: list[tuple[str, str, bool]],
        limit: type[errors.ServiceError],
    ) -> None:
        """N2 and N4: one subject per external provider, at most 20 logins, after adding `incoming`."""
        subjects: dict[str, str] = {}
        for provider, subject, developer in held + incoming:
            if not developer and subjects.setdefault(provider, subject) != subject:
                raise errors.ResourceConflict(f"Identity '{identity_id}' is already linked to another {provider} user")
        if len(set(held + incoming)) > MAX_LOGINS:
            raise limit(f"An identity can have at most {MAX_LOGINS} linked logins")

    def _link(
        self,
        pool: Pool,
        identity: Identity,
        unowned: list[Login],
        limit: type[errors.ServiceError],
        fresh: bool = False,
    ) -> None:
        """Link logins nobody owns to `identity` (`fresh`: created by this call, holding none)."""
        if not unowned:
            return
        held = [] if fresh else self._held(identity.id)
        self._check_capacity(
            identity.id, held, [(login.provider, login.subject, login.developer) for login in unowned], limit
        )
        for login in unowned:
            self.store.add_login(pool.id, login.provider, login.subject, identity.id, login.developer)
        if not fresh:
            identity.state = "authenticated"
            self.store.set_identity_state(identity.id, identity.state, self.clock())

    def _merge(self, source_id: str, target: Identity, limit: type[errors.ServiceError]) -> None:
        """Move every login of `source_id` to `target` and disable the source."""
        if source_id == target.id:
            return
        self._check_capacity(target.id, self._held(target.id), self._held(source_id), limit)
        self.store.move_logins(source_id, target.id)
        now = self.clock()
        self.store.set_identity_state(source_id, "disabled", now)
        target.state = "authenticated"
        self.store.set_identity_state(target.id, target.state, now)
        for listener in self.merge_listeners:
            listener(source_id, target.id, target.pool_id)

    def _converge(
        self, pool: Pool, logins: list[Login], limit: type[errors.ServiceError], preferred: Login | None = None
    ) -> Identity:
        """The identity that owns these logins, after merging several owners into the owner of
        `preferred` or else the oldest (Q3); a new one if none owns any. The rest are linked to it."""
        owners = self._owners(pool, logins)
        unowned = [login for login in logins if login not in owners]
        if not owners:
            target = self._new_identity(pool, "authenticated")
            self._link(pool, target, unowned, limit, fresh=True)
            return target
        first = owners.get(preferred) if preferred is not None else None
        candidates = sorted((self._identity(i) for i in set(owners.values())), key=lambda i: (i.id != first, i.seq))
        target = candidates[0]
        for other in candidates[1:]:
            self._merge(other.id, target, limit)
        self._link(pool, target, unowned, limit)
        return target

    def _amr(self, logins: list[Login]) -> list[str]:
        amr = ["authenticated"]
        for login in sorted(logins, key=lambda login: not login.developer):  # spec Q11: developer first
            amr += [login.provider, login.detail]
        return amr

    def _claims(
        self, pool: Pool, identity_id: str, amr: list[str], duration: int, principal_tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "sub": identity_id,
            "aud": pool.id,
            "amr": amr,
            "iss": ISSUER,
            POOL_ARN_CLAIM: pool.arn,
            "iat": now,
            "exp": now + duration,
        }
        if principal_tags:
            claims[TAGS_CLAIM] = {"principal_tags": {k: [v] for k, v in principal_tags.items()}}
        return claims

    def _issue(self, issued: Issued) -> dict[str, Any]:
        # Signing (~1 ms) happens after the transaction commits, so writers never wait on it.
        return {"IdentityId": issued.identity_id, "Token": self.keys.sign(issued.claims)}

    # -- the developer call (spec §7.4, §12.3) ---------------------------------------------

    def get_open_id_token_for_developer_identity(
        self,
        caller: Caller,
        identity_pool_id: str,
        logins: dict[str, str],
        identity_id: str | None = None,
        principal_tags: dict[str, str] | None = None,
        token_duration: int | None = None,
    ) -> dict[str, Any]:
        duration = DEFAULT_TOKEN_DURATION if token_duration is None else token_duration
        if identity_id is None and len(logins) == 1:
            # The common case, a known user signing in again, changes nothing: answer it from a
            # snapshot without queueing behind the writers. A new user is made in one short write.
            issued = self._developer_user(caller, identity_pool_id, logins, duration, principal_tags, create=False)
            if issued is None:
                with self.store.write():
                    issued = self._developer_user(caller, identity_pool_id, logins, duration, principal_tags)
            assert issued is not None
            return self._issue(issued)
        if len(logins) > 1:
            self._prefetch_keys(caller, logins, pool_id=identity_pool_id)
        with self.store.write():
            pool = self._pool(caller, identity_pool_id)
            # Spec §7: an unknown identity (D11) is reported before what is wrong with the logins.
            identity = self._identity_of_pool(pool, identity_id) if identity_id is not None else None
            user = self._developer_login(pool, logins)
            external = self._external_logins(pool, {k: v for k, v in logins.items() if k != user.provider})
            presented = [user, *external]
            if identity is None:
                # D2-D5: the developer user's owner wins; otherwise the owner of an external login.
                target = self._converge(pool, presented, errors.InvalidParameter, preferred=user)
            else:
                target = self._developer_onto(pool, identity, user, presented)
            issued = Issued(target.id, self._claims(pool, target.id, self._amr(presented), duration, principal_tags))
        return self._issue(issued)

    def developer_tokens(
        self,
        caller: Caller,
        identity_pool_id: str,
        provider: str,
        users: list[str],
        principal_tags: dict[str, str] | None = None,
        token_duration: int | None = None,
    ) -> list[dict[str, Any] | None]:
        """GetOpenIdTokenForDeveloperIdentity's answer for each of `users`, each the developer
        user alone (bulk issuance, `cogid token issue --users-from`), as that call answers it:
        the known users read in one snapshot, the new ones made in one write transaction (the
        batch stored whole or not at all), every token signed after it commits.

        None for a user the call would refuse (pool gone or of another region, provider not
        the pool's, a user id over 1,024 characters): its caller makes that user's call itself,
        whose error is the one to report. Only the model's checks are made here: the caller
        has checked the parameters as the call's wire format does (bulk issuance made the same
        call, with the same pool, provider, tags and duration, first), and sends users of 1 to
        1,024 characters."""
        duration = DEFAULT_TOKEN_DURATION if token_duration is None else token_duration
        settled: list[Issued | None] = [None] * len(users)
        refused: set[int] = set()

        def settle(indexes: Iterable[int], create: bool) -> None:
            pool_id, tags = identity_pool_id, principal_tags
            for i in indexes:
                try:
                    settled[i] = self._developer_user(caller, pool_id, {provider: users[i]}, duration, tags, create)
                except errors.ServiceError:  # raised before the user's rows are written, if any are
                    refused.add(i)

        with self.store.read():
            settle(range(len(users)), create=False)
        new = [i for i, issued in enumerate(settled) if issued is None and i not in refused]
        if new:
            with self.store.write():
                settle(new, create=True)
        return [None if issued is None else self._issue(issued) for issued in settled]

    def _developer_user(
        self,
        caller: Caller,
        identity_pool_id: str,
        logins: dict[str, str],
        duration: int,
        principal_tags: dict[str, str] | None,
        create: bool = True,
    ) -> Issued | None:
        """A developer call with the developer user alone: what _converge does for one login,
        in at most two statements (the pool and the user's owner, read at once; a new identity
        and its login, if the user has none and `create`, inside the caller's write
        transaction). None: a new user, not made."""
        ((provider, subject),) = logins.items()
        row = self.store.pool_and_owner(identity_pool_id, provider, subject)  # one statement
        pool = self._pool(caller, identity_pool_id, row)
        user = self._developer_login(pool, logins)
        owner = row["owner"] if row is not None else None
        if owner is None:  # a new user (or, in the write, one whose identity went since the snapshot)
            if not create:
                return None
            owner = self._new_identity(pool, "authenticated").id
            self.store.add_login(pool.id, user.provider, user.subject, owner, True)
        return Issued(owner, self._claims(pool, owner, self._amr([user]), duration, principal_tags))

    @staticmethod
    def _developer_login(pool: Pool, logins: dict[str, str]) -> Login:
        """The developer user of a developer call (D1 and the user id's length checked)."""
        developer = pool.developer_provider
        if developer is None or developer not in logins:  # D1
            raise errors.NotAuthorized(UNSUPPORTED_DEVELOPER_PROVIDER)
        user = logins[developer]
        if len(user) > MAX_DEVELOPER_USER:  # the DeveloperUserIdentifier shape's limit
            raise errors.Validation(
                f"1 validation error detected: Value at 'logins.{developer}' failed to satisfy constraint:"
                f" Member must have length less than or equal to {MAX_DEVELOPER_USER}"
            )
        return Login(developer, user, developer=True, detail=f"{developer}:{pool.id}:{user}")

    def _developer_onto(self, pool: Pool, identity: Identity, user: Login, presented: list[Login]) -> Identity:
        if identity.state == "disabled":  # D10
            raise errors.NotAuthorized(f"Access to Identity '{identity.id}' is forbidden.")
        owners = self._owners(pool, presented)
        if owners.get(user, identity.id) != identity.id:  # D9, spec Q2
            raise errors.DeveloperUserAlreadyRegistered(
                f"Developer user '{user.subject}' is already registered with identity '{owners[user]}'."
            )
        return self._gather(pool, identity, presented, owners)  # D8, D6, D7

    def _gather(self, pool: Pool, identity: Identity, presented: list[Login], owners: dict[Login, str]) -> Identity:
        """The presented logins, all on one identity, which is returned. An authenticated
        `identity` must own one of them (D8, E9). It and the logins' other owners are merged
        (E11): into the oldest owner when `identity` is a guest, else into `identity` (spec Q1).
        The logins nobody owns are then linked to it (D6, D7, E10, E14)."""
        if identity.state == "authenticated" and identity.id not in owners.values():
            raise errors.NotAuthorized(LOGINS_DONT_MATCH)
        others = set(owners.values()) - {identity.id}
        if identity.state == "guest" and others:
            target = min((self._identity(i) for i in others), key=lambda i: i.seq)
            self._merge(identity.id, target, errors.InvalidParameter)
            identity = target
            others.discard(target.id)
        for other in others:
            self._merge(other, identity, errors.InvalidParameter)
        unowned = [login for login in presented if login not in owners]
        self._link(pool, identity, unowned, errors.InvalidParameter)
        return identity

    # -- external-login calls (spec §7.1-7.3, §12.2) ---------------------------------------

    def _prefetch_keys(
        self, caller: Caller, logins: dict[str, str] | None, pool_id: str | None = None, identity_id: str = ""
    ) -> None:
        """Fetch the issuer keys `logins` need before the operation's write transaction opens
        (Federation.prefetch says why). What is wrong with the call is left for it to report."""
        if not logins or not any(self.federation.may_fetch(key) for key in logins):
            return
        try:
            with self.store.read():
                pool = self._pool(caller, pool_id) if pool_id is not None else self._identity_in(caller, identity_id)[0]
        except errors.ServiceError:
            return
        self.federation.prefetch(pool, logins)

    def _external_logins(self, pool: Pool, logins: dict[str, str]) -> list[Login]:
        """Validate every presented login (E2): all must pass or the call fails."""
        verified = []
        for key, token in logins.items():
            if key == COGNITO_KEY:
                raise errors.NotAuthorized("Invalid login token. Can't pass in a Cognito token.")
            if key == pool.developer_provider:
                raise errors.NotAuthorized(
                    "Invalid login token. Developer provider logins are accepted only by"
                    " GetOpenIdTokenForDeveloperIdentity."
                )
            verified.append(self.federation.verify(pool, key, token, now=self.clock()))
        return verified

    def get_id(
        self, caller: Caller, identity_pool_id: str, logins: dict[str, str] | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        # Spec Q31: AccountId is accepted and ignored (once it passes the model's pattern).
        self._prefetch_keys(caller, logins, pool_id=identity_pool_id)
        with self.store.write():
            pool = self._pool(caller, identity_pool_id)
            if not logins:  # E1: a new guest on every call, no de-duplication
                if not pool.allows_guests:
                    raise errors.NotAuthorized(UNAUTH_NOT_SUPPORTED)
                return {"IdentityId": self._new_identity(pool, "guest").id}
            presented = self._external_logins(pool, logins)
            return {"IdentityId": self._converge(pool, presented, errors.LimitExceeded).id}  # E3-E5

    def _authenticate(
        self, pool: Pool, identity: Identity, logins: dict[str, str] | None
    ) -> tuple[Identity, list[Login], dict[str, Any] | None]:
        """E6-E14 for GetOpenIdToken / GetCredentialsForIdentity: the identity the call is
        for after implicit links and merges, and the logins that proved it (none: a guest) or
        else the claims of the Cognito token for it that did (spec §1.1, §2.1)."""
        if logins and COGNITO_KEY in logins:
            return identity, [], self._cognito_token(pool, identity, logins)
        if identity.state == "disabled":  # E8
            raise errors.NotAuthorized(f"Access to Identity '{identity.id}' is forbidden.")
        if not logins:
            if identity.state != "guest":  # E7
                raise errors.NotAuthorized(LOGINS_DONT_MATCH)
            if not pool.allows_guests:  # E6
                raise errors.NotAuthorized(UNAUTH_NOT_SUPPORTED)
            return identity, [], None
        presented = self._external_logins(pool, logins)
        return self._gather(pool, identity, presented, self._owners(pool, presented)), presented, None  # E9-E14

    def _amr_of(self, presented: list[Login]) -> list[str]:
        return self._amr(presented) if presented else ["unauthenticated"]

    def get_open_id_token(
        self, caller: Caller, identity_id: str, logins: dict[str, str] | None = None
    ) -> dict[str, Any]:
        self._prefetch_keys(caller, logins, identity_id=identity_id)
        with self.store.write():
            pool, identity = self._identity_in(caller, identity_id)
            # Spec Q8: the basic flow is refused with InvalidParameterException.
            if pool.role_mappings:
                raise errors.InvalidParameter(
                    "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow."
                )
            if pool.doc.get("AllowClassicFlow") is False:  # Q8: unset allows it, as on AWS
                raise errors.InvalidParameter("Basic (classic) flow is not enabled, please use enhanced flow.")
            identity, presented, token_claims = self._authenticate(pool, identity, logins)
            # A Cognito token's proof (a developer identity's only one here) is passed on as it is.
            amr = token_claims["amr"] if token_claims else self._amr_of(presented)
            issued = Issued(identity.id, self._claims(pool, identity.id, amr, OPEN_ID_TOKEN_DURATION))
        return self._issue(issued)

    def get_credentials_for_identity(
        self,
        caller: Caller,
        identity_id: str,
        logins: dict[str, str] | None = None,
        custom_role_arn: str | None = None,
    ) -> dict[str, Any]:
        self._prefetch_keys(caller, logins, identity_id=identity_id)
        self._prepare_trust(caller, identity_id, logins, custom_role_arn)

        def transaction(evaluate: bool) -> tuple[Identity, str, dict[str, Any]]:
            with self.store.write():
                pool, identity = self._identity_in(caller, identity_id)
                identity, presented, token_claims = self._authenticate(pool, identity, logins)
                # A Cognito token's claims are the session's; with no external login presented,
                # role mappings and CustomRoleArn do not apply to it (spec Q27).
                claims = token_claims or self._claims(
                    pool, identity.id, self._amr_of(presented), ENHANCED_SESSION, self._principal_tags(pool, presented)
                )
                role = self._choose_role(pool, claims, presented, custom_role_arn)
                # Cognito calls STS itself (spec §11.1 step 6): a refusal is a pool problem, and
                # it is known before this transaction commits, so the call changes nothing.
                # A trust verdict not reached yet is reached with the store unlocked, and the
                # transaction run again (STS.unlocked).
                self._sts_refusal(lambda: self.sts.check(role, claims, ENHANCED_SESSION, evaluate))
            return identity, role, claims

        identity, role, claims = self.sts.unlocked(transaction)
        result = self._sts_refusal(
            lambda: self.sts.assume(
                role, "CognitoIdentityCredentials", claims, ENHANCED_SESSION, guest=claims["amr"] == ["unauthenticated"]
            )
        )
        credentials = result["Credentials"]
        return {
            "IdentityId": identity.id,
            "Credentials": {
                "AccessKeyId": credentials["AccessKeyId"],
                "SecretKey": credentials["SecretAccessKey"],
                "SessionToken": credentials["SessionToken"],
                "Expiration": credentials["Expiration"],
            },
        }

    def _prepare_trust(
        self, caller: Caller, identity_id: str, logins: dict[str, str] | None, custom_role_arn: str | None
    ) -> None:
        """With a Cognito token alone, reach the trust verdict GetCredentialsForIdentity will
        ask for before its write transaction opens, from the token's claims as they read (the
        transaction verifies them); sparing it a run that only finds the verdict missing. Other
        calls reach theirs on a first miss (STS.unlocked); what is wrong is left to report."""
        if not logins or set(logins) != {COGNITO_KEY}:
            return
        claims = self.sts.claims_as_read(logins[COGNITO_KEY])
        if claims is None:
            return
        try:
            with self.store.read():
                pool = self._identity_in(caller, identity_id)[0]
            self.sts.prepare(self._choose_role(pool, claims, [], custom_role_arn), claims)
        except errors.ServiceError:
            return

    def _principal_tags(self, pool: Pool, presented: list[Login]) -> dict[str, str]:
        """Session tags from the logins' claims, as the pool's principal-tag maps say (spec §6.8)."""
        tags: dict[str, str] = {}
        for login in presented:
            mapping = self.store.principal_tag_map(pool.id, login.provider)
            if mapping is None:
                continue
            wanted = (
                _default_tag_claims(login.provider) if mapping.get("UseDefaults") else mapping.get("PrincipalTags", {})
            )
            for tag, claim in wanted.items():
                value = login.claims.get(claim)
                if value is not None:
                    tags[tag] = ",".join(_claim_values(value))
        return tags

    @staticmethod
    def _sts_refusal(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (errors.AccessDenied, errors.ValidationError):
            raise errors.InvalidIdentityPoolConfiguration(INVALID_POOL_CONFIGURATION) from None

    def _cognito_token(self, pool: Pool, identity: Identity, logins: dict[str, str]) -> dict[str, Any]:
        """The claims of a token this pool issued for this identity, presented alone (spec §7.3)."""
        if len(logins) > 1:
            raise errors.InvalidParameter(f"A {COGNITO_KEY} token cannot be combined with other logins")
        if identity.state == "disabled":  # E8 comes first, as for external logins
            raise errors.NotAuthorized(f"Access to Identity '{identity.id}' is forbidden.")
        try:
            claims: dict[str, Any] = self.sts.verify(logins[COGNITO_KEY])
        except errors.ExpiredToken:
            raise errors.NotAuthorized("Invalid login token. Token expired.") from None
        except errors.InvalidIdentityToken as error:
            raise errors.NotAuthorized(f"Invalid login token. {error.message}") from None
        if claims["aud"] != pool.id or claims["sub"] != identity.id:
            raise errors.NotAuthorized(LOGINS_DONT_MATCH)
        if claims.get("amr") == ["unauthenticated"]:
            # A guest token speaks for a guest only while it is one and guests are allowed (E6, §7.2).
            if identity.state != "guest":
                raise errors.NotAuthorized(LOGINS_DONT_MATCH)
            if not pool.allows_guests:
                raise errors.NotAuthorized(UNAUTH_NOT_SUPPORTED)
        return claims

    def _choose_role(
        self, pool: Pool, claims: dict[str, Any], presented: list[Login], custom_role_arn: str | None
    ) -> str:
        """Role selection of the enhanced flow (spec §11.1)."""
        # The auth state comes from the claims. Spec §11.1 step 2 gives a Cognito token the
        # authenticated role, with developer tokens in mind; a guest's token (GetOpenIdToken,
        # amr "unauthenticated") keeps the unauthenticated one, or any guest could sign in.
        kind = "unauthenticated" if claims["amr"] == ["unauthenticated"] else "authenticated"
        for login in presented:
            mapping = self._role_mapping(pool, login)
            if mapping is not None:
                chosen = _mapped_role(mapping, login.claims, custom_role_arn)
                if chosen is not None:
                    return chosen
                if mapping["AmbiguousRoleResolution"] == "Deny":
                    raise errors.NotAuthorized("The ambiguous role mapping rules denied this request.")
                break
        role = pool.roles.get(kind)
        if role is None:
            raise errors.InvalidIdentityPoolConfiguration(INVALID_POOL_CONFIGURATION)
        return role

    @staticmethod
    def _role_mapping(pool: Pool, login: Login) -> dict[str, Any] | None:
        """The RoleMappings entry for this login's provider, under any key that names it."""
        keys = [login.provider, f"{login.provider}:{login.claims.get('aud')}"]  # user pools: key:clientId
        # Spec Q22: an OIDC provider's mapping may be keyed by its IAM ARN or by its issuer host.
        keys += [
            arn
            for arn in pool.doc.get("OpenIdConnectProviderARNs", [])
            if arn.split(":oidc-provider/", 1)[-1] == login.provider
        ]
        return next((pool.role_mappings[key] for key in keys if key in pool.role_mappings), None)

    def unlink_identity(
        self, caller: Caller, identity_id: str, logins: dict[str, str], logins_to_remove: list[str]
    ) -> dict[str, Any]:
        self._prefetch_keys(caller, logins, identity_id=identity_id)
        with self.store.write():
            pool, identity = self._identity_in(caller, identity_id)
            if identity.state == "disabled":
                raise errors.NotAuthorized(f"Access to Identity '{identity_id}' is forbidden.")
            presented = self._external_logins(pool, logins)
            if identity.id not in self._owners(pool, presented).values():
                raise errors.NotAuthorized(LOGINS_DONT_MATCH)
            for provider in logins_to_remove:
                if provider == pool.developer_provider:
                    raise errors.InvalidParameter(
                        "The developer provider cannot be unlinked here; use UnlinkDeveloperIdentity"
                    )
                if not self.store.remove_provider(identity.id, provider):
                    raise errors.ResourceNotFound(f"Identity '{identity_id}' has no login for {provider}")
            self._settle(identity)
        return {}

    def _settle(self, identity: Identity) -> None:
        """After an unlink: an identity left with no login becomes disabled (spec Q15)."""
        state = "authenticated" if self.store.logins(identity.id) else "disabled"
        self.store.set_identity_state(identity.id, state, self.clock())

    # -- developer identity administration -------------------------------------------------

    def lookup_developer_identity(
        self,
        caller: Caller,
        identity_pool_id: str,
        identity_id: str | None = None,
        developer_user_identifier: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 60
        with self.store.read():
            pool = self._pool(caller, identity_pool_id)  # spec §7: not found comes first
            if identity_id is None and developer_user_identifier is None:
                raise errors.InvalidParameter("IdentityId or DeveloperUserIdentifier is required")
            identity = self._identity_of_pool(pool, identity_id) if identity_id is not None else None
            developer = pool.developer_provider
            owner = None
            if developer_user_identifier is not None:
                owner = self.store.login_owner(pool.id, developer or "", developer_user_identifier)
                if owner is None:
                    raise errors.ResourceNotFound(f"Developer user '{developer_user_identifier}' not found.")
                if identity_id is not None and identity_id != owner:
                    raise errors.ResourceConflict(
                        f"Developer user '{developer_user_identifier}' does not belong to identity '{identity_id}'."
                    )
                return {"IdentityId": owner, "DeveloperUserIdentifierList": [developer_user_identifier]}
            assert identity is not None
            rows = self.store.developer_ids(identity.id, _page_start(next_token), limit + 1)
        result: dict[str, Any] = {
            "IdentityId": identity.id,
            "DeveloperUserIdentifierList": [row["subject"] for row in rows[:limit]],
        }
        if len(rows) > limit:
            result["NextToken"] = _page_token(rows[limit - 1]["seq"])
        return result

    def _developer_owner(self, pool: Pool, provider: str, user: str) -> Identity:
        if provider != pool.developer_provider:
            raise errors.NotAuthorized(UNSUPPORTED_DEVELOPER_PROVIDER)  # spec Q29
        owner = self.store.login_owner(pool.id, provider, user)
        if owner is None:
            raise errors.ResourceNotFound(f"Developer user '{user}' not found.")
        return self._identity(owner)

    def merge_developer_identities(
        self,
        caller: Caller,
        source_user_identifier: str,
        destination_user_identifier: str,
        developer_provider_name: str,
        identity_pool_id: str,
    ) -> dict[str, Any]:
        with self.store.write():
            pool = self._pool(caller, identity_pool_id)
            source = self._developer_owner(pool, developer_provider_name, source_user_identifier)
            target = self._developer_owner(pool, developer_provider_name, destination_user_identifier)
            self._merge(source.id, target, errors.InvalidParameter)  # spec Q24: source disabled
        return {"IdentityId": target.id}

    def unlink_developer_identity(
        self,
        caller: Caller,
        identity_id: str,
        identity_pool_id: str,
        developer_provider_name: str,
        developer_user_identifier: str,
    ) -> dict[str, Any]:
        with self.store.write():
            pool = self._pool(caller, identity_pool_id)
            identity = self._identity_of_pool(pool, identity_id)
            owner = self._developer_owner(pool, developer_provider_name, developer_user_identifier)
            if owner.id != identity.id:
                raise errors.ResourceConflict(
                    f"Developer user '{developer_user_identifier}' is linked to another identity."
                )
            self.store.remove_login(pool.id, developer_provider_name, developer_user_identifier)
            self._settle(identity)
        return {}

    # -- identities ------------------------------------------------------------------------

    def _describe(self, identity: Identity, providers: list[str] | None = None) -> dict[str, Any]:
        """DescribeIdentity's answer; `providers`, the identity's login providers in link order,
        when read already (for a page of identities at once)."""
        description: dict[str, Any] = {"IdentityId": identity.id}
        if providers is None:
            providers = [row["provider"] for row in self.store.logins(identity.id)]
        providers = list(dict.fromkeys(providers))
        if providers:  # spec Q21: the developer provider is listed once
            description["Logins"] = providers
        description["CreationDate"] = utc_datetime(identity.created)
        description["LastModifiedDate"] = utc_datetime(identity.modified)
        return description

    def describe_identity(self, caller: Caller, identity_id: str) -> dict[str, Any]:
        with self.store.read():
            _, identity = self._identity_in(caller, identity_id)
            return self._describe(identity)

    def list_identities(
        self,
        caller: Caller,
        identity_pool_id: str,
        max_results: int,
        next_token: str | None = None,
        hide_disabled: bool | None = None,
    ) -> dict[str, Any]:
        with self.store.read():
            self._pool(caller, identity_pool_id)
            rows = self.store.list_identities(
                identity_pool_id, _page_start(next_token), max_results + 1, bool(hide_disabled)
            )
            page = [Identity.from_row(row) for row in rows[:max_results]]
            providers = self.store.providers_of([identity.id for identity in page]) if page else {}
            result: dict[str, Any] = {
                "IdentityPoolId": identity_pool_id,
                "Identities": [self._describe(identity, providers.get(identity.id, [])) for identity in page],
            }
        if len(rows) > max_results:
            result["NextToken"] = _page_token(rows[max_results - 1]["seq"])
        return result

    def delete_identities(self, caller: Caller, identity_ids_to_delete: list[str]) -> dict[str, Any]:
        with self.store.write():
            for identity_id in identity_ids_to_delete:
                try:
                    self._identity_in(caller, identity_id)  # another region's identity is unknown here
                except errors.ResourceNotFound:
                    continue  # spec Q16: unknown ids are ignored
                self.store.delete_identity(identity_id)
        return {"UnprocessedIdentityIds": []}
