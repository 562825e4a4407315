"""Comments on alerts and incidents; on incidents also SOC requests and unit responses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.db.base import utcnow
from soc_api.db.workflow_models import Comment
from soc_api.errors import InvalidInput


def add_comment(
    session: Session,
    *,
    object_type: str,
    object_id: str,
    author: str,
    body: str,
    kind: str = "comment",
    reply_to: int | None = None,
) -> Comment:
    if reply_to is not None:
        parent = session.get(Comment, reply_to)
        if parent is None or parent.object_type != object_type or parent.object_id != object_id:
            raise InvalidInput(f"reply_to {reply_to} is not a message on this {object_type}")
    row = Comment(
        object_type=object_type,
        object_id=object_id,
        kind=kind,
        author=author,
        body=body,
        reply_to=reply_to,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=author,
        action=f"{object_type}.{kind}",
        object_type=object_type,
        object_id=object_id,
        detail={"comment_id": row.id, "kind": kind, "reply_to": reply_to},
    )
    return row


def list_comments(session: Session, object_type: str, object_id: str) -> list[Comment]:
    stmt = (
        select(Comment)
        .where(Comment.object_type == object_type, Comment.object_id == object_id)
        .order_by(Comment.created_at, Comment.id)
    )
    return list(session.scalars(stmt))
