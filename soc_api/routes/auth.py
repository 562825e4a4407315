"""People sign in: OAuth2 password flow issuing short-lived opaque session tokens; sign out;
change one's password. Machines keep their API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status

from soc_api.crud import audit
from soc_api.crud.users import login, revoke_token, set_password
from soc_api.deps import BearerToken, CurrentUser, SessionDep
from soc_api.errors import PermissionDenied
from soc_api.schemas.reports import PasswordChange, TokenResponse
from soc_api.security import SESSION_PREFIX, verify_password

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenResponse)
def issue_token(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenResponse:
    """OAuth2 password grant (form fields ``username``, ``password``)."""
    ttl = timedelta(minutes=request.app.state.settings.token_ttl_minutes)
    result = login(session, username, password, ttl)
    if result is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="incorrect user name or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user, token = result
    audit.record(session, actor=user.name, action="user.login", object_type="user", object_id=str(user.id), detail={})
    session.commit()
    return TokenResponse(access_token=token, expires_in=int(ttl.total_seconds()))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, token: BearerToken, session: SessionDep) -> None:
    """Revoke the session token used for this call (API tokens are revoked by an admin)."""
    if token is None or not token.startswith(SESSION_PREFIX):
        raise PermissionDenied("only session tokens sign out; API tokens stay until revoked")
    revoke_token(session, token)
    audit.record(session, actor=user.name, action="user.logout", object_type="user", object_id=str(user.id), detail={})
    session.commit()


@router.put("/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, user: CurrentUser, session: SessionDep) -> None:
    """Set one's own password; the current one is required when one is set."""
    if user.password_hash is not None and not verify_password(body.current_password or "", user.password_hash):
        raise PermissionDenied("current password is wrong")
    set_password(user, body.new_password)
    audit.record(
        session, actor=user.name, action="user.password", object_type="user", object_id=str(user.id), detail={}
    )
    session.commit()
