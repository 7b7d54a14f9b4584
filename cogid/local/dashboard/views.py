"""What each dashboard page shows, read from the service's store as plain values for a template.

Every view reads in one snapshot (`store.read()`), and none returns a secret: no developer
key's secret, no private key, no session or Sync session token; a device's push token is shown
only by its last characters, enough to tell devices apart.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cogid.local.iam.policy import trust_refusal
from cogid.local.identity.pool import POOL_ARN_CLAIM, POOL_MEMBERS, TAGS_CLAIM, Pool
from cogid.local.tokens import utc_text

if TYPE_CHECKING:
    from cogid.local.service import Service

PAGE = 100  # identities a page, and search results at most
POOLS_SHOWN = 1_000
VALUE_SHOWN = 4_096  # characters of a record's value a page shows (a dataset may hold 1 MB)
OUTBOX_SHOWN = 200
MAX_QUERY = 1024  # characters of a search: above any id or login subject Cognito takes

# What each claim of a Cognito token means (the inspector's third column).
CLAIM_MEANINGS = {
    "iss": "Issuer: Cognito Identity (cogid signs with the same issuer string)",
    "sub": "The identity id",
    "aud": "The identity pool id",
    "amr": "How the identity signed in: authenticated or unauthenticated, then its login providers",
    "iat": "Issued at",
    "exp": "Expires at",
    POOL_ARN_CLAIM: "The identity pool's ARN",
    TAGS_CLAIM: "Principal tags, which STS turns into session tags",
}


def when(epoch: float | None, milliseconds: bool = False) -> str:
    """A stored time as UTC text ('' for none); Cognito Sync stores whole milliseconds."""
    if epoch is None:
        return ""
    return utc_text(epoch / 1000 if milliseconds else epoch) or ""


def masked(token: str) -> str:
    """A device's push token as its last 6 characters: tells devices apart, can't be used."""
    return "…" + token[-6:] if len(token) > 6 else "…"


def _pool_name(row: Any) -> str:
    return str(Pool(row).doc.get("IdentityPoolName", ""))


def pools(service: Service) -> dict[str, Any]:
    with service.store.read():
        rows = service.store.all_pools(POOLS_SHOWN)
        total = service.store.count_all_pools() if len(rows) == POOLS_SHOWN else len(rows)
    shown = [
        {
            "id": row["id"],
            "name": _pool_name(row),
            "region": row["region"],
            "developer_provider": row["developer_provider"] or "",
            "identities": row["identities"],
            "created": when(row["created"]),
        }
        for row in rows
    ]
    return {"pools": shown, "total": total}


def _trust(service: Service, pool: Pool, kind: str, arn: str) -> dict[str, Any]:
    """Whether the role `arn` lets this pool's identities of `kind` assume it, as STS would
    decide for a token of theirs (spec §8.1: the role's trust policy, matched by cogid's IAM)."""
    role = service.iam.role_by_arn(arn)
    if role is None:
        return {"kind": kind, "arn": arn, "verdict": "no such role in the local IAM", "ok": False}
    amr = ["authenticated"] if kind == "authenticated" else ["unauthenticated"]
    claims = {"aud": pool.id, "sub": f"{pool.region}:00000000-0000-0000-0000-000000000000", "amr": amr}
    refused = trust_refusal(json.loads(role["AssumeRolePolicyDocument"]), claims)
    verdict = f"trusts this pool's {kind} identities" if refused is None else f"refuses {refused} to them"
    return {"kind": kind, "arn": arn, "verdict": verdict, "ok": refused is None}


def pool(service: Service, pool_id: str) -> dict[str, Any] | None:
    store = service.store
    with store.read():
        row = store.pool(pool_id)
        if row is None:
            return None
        stored = Pool(row)
        counts = store.pool_counts(pool_id)
        trust = [_trust(service, stored, kind, arn) for kind, arn in sorted(stored.roles.items())]
        tag_maps = store.principal_tag_maps(pool_id)
        sync_settings = service.sync.outbox.settings(pool_id)
    doc = stored.doc
    settings = {name: doc[name] for name in POOL_MEMBERS if name in doc and name != "IdentityPoolTags"}
    return {
        "id": pool_id,
        "name": doc.get("IdentityPoolName", ""),
        "arn": stored.arn,
        "region": stored.region,
        "created": when(row["created"]),
        "settings": {name: _shown(value) for name, value in settings.items()},
        "tags": doc.get("IdentityPoolTags") or {},
        "developer_provider": stored.developer_provider or "",
        "login_providers": doc.get("SupportedLoginProviders") or {},
        "trust": trust,
        "role_mappings": _shown(stored.role_mappings) if stored.role_mappings else "",
        "tag_maps": {provider: _shown(tag_map) for provider, tag_map in tag_maps.items()},
        "sync": _shown(sync_settings) if sync_settings else "",
        "counts": dict(counts),
    }


def _shown(value: Any) -> str:
    """A stored value as the JSON a page shows (strings as they are)."""
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    )


def identities(service: Service, pool_id: str, query: str, after: int) -> dict[str, Any] | None:
    """A page of a pool's identities in creation order past `after` (a `seq`), or, for a
    search, the first PAGE whose id or a login's subject starts with `query`."""
    store = service.store
    with store.read():
        row = store.pool(pool_id)
        if row is None:
            return None
        if query:
            rows = store.search_identities(pool_id, query, PAGE + 1)
        else:
            rows = store.list_identities(pool_id, after, PAGE + 1, hide_disabled=False)
        page = rows[:PAGE]
        logins = store.logins_of([identity["id"] for identity in page]) if page else {}
        # Where a page of the whole list stands (each a count on the pool's index: ~5 ms at 100,000).
        total = 0 if query else store.count_identities(pool_id)
        before = store.count_identities(pool_id, up_to=after) if after and not query else 0
    return {
        "pool": {"id": pool_id, "name": _pool_name(row)},
        "query": query,
        "identities": [_summary(identity, logins.get(identity["id"], [])) for identity in page],
        "more": len(rows) > PAGE,
        "next": page[-1]["seq"] if len(rows) > PAGE and not query else None,
        "after": after,
        "first": before + 1,  # the page's position among the pool's identities
        "total": total,
    }


