"""Secrets of people and machines: API/session tokens (only their SHA-256 is stored or compared)
and passwords (argon2id through pwdlib; only the hash is stored)."""

from __future__ import annotations

import hashlib
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

TOKEN_PREFIX = "soc_"  # noqa: S105 - a public prefix, not a secret
SESSION_PREFIX = "socs_"
MIN_PASSWORD = 10
MAX_PASSWORD = 256

_passwords = PasswordHash((Argon2Hasher(),))
# Verified against when the user does not exist, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = _passwords.hash(secrets.token_urlsafe(16))


def generate_token(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-work check; ``None`` (no password set) never matches."""
    try:
        ok = _passwords.verify(password, password_hash or _DUMMY_HASH)
    except Exception:
        return False
    return ok and password_hash is not None
