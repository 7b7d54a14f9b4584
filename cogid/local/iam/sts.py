"""STS: AssumeRoleWithWebIdentity for Cognito tokens (verified, trust-checked, stored as
temporary credentials), and GetCallerIdentity."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from cogid.local import errors
from cogid.local.iam.iam import IAM
from cogid.local.iam.names import (
    _BASE32,
    _SECRET,
    COGNITO_PRINCIPAL,
    DEFAULT_SESSION,
    MAX_SESSION_TAGS,
    NOT_AUTHORIZED,
    WEB_IDENTITY_ACTION,
    _random,
)
from cogid.local.iam.policy import TrustVerdicts
from cogid.local.identity.pool import ACCOUNT, ISSUER, TAGS_CLAIM, Caller, utc_datetime
from cogid.local.signing import KeyRing
from cogid.local.store import Store


def _check_session_tags(tags: dict[str, list[str]]) -> None:
    """STS's limits on session tags (spec §8.1): the enhanced flow's come from login claims."""
    if len(tags) > MAX_SESSION_TAGS:
        raise errors.ValidationError(f"At most {MAX_SESSION_TAGS} session tags are allowed; {len(tags)} were given.")
    for key, values in tags.items():
        if len(key) > 128 or any(len(value) > 256 for value in values):
            raise errors.ValidationError(
                f"Session tag {key[:128]!r}: keys are at most 128 characters long and values at most 256."
            )


_ATTEMPTS = 3
T = TypeVar("T")


class TrustUnevaluated(Exception):
    """A trust verdict not reached yet, asked for inside a write transaction: it rolls the
    transaction back, for the verdict to be reached outside the store's lock (STS.unlocked)."""

    def __init__(self, text: str, claims: dict[str, Any]):
        super().__init__("trust policy not evaluated yet")
        self.text = text
        self.claims = claims


class STS:
    """AssumeRoleWithWebIdentity for Cognito tokens, and GetCallerIdentity."""

    def __init__(self, store: Store, iam: IAM, keys: KeyRing, clock: Callable[[], float]):
        self.store = store
        self.iam = iam
        self.keys = keys
        self.clock = clock
        self.verdicts = TrustVerdicts()

    def verify(self, token: str) -> dict[str, Any]:
        """Verify a Cognito token as STS does: signature and `kid`, issuer, audience, expiry."""
        import jwt  # here, not at the top: a token call signs without pyjwt (~40 ms of imports)

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

    def _trusted_role(self, role_arn: str, claims: dict[str, Any], duration: int, evaluate: bool) -> dict[str, Any]:
        role = self.iam.role_by_arn(role_arn)
        if role is None:
            raise errors.AccessDenied(NOT_AUTHORIZED.format(WEB_IDENTITY_ACTION))
        text = role["AssumeRolePolicyDocument"]
        known = self.verdicts.known(text, claims)
        if known is None and not evaluate:
            raise TrustUnevaluated(text, claims)
        refused = known[0] if known is not None else self.verdicts.evaluate(text, claims)
        if refused is not None:
            raise errors.AccessDenied(NOT_AUTHORIZED.format(refused))
        if duration > role["MaxSessionDuration"]:
            raise errors.ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        _check_session_tags((claims.get(TAGS_CLAIM) or {}).get("principal_tags") or {})
        return role

    def check(self, role_arn: str, claims: dict[str, Any], duration: int, evaluate: bool = True) -> None:
        """Raise what `assume` would for this role, claims and duration; stores nothing, so a
        caller can ask inside its own transaction and roll back on refusal. With `evaluate`
        False a trust verdict not reached yet raises TrustUnevaluated instead (see `unlocked`)."""
        with self.store.read():
            self._trusted_role(role_arn, claims, duration, evaluate)

    def prepare(self, role_arn: str, claims: dict[str, Any]) -> None:
        """Reach the trust verdict `check` and `assume` will ask of this role for these claims,
        before any write lock is taken (nothing to do when it is known or there is no role)."""
        with self.store.read():
            role = self.iam.role_by_arn(role_arn)
        if role is not None and self.verdicts.known(role["AssumeRolePolicyDocument"], claims) is None:
            self.verdicts.evaluate(role["AssumeRolePolicyDocument"], claims)

    @staticmethod
    def claims_as_read(token: str) -> dict[str, Any] | None:
        """A Cognito token's claims as they read, unverified and only if shaped as ours are:
        enough to reach a trust verdict in advance (a verdict depends on the policy and the
        claims alone), never to trust the token by."""
        import jwt

        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("amr"), list):
            return None
        return claims if isinstance(claims.get(TAGS_CLAIM) or {}, dict) else None

    def unlocked(self, transaction: Callable[[bool], T]) -> T:
        """Run `transaction(evaluate)`, a write transaction that checks trust with `check(...,
        evaluate=evaluate)`, so that trust policies are matched with the store unlocked: a
        verdict it lacks rolls it back, is reached here, and the transaction runs again. Should
        the role keep changing in between, the last attempt evaluates in place."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return transaction(attempt == _ATTEMPTS)
            except TrustUnevaluated as missing:
                self.verdicts.evaluate(missing.text, missing.claims)
        raise AssertionError("unreachable: the last attempt evaluates in place")

    def assume(
        self, role_arn: str, session_name: str, claims: dict[str, Any], duration: int, guest: bool = False
    ) -> dict[str, Any]:
        """Trust check and a new stored session; returns the STS result members.

        `session_name` is the caller's RoleSessionName in the basic flow, and
        "CognitoIdentityCredentials" in the enhanced one (spec §7.3). A Cognito identity id
        cannot serve as one as it is (':' is outside [\\w+=,.@-]); callers who want the
        identity in the session name use its guid part.
        """
        self.prepare(role_arn, claims)
        return self.unlocked(
            lambda evaluate: self._new_session(role_arn, session_name, claims, duration, guest, evaluate)
        )

    def _new_session(
        self, role_arn: str, session_name: str, claims: dict[str, Any], duration: int, guest: bool, evaluate: bool
    ) -> dict[str, Any]:
        with self.store.write():
            role = self._trusted_role(role_arn, claims, duration, evaluate)
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
                "IdentityPoolId": claims["aud"],
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
