"""SigV4 verification for `cogid serve`, computed as botocore's own signer computes it.

botocore's SigV4Auth builds the canonical request, the string to sign and the signature of the
requests it sends. The same, built over a received request (with botocore's own path and query
canonicalisation) and the secret of the key named in its credential scope, yields the signature
an honest client must have sent; the two are compared in constant time. Failures raise
errors.AuthFailure, which each protocol names its own way.
"""

from __future__ import annotations

import hmac
import re
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import sha256
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth

from cogid.local.errors import AuthFailure
from cogid.local.wire.request import presigned

if TYPE_CHECKING:
    from cogid.local.service import Service
    from cogid.local.wire.request import Request

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 300  # seconds between X-Amz-Date and the service clock, as AWS allows
# How long after its signing time STS accepts a presigned URL, whatever its X-Amz-Expires says
# (15 minutes, which is why an EKS token lives that long). Other services keep SigV4's rule: a
# presigned URL is current for X-Amz-Expires seconds after its signing.
STS_PRESIGNED_LIFETIME = 900
MAX_PRESIGNED_EXPIRES = 604800  # a week: SigV4's longest presigned lifetime
_QUERY_AUTH = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
_FIELD = re.compile(r"\s*(\w+)=([^,\s]*)\s*")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")  # SIGV4_TIMESTAMP
_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")  # what a region name and an identity id can hold

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


# botocore's path and query canonicalisation, which it has no public function for (its stubs
# don't declare these methods): tests/test_perf_sigv4.py holds our canonical request to its.
_BOTOCORE: Any = SigV4Auth(None, "", "")  # type: ignore[arg-type]  # no credentials: never signs


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key, which changes once a day per key, region and service."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), sha256).digest()
    return key


def _canonical_request(request: Request, claim: _Claim, body_hash: str) -> str:
    """The canonical request botocore's SigV4Auth.canonical_request builds for what the client
    sent, with the headers the client signed (botocore's own choice would leave some out, e.g.
    User-Agent, which other SDKs may sign): the URL's path and query canonicalised by botocore's
    methods (the root path, every JSON 1.1 and Query call's, is "/" as it stands), each signed
    header as canonical_headers writes it (values trimmed, a name listed twice signed twice),
    and the body's SHA-256 (over plain http botocore always hashes the body).
    tests/test_perf_sigv4.py holds it to botocore's over many requests. Raises ValueError for
    a Host or target no URL holds, or one read as another URL (see verify)."""
    # A plain http URL, read as botocore reads it. The URL may read otherwise than the
    # protocols do: a "#" starts a fragment, whose "parameters" no signature covers but the
    # Query protocol would take (a signed ListRoles followed by "#&Action=..."); a Host with
    # a "/" moves the path.
    parts = urlsplit(f"http://{request.headers.get('host', '')}{claim.target}")
    path, _, query = claim.target.partition("?")
    if (parts.path, parts.query) != (path, query):
        raise ValueError("the URL reads otherwise")
    signed: dict[str, list[str]] = {}
    for name in claim.signed:
        signed.setdefault(name, []).append(request.headers.get(name, ""))
    headers = "\n".join(
        f"{name}:{','.join(' '.join(value.split()) for value in signed[name])}" for name in sorted(signed)
    )
    return "\n".join(
        (
            request.method.upper(),
            "/" if path == "/" else _BOTOCORE._normalize_url_path(path),
            _BOTOCORE._canonical_query_string_url(parts),
            headers + "\n",
            ";".join(sorted({name.strip() for name in signed})),
            body_hash,
        )
    )


@dataclass(frozen=True)
class _Claim:
    """What a request says of its own signature: from its Authorization header, or from its
    query string (a presigned URL)."""

    scope: list[str]  # key, date, region, service, "aws4_request"
    signed: list[str]  # the header names the client signed, lower case
    signature: str
    amz_date: str
    session_token: str | None
    target: str  # the path and query the signature covers (a presigned URL's less its signature)
    lifetime: int = MAX_SKEW  # seconds after amz_date the request is still current


