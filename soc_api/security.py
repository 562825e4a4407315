"""API tokens: generation and hashing. Only the SHA-256 of a token is ever stored or compared."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "soc_"  # noqa: S105 - a public prefix, not a secret


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
