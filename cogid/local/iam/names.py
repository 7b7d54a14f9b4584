"""Names and limits IAM and STS share: the operations each implements, Cognito's principal and
the actions a trust policy grants it, session defaults, and the random parts of key ids."""

from __future__ import annotations

import secrets

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
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))