def _scope(credential: str) -> list[str]:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise AuthFailure(
            f"Credential should be of the form <key>/<date>/<region>/<service>/aws4_request, "
            f"not '{'/'.join(scope[1:])}'.",
            "incomplete",
        )
    return scope


def _from_header(request: Request, header: str) -> _Claim:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthFailure(f"Unsupported authorization type {algorithm!r}; expected {ALGORITHM}.", "incomplete")
    fields = {}
    for part in rest.split(","):
        match = _FIELD.fullmatch(part)
        if match is None:
            raise AuthFailure(
                f"Authorization header requires each component to be of the form key=value: {part.strip()!r}.",
                "incomplete",
            )
        fields[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise AuthFailure(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
            + f" Authorization={ALGORITHM} ...",
            "incomplete",
        )
    amz_date = request.headers.get("x-amz-date", "")
    if not amz_date:
        # AWS also takes a Date header; every SDK sends X-Amz-Date, the only one checked here.
        raise AuthFailure("Authorization header requires existence of a 'X-Amz-Date' header.", "incomplete")
    return _Claim(
        _scope(fields["Credential"]),
        fields["SignedHeaders"].lower().split(";"),
        fields["Signature"],
        amz_date,
        request.headers.get("x-amz-security-token"),
        request.path,
    )


def _from_query(path: str, query: str, signing_name: str) -> _Claim:
    """A presigned URL's claim, current for its X-Amz-Expires after its signing time; on STS,
    whatever X-Amz-Expires says (it must still be well-formed), for STS_PRESIGNED_LIFETIME."""
    params = parse_qs(query, keep_blank_values=True)
    if any(len(params.get(name, [])) != 1 for name in _QUERY_AUTH):
        raise AuthFailure(
            "AWS query-string parameters must include each of "
            + ", ".join(f"'{name}'" for name in _QUERY_AUTH)
            + " exactly once. Re-examine the query-string parameters.",
            "incomplete",
        )
    algorithm, credential, amz_date, expires, signed, signature = (params[name][0] for name in _QUERY_AUTH)
    if algorithm != ALGORITHM:
        raise AuthFailure(f"X-Amz-Algorithm only supports '{ALGORITHM}', not {algorithm!r}.", "incomplete")
    if not (expires.isascii() and expires.isdigit() and 1 <= int(expires) <= MAX_PRESIGNED_EXPIRES):
        raise AuthFailure(
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES}, not {expires!r}.",
            "incomplete",
        )
    tokens = params.get("X-Amz-Security-Token", [])
    if len(tokens) > 1:
        raise AuthFailure("X-Amz-Security-Token may be given once.", "incomplete")
    unsigned = "&".join(part for part in query.split("&") if not part.startswith("X-Amz-Signature="))
    return _Claim(
        _scope(credential),
        signed.lower().split(";"),
        signature,
        amz_date,
        tokens[0] if tokens else None,
        f"{path}?{unsigned}" if unsigned else path,
        STS_PRESIGNED_LIFETIME if signing_name == "sts" else int(expires),
    )


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(SIGV4_TIMESTAMP)


