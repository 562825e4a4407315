"""FastAPI dependencies as ``Annotated`` aliases: database session, current user, role gates, scope."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from soc_api.crud.units import unit_subtree
from soc_api.crud.users import authenticate
from soc_api.db.models import User
from soc_api.errors import PermissionDenied
from soc_api.services.config import WorkflowConfig
from soc_core.stores import EventStore

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 512
RulesProvider = Callable[[], list[dict[str, Any]]]

_bearer = HTTPBearer(auto_error=False, description="API token from `soc users add` (`Authorization: Bearer soc_...`)")
# Documents the OAuth2 password flow (POST /api/v1/auth/token); the token travels the same way.
_oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"}
    )


def get_current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _password_flow: Annotated[str | None, Depends(_oauth2)],
) -> User:
    if credentials is None:
        raise _unauthorized("missing bearer token")
    token = credentials.credentials
    user = authenticate(session, token) if 0 < len(token) <= MAX_TOKEN_LENGTH else None
    if user is None:
        # Never log the token itself.
        client = request.client.host if request.client else "-"
        log.info("rejected API token from %s for %s %s", client, request.method, request.url.path)
        raise _unauthorized("invalid, expired or disabled token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[User], User]:
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise PermissionDenied(f"role {user.role} may not do this")
        return user

    return check


AdminUser = Annotated[User, Depends(require_roles("admin"))]
AnalystUser = Annotated[User, Depends(require_roles("admin", "analyst"))]
AlertReader = Annotated[User, Depends(require_roles("admin", "analyst", "unit_reporter"))]


def get_alert_scope(user: AlertReader, session: SessionDep) -> frozenset[str] | None:
    """Unit codes the caller may see; ``None`` means every alert."""
    if user.role != "unit_reporter":
        return None
    return frozenset(unit_subtree(session, user.unit_code)) if user.unit_code else frozenset()


AlertScope = Annotated[frozenset[str] | None, Depends(get_alert_scope)]
# Tickets and reports follow the same rule as alerts: a unit reporter sees its unit subtree.
WorkflowReader = AlertReader
Scope = AlertScope


def get_workflow_config(request: Request) -> WorkflowConfig:
    cfg: WorkflowConfig = request.app.state.workflow
    return cfg


WorkflowConfigDep = Annotated[WorkflowConfig, Depends(get_workflow_config)]


def get_bearer_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str | None:
    return credentials.credentials if credentials is not None else None


BearerToken = Annotated[str | None, Depends(get_bearer_token)]


def get_event_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.event_store
    return store


EventStoreDep = Annotated[EventStore, Depends(get_event_store)]


def get_rules_provider(request: Request) -> RulesProvider | None:
    provider: RulesProvider | None = request.app.state.rules_provider
    return provider


RulesProviderDep = Annotated[RulesProvider | None, Depends(get_rules_provider)]
