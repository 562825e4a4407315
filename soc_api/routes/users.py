"""The caller's own identity, and user administration (admins)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import func, select

from soc_api.crud import audit
from soc_api.crud.users import create_user
from soc_api.db.models import User
from soc_api.deps import AdminUser, CurrentUser, SessionDep
from soc_api.schemas.users import UserCreate, UserCreated, UserPublic, UsersPublic

router = APIRouter(tags=["users"])


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("/users", response_model=UsersPublic)
def list_users(session: SessionDep, _admin: AdminUser) -> UsersPublic:
    users = list(session.scalars(select(User).order_by(User.id)))
    total = session.scalar(select(func.count()).select_from(User)) or 0
    return UsersPublic(items=[UserPublic.model_validate(u) for u in users], total=total)


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def add_user(body: UserCreate, session: SessionDep, admin: AdminUser) -> UserCreated:
    user, token = create_user(session, body.name, body.role, body.unit)
    audit.record(
        session,
        actor=admin.name,
        action="user.create",
        object_type="user",
        object_id=str(user.id),
        detail={"name": user.name, "role": user.role, "unit": user.unit_code},
    )
    session.commit()
    return UserCreated(**UserPublic.model_validate(user).model_dump(), token=token)