def _summary(identity: Any, logins: list[Any]) -> dict[str, Any]:
    return {
        "id": identity["id"],
        "state": identity["state"],
        "developer_users": [login["subject"] for login in logins if login["developer"]],
        "logins": [(login["provider"], login["subject"]) for login in logins if not login["developer"]],
        "created": when(identity["created"]),
    }


def identity(service: Service, identity_id: str) -> dict[str, Any] | None:
    store = service.store
    with store.read():
        row = store.identity(identity_id)
        if row is None:
            return None
        pool_row = store.pool(row["pool_id"])
        logins = store.logins(identity_id)
        datasets = [(dataset, store.all_records(dataset["seq"])) for dataset in store.all_datasets(identity_id)]
        devices = store.devices_of(identity_id)
    assert pool_row is not None  # an identity's pool outlives it (ON DELETE CASCADE)
    return {
        **_summary(row, logins),
        "pool": {"id": row["pool_id"], "name": _pool_name(pool_row)},
        "authenticated": row["state"] == "authenticated" or (row["state"] == "disabled" and bool(logins)),
        "enabled": row["state"] != "disabled",
        "modified": when(row["modified"]),
        "datasets": [_dataset(dataset, records) for dataset, records in datasets],
        "devices": [
            {
                "id": device["id"],
                "platform": device["platform"],
                "token": masked(device["token"]),
                "subscriptions": sorted((device["subscriptions"] or "").split(",")) if device["subscriptions"] else [],
            }
            for device in devices
        ],
    }


def _dataset(dataset: Any, records: list[Any]) -> dict[str, Any]:
    return {
        "name": dataset["name"],
        "sync_count": dataset["sync_count"],
        "records": dataset["records"],
        "bytes": dataset["bytes"],
        "created": when(dataset["created"], milliseconds=True),
        "modified": when(dataset["modified"], milliseconds=True),
        "modified_by": dataset["modified_by"],
        "entries": [
            {
                "key": record["key"],
                "value": _cut(record["value"]),
                "removed": record["value"] is None,
                "sync_count": record["sync_count"],
                "modified": when(record["modified"], milliseconds=True),
                "modified_by": record["modified_by"],
            }
            for record in records
        ],
    }


def _cut(value: str | None) -> str | None:
    if value is None or len(value) <= VALUE_SHOWN:
        return value
    return f"{value[:VALUE_SHOWN]}… ({len(value) - VALUE_SHOWN:,} more characters: cogid sync get shows them all)"


def inspect_token(service: Service, text: str) -> dict[str, Any]:
    """A pasted token's header and claims, with what each claim means, and whether its
    signature verifies against this service's JWKS; or why it is not a token at all."""
    from cogid.local import tokens

    try:
        header, claims = tokens.decode(text)
    except tokens.NotAToken as error:
        return {"error": str(error)}
    try:
        tokens.verify(text, service.jwks(), audience=None)
        verdict, verified = "signature verified against this service's JWKS; issuer and expiry good", True
    except tokens.Unverified as error:
        verdict, verified = f"token verification failed: {error}", False
    sub, aud = claims.get("sub"), claims.get("aud")
    with service.store.read():
        known_identity = isinstance(sub, str) and service.store.identity(sub) is not None
        known_pool = isinstance(aud, str) and service.store.pool(aud) is not None
    return {
        "error": None,
        "header": _shown(header),
        "claims": [
            {"name": name, "value": _shown(value), "meaning": CLAIM_MEANINGS.get(name, "")}
            for name, value in claims.items()
        ],
        "notes": tokens.explain(header, claims),
        "verified": verified,
        "verdict": verdict,
        "identity": sub if known_identity else None,
        "pool": aud if known_pool else None,
    }


def outbox(service: Service) -> dict[str, Any]:
    """The newest entries of what Cognito Sync would have sent (push, stream, trigger)."""
    with service.store.read():
        entries = service.store.recent_outbox(OUTBOX_SHOWN)
        total = service.store.count_outbox()
    shown = []
    for entry in entries:
        if isinstance(entry.get("token"), str):
            entry["token"] = masked(entry["token"])
        shown.append(
            {
                "seq": entry.pop("seq"),
                "kind": entry.get("kind", ""),
                "time": str(entry.get("time", "")),
                "pool": entry.get("identityPoolId", ""),
                "identity": _about(entry, "identityId"),
                "dataset": _about(entry, "datasetName", "dataSetName"),
                "doc": _shown(entry),
            }
        )
    return {"entries": shown, "total": total}


def _about(entry: dict[str, Any], *names: str) -> str:
    """A member of an outbox entry's message: a push's payload, a stream's data, a trigger's
    request event."""
    for part in ("payload", "data", "request"):
        message = entry.get(part)
        for name in names:
            if isinstance(message, dict) and isinstance(message.get(name), str):
                return str(message[name])
    return ""
