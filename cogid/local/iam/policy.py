"""Trust policies: their grammar (what CreateRole and UpdateAssumeRolePolicy accept) and their
evaluation for web-identity federation, as AWS does it for Cognito's tokens."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from cogid.local import errors
from cogid.local.iam.names import COGNITO_PRINCIPAL, CONDITION_KEYS, TAG_SESSION_ACTION, WEB_IDENTITY_ACTION
from cogid.local.identity.pool import TAGS_CLAIM


@functools.lru_cache(maxsize=256)
def _segment(text: str) -> re.Pattern[str]:
    """A run of a pattern between stars, with `?` in it: literals and `.`, no repetition."""
    return re.compile("".join("." if c == "?" else re.escape(c) for c in text), re.DOTALL)


def _segment_at(text: str, value: str, at: int) -> bool:
    if "?" not in text:
        return value.startswith(text, at)
    return _segment(text).match(value, at) is not None


def _find_segment(text: str, value: str, start: int, end: int) -> int:
    """Where `text` first occurs wholly inside value[start:end], or -1."""
    if "?" not in text:
        return value.find(text, start, end)
    found = _segment(text).search(value, start, end)
    return -1 if found is None else found.start()


def wildcard_match(pattern: str, value: str) -> bool:
    """IAM's StringLike: `*` matches any run of characters (none too), `?` any one, and
    everything else itself, case included.

    Each run between stars is placed at its leftmost possible position after the previous one:
    for `*`-globs that is always a match if any placement is, so nothing is ever retried. The
    work is linear in practice, len(value) x the longest run at worst (a regex of `.*` chains
    backtracks exponentially: ten stars took 22 s).
    """
    runs = pattern.split("*")
    if len(runs) == 1:
        return len(value) == len(pattern) and _segment_at(pattern, value, 0)
    first, *middle, last = runs
    end = len(value) - len(last)
    if end < len(first) or not _segment_at(first, value, 0) or not _segment_at(last, value, end):
        return False
    at = len(first)
    for run in middle:
        if run:
            found = _find_segment(run, value, at, end)
            if found < 0:
                return False
            at = found + len(run)
    return True


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda have, want: have == want,
    "StringEqualsIgnoreCase": lambda have, want: have.lower() == want.lower(),
    "StringLike": lambda have, want: wildcard_match(want, have),
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
    return any(wildcard_match(a.lower(), action.lower()) for a in _as_list(actions))


def _principal_names(principal: Any) -> bool:
    return principal == "*" or (
        isinstance(principal, dict) and bool(principal) and all(_strings(v) for v in principal.values())
    )


def _condition_blocks(conditions: Any) -> bool:
    return isinstance(conditions, dict) and all(isinstance(c, dict) for c in conditions.values())


# A statement's elements, checked in this order: what must hold, and IAM's refusal if not.
_STATEMENT_RULES: tuple[tuple[Callable[[dict[str, Any]], bool], str], ...] = (
    (lambda s: s.get("Effect") in ("Allow", "Deny"), "Effect must be Allow or Deny."),
    (lambda s: isinstance(s.get("Sid", ""), str), "Sid must be a string."),
    (
        lambda s: s.get("Principal") is not None and s.get("Action") is not None,
        "A trust policy statement needs a Principal and an Action.",
    ),
    (lambda s: _principal_names(s["Principal"]), 'Principal must be "*" or an object of principal names.'),
    (lambda s: _strings(s["Action"]), "Action must be a string or a list of strings."),
    (
        lambda s: _condition_blocks(s.get("Condition", {})),
        "Condition must map operators to objects of condition keys.",
    ),
)


def _check_statement(statement: Any) -> None:
    if not isinstance(statement, dict):
        raise errors.MalformedPolicyDocument("Each Statement must be a JSON object.")
    unknown = set(statement) - _STATEMENT_ELEMENTS
    if unknown:
        raise errors.MalformedPolicyDocument(f"Unsupported policy element in a trust policy: {sorted(unknown)[0]}")
    for holds, refusal in _STATEMENT_RULES:
        if not holds(statement):
            raise errors.MalformedPolicyDocument(refusal)
    if _names_cognito(statement["Principal"]):  # other principals never assume a role here
        _check_cognito_conditions(statement)


def _check_cognito_conditions(statement: dict[str, Any]) -> None:
    """The conditions of a statement that trusts Cognito: only what this service evaluates."""
    conditions, actions = statement.get("Condition", {}), statement["Action"]
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


def _context(claims: dict[str, Any]) -> dict[str, list[str]]:
    return {
        f"{COGNITO_PRINCIPAL}:aud": [str(claims.get("aud", ""))],
        f"{COGNITO_PRINCIPAL}:sub": [str(claims.get("sub", ""))],
        f"{COGNITO_PRINCIPAL}:amr": [str(v) for v in claims.get("amr", [])],
    }


def _tagged(claims: dict[str, Any]) -> bool:
    return bool((claims.get(TAGS_CLAIM) or {}).get("principal_tags"))


def trust_refusal(document: dict[str, Any], claims: dict[str, Any]) -> str | None:
    """The action this trust policy refuses a holder of these Cognito token claims, if any."""
    context = _context(claims)
    if not _allows(document, context, WEB_IDENTITY_ACTION):
        return WEB_IDENTITY_ACTION
    # The token's principal tags become session tags, which the role must also let in (spec §8.1).
    return TAG_SESSION_ACTION if _tagged(claims) and not _allows(document, context, TAG_SESSION_ACTION) else None


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A stored trust policy, and the condition keys its statements read (lower case)."""
    document = json.loads(text)
    keys = {
        key.lower()
        for statement in _statements(document)
        for tests in statement.get("Condition", {}).values()
        for key in tests
    }
    return document, tuple(sorted(keys))


class TrustVerdicts:
    """Trust-policy verdicts, remembered by all they depend on: the policy's text, the claims'
    values under the keys its conditions read, and whether the token carries principal tags.

    A write transaction asks `known`; whoever gets None evaluates with `evaluate` once the
    store's lock is let go, so no policy is ever matched while every other writer waits.
    """

    def __init__(self, size: int = 1024):
        self._size = size
        self._verdicts: dict[tuple[Any, ...], str | None] = {}

    @staticmethod
    def _key(text: str, claims: dict[str, Any]) -> tuple[Any, ...]:
        context = _context(claims)
        read = tuple(tuple(context[key]) for key in _parsed(text)[1] if key in context)
        return text, read, _tagged(claims)

    def known(self, text: str, claims: dict[str, Any]) -> tuple[str | None] | None:
        """(refusal,) for a verdict already reached, None for one not evaluated yet."""
        key = self._key(text, claims)
        verdicts = self._verdicts
        return (verdicts[key],) if key in verdicts else None

    def evaluate(self, text: str, claims: dict[str, Any]) -> str | None:
        """Match the policy against the claims and remember the verdict."""
        refused = trust_refusal(_parsed(text)[0], claims)
        if len(self._verdicts) >= self._size:
            self._verdicts = {}  # a bound, not an eviction policy: the next calls refill it
        self._verdicts[self._key(text, claims)] = refused
        return refused
