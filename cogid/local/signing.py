"""RSA signing keys kept in the store, RS512 JWTs, and the JWKS that publishes them."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cogid.local.store import Store

ALGORITHM = "RS512"
_PKCS1 = padding.PKCS1v15()
_SHA512 = hashes.SHA512()
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # as jwt.encode writes header and claims


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@lru_cache(maxsize=64)
def _header(kid: str, typ: str) -> bytes:
    """A token header, sorted and compact as pyjwt writes it, base64url-encoded."""
    return _b64(_COMPACT.encode({"alg": ALGORITHM, "kid": kid, "typ": typ}).encode())


def encode_jws(claims: dict[str, Any], private: rsa.RSAPrivateKey, kid: str, typ: str = "JWS") -> str:
    """What jwt.encode(claims, private, "RS512", headers={"kid": kid, "typ": typ}) returns, byte
    for byte (tests/test_perf_signing.py compares the two), without its per-call checks and
    lookups (~40 us, a tenth of the signature): the header sorted and both parts compact, as
    pyjwt writes them, base64url without padding, signed with RSASSA-PKCS1-v1_5 and SHA-512.
    Claims are the service's own (JSON types only, integer times)."""
    signing_input = _header(kid, typ) + b"." + _b64(_COMPACT.encode(claims).encode())
    return (signing_input + b"." + _b64(private.sign(signing_input, _PKCS1, _SHA512))).decode()


class KeyRing:
    """The signing keys of one purpose; the newest signs, every one verifies.

    The private key is made on first use (by whichever process gets there first) and lives in
    the store, whose file is private to its owner.
    """

    def __init__(self, store: Store, purpose: str, clock: Callable[[], float]):
        self.store = store
        self.purpose = purpose
        self.clock = clock
        self._lock = threading.Lock()
        self._signing: tuple[str, rsa.RSAPrivateKey] | None = None
        self._private: dict[str, rsa.RSAPrivateKey] = {}
        self._public: dict[str, rsa.RSAPublicKey] = {}

    def _rows(self) -> list[Any]:
        with self.store.read():  # token checks also run inside an operation's transaction
            return self.store.signing_keys(self.purpose)

    def _remember(self, rows: list[Any]) -> None:
        for row in rows:
            if row["kid"] not in self._private:
                # Our own key, written by us: skip the costly validation (~50 ms a load).
                private = serialization.load_pem_private_key(
                    row["pem"].encode(), None, unsafe_skip_rsa_key_validation=True
                )
                assert isinstance(private, rsa.RSAPrivateKey)
                self._private[row["kid"]] = private
                self._public[row["kid"]] = private.public_key()
        if rows:  # rows come oldest first: the newest signs
            self._signing = (rows[-1]["kid"], self._private[rows[-1]["kid"]])

    def _load(self) -> tuple[str, rsa.RSAPrivateKey]:
        """The signing key, made on first use."""
        signing = self._signing
        if signing is not None:
            return signing
        with self._lock:
            rows = self._rows()
        if not rows:
            # Made without holding our lock: the store's write lock is taken below, and a thread
            # inside a write may be waiting on our lock to verify a token.
            rows = self._create()
        with self._lock:
            self._remember(rows)
            assert self._signing is not None
            return self._signing

    def _create(self) -> list[Any]:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with self.store.write():
            rows = self.store.signing_keys(self.purpose)
            if not rows:  # another process may have won the race; its key then stands
                self.store.insert_signing_key(f"{self.purpose}-1", self.purpose, pem, self.clock())
                rows = self.store.signing_keys(self.purpose)
        return rows

    @property
    def kid(self) -> str:
        return self._load()[0]

    def sign(self, claims: dict[str, Any], typ: str = "JWS") -> str:
        kid, private = self._load()
        return encode_jws(claims, private, kid, typ)

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The verifying key `kid`, if the store has it. Never makes a key: verifying needs
        none, and a key made inside a caller's transaction could be rolled back with it."""
        with self._lock:
            if kid not in self._public:  # not loaded yet, or made by another process since
                self._remember(self._rows())
            return self._public.get(kid)

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        self._load()
        keys = []
        for kid, public in self._public.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(public))
            keys.append({"kty": "RSA", "alg": ALGORITHM, "use": "sig", "kid": kid, "e": jwk["e"], "n": jwk["n"]})
        return {"keys": keys}

    def decode(self, token: str, **options: Any) -> dict[str, Any]:
        """Verify `token` (RS512 only, a known `kid`) and return its claims.

        Raises jwt.InvalidTokenError subclasses; the caller turns them into its own service's
        error. Keyword options go to jwt.decode (audience, issuer, leeway, options).
        """
        import jwt

        header = jwt.get_unverified_header(token)
        key = self.public_key(str(header.get("kid")))
        if key is None:
            raise jwt.InvalidSignatureError("the token's kid is not a key of this service")
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM], **options)
        return claims
