"""Users and their API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc_api.crud.units import get_unit
from soc_api.db.base import utcnow
from soc_api.db.models import ROLES, ApiToken, User
from soc_api.errors import InvalidInput
from soc_api.security import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    SESSION_PREFIX,
    generate_token,
    hash_password,
    hash_token,
    verify_password,
)

MAX_NAME = 100
# last_used_at is refreshed at most this often, so reads do not turn into writes on every call.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_user(
    session: Session, name: str, role: str, unit: str | None, *, password: str | None = None
) -> tuple[User, str]:
    """Create a user with one API token; returns ``(user, plaintext_token)``.

    Only the token's SHA-256 is stored, so the plaintext is shown once. A ``unit_reporter``
    needs a ``unit`` that exists in the units table (load the asset inventory first).
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"user name must be 1..{MAX_NAME} characters")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "unit_reporter" and not unit:
        raise InvalidInput("role unit_reporter needs a unit (--unit CODE)")
    if unit is not None and get_unit(session, unit) is None:
        raise InvalidInput(f"unknown unit {unit!r}: load the units (asset inventory) first")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise InvalidInput(f"user {name!r} already exists")
    user = User(name=name, role=role, unit_code=unit, created_at=utcnow(), disabled=False)
    if password is not None:
        set_password(user, password)
    session.add(user)
    session.flush()
    token = issue_token(session, user)
    return user, token


def issue_token(session: Session, user: User, expires_at: datetime | None = None, *, kind: str = "api") -> str:
    token = generate_token(SESSION_PREFIX if kind == "session" else "soc_")
    session.add(
        ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=utcnow(), expires_at=expires_at, kind=kind)
    )
    session.flush()
    return token


def set_password(user: User, password: str) -> None:
    """Store the argon2 hash of ``password`` (length-checked)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"password must be {MIN_PASSWORD}..{MAX_PASSWORD} characters")
    user.password_hash = hash_password(password)


def login(session: Session, name: str, password: str, ttl: timedelta) -> tuple[User, str] | None:
    """A short-lived session token for valid credentials of an enabled user; ``None`` otherwise."""
    user = get_user_by_name(session, name.strip()) if 0 < len(name) <= MAX_NAME else None
    ok = verify_password(password[:MAX_PASSWORD], user.password_hash if user else None)
    if user is None or not ok or user.disabled:
        return None
    return user, issue_token(session, user, utcnow() + ttl, kind="session")


def revoke_token(session: Session, token: str) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def get_user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def authenticate(session: Session, token: str) -> User | None:
    """The enabled user owning a valid, unexpired ``token``; ``None`` otherwise."""
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    now = utcnow()
    if user.disabled or (api_token.expires_at is not None and api_token.expires_at <= now):
        return None
    if api_token.last_used_at is None or now - api_token.last_used_at >= _LAST_USED_RESOLUTION:
        api_token.last_used_at = now
        session.commit()
    return user