def _check_clock(amz_date: str, now: float, lifetime: int) -> None:
    if _AMZ_DATE.fullmatch(amz_date) is None:
        raise AuthFailure(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.", "incomplete")
    # By hand: strptime would cost more than the rest of the check.
    fields = [
        int(part)
        for part in (amz_date[0:4], amz_date[4:6], amz_date[6:8], amz_date[9:11], amz_date[11:13], amz_date[13:15])
    ]
    year, month, day, hour, minute, second = fields
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61 and year > 0):
        raise AuthFailure(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.", "incomplete")
    signed_at = timegm(tuple(fields))
    if signed_at < now - lifetime:
        window = f"{lifetime // 60} min." if lifetime % 60 == 0 else f"{lifetime} s."
        raise AuthFailure(
            f"Signature expired: {amz_date} is now earlier than {_timestamp(now - lifetime)} "
            f"({_timestamp(now)} - {window})",
            "signature",
        )
    if signed_at > now + MAX_SKEW:
        raise AuthFailure(
            f"Signature not yet current: {amz_date} is still later than "
            f"{_timestamp(now + MAX_SKEW)} ({_timestamp(now)} + 5 min.)",
            "signature",
        )


def verify(service: Service, request: Request, signing_name: str) -> tuple[dict[str, Any], str]:
    """Check the SigV4 signature of `request` for the service signed as `signing_name`.

    Returns the signer as IAM.credentials describes it, less its secret, and the region of the
    credential scope. Raises AuthFailure when the request is unsigned, malformed, signed by an
    unknown or expired key, signed for another service, too far from the service clock, or
    signed with anything but the key's secret.
    """
    header = request.headers.get("authorization")
    path, _, query = request.path.partition("?")
    if presigned(query):
        if header is not None:
            raise AuthFailure(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
                "incomplete",
            )
        claim = _from_query(path, query, signing_name)
    elif header is not None:
        claim = _from_header(request, header)
    else:
        raise AuthFailure("Missing Authentication Token", "missing")
    access_key, date, region, scope_service, _ = claim.scope
    amz_date = claim.amz_date
    # Headers the signature must cover, or a captured request could be sent again changed:
    # X-Amz-Date (an Authorization header's signing time; a presigned URL's is in its signed
    # query) moved to stretch the replay window, X-Amz-Target (AWS JSON 1.1's operation) to
    # replay a harmless call as another one. Like a missing Host, and as AWS answers one, an
    # IncompleteSignature: the signature is not wrong, it leaves out what it must include.
    required = [("host", "Host")]
    if not presigned(query):
        required.append(("x-amz-date", "X-Amz-Date"))
    if "x-amz-target" in request.headers:
        required.append(("x-amz-target", "X-Amz-Target"))
    for name, shown in required:
        if name not in claim.signed:
            raise AuthFailure(f"'{shown}' must be a 'SignedHeader' in the AWS Authorization.", "incomplete")
    principal = service.iam.credentials(access_key, claim.session_token)
    if scope_service != signing_name:
        raise AuthFailure(f"Credential should be scoped to correct service: '{signing_name}'.", "signature")
    if _REGION.fullmatch(region) is None:  # one endpoint serves every region: the scope names it
        raise AuthFailure("Credential should be scoped to a valid region.", "signature")
    if date != amz_date[:8]:
        raise AuthFailure(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            f"HTTP: '{date}' != '{amz_date[:8]}', from '{amz_date}'.",
            "signature",
        )
    _check_clock(amz_date, service.clock(), claim.lifetime)
    # The canonical request below always carries the body's own hash, as botocore's does over
    # http: this check is what ties an X-Amz-Content-SHA256 header the client sent to the body.
    body_hash = sha256(request.body).hexdigest()
    content_hash = request.headers.get("x-amz-content-sha256")
    if content_hash is not None and content_hash != body_hash:
        raise AuthFailure("The provided 'x-amz-content-sha256' header does not match what was computed.", "signature")

    try:
        canonical = _canonical_request(request, claim, body_hash)
    except ValueError:  # a Host or path no URL can hold, or read otherwise: no client could have signed it
        raise AuthFailure(MISMATCH, "signature") from None
    string_to_sign = (
        f"{ALGORITHM}\n{amz_date}\n{date}/{region}/{scope_service}/aws4_request\n"
        + sha256(canonical.encode()).hexdigest()
    )
    key = _signing_key(principal["Secret"], date, region, scope_service)
    expected = hmac.new(key, string_to_sign.encode(), sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), claim.signature.encode()):  # bytes: any text compares
        raise AuthFailure(MISMATCH, "signature")
    return {name: value for name, value in principal.items() if name != "Secret"}, region
