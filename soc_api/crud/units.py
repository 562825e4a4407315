"""Units (the administrative tree) and the subtree a unit reporter may see."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc_api.db.models import Unit
from soc_api.errors import InvalidInput

MAX_CODE = 64
MAX_NAME = 255


def sync_units(session: Session, units: Iterable[tuple[str, str, str | None]]) -> None:
    """Insert or update units ``(code, name, parent_code)``; units not listed are kept."""
    for code, name, parent in units:
        if not code or len(code) > MAX_CODE:
            raise InvalidInput(f"unit code must be 1..{MAX_CODE} characters: {code!r}")
        if len(name) > MAX_NAME:
            raise InvalidInput(f"unit name longer than {MAX_NAME} characters: {code!r}")
        if parent is not None and (not parent or len(parent) > MAX_CODE or parent == code):
            raise InvalidInput(f"invalid parent {parent!r} for unit {code!r}")
        row = session.get(Unit, code)
        if row is None:
            session.add(Unit(code=code, name=name or code, parent_code=parent))
        else:
            row.name = name or code
            row.parent_code = parent
    session.flush()


def get_unit(session: Session, code: str) -> Unit | None:
    return session.get(Unit, code)


def unit_subtree(session: Session, code: str) -> set[str]:
    """``code`` and every unit below it (parent links; cycles are tolerated)."""
    children: dict[str, list[str]] = {}
    for child, parent in session.execute(select(Unit.code, Unit.parent_code)):
        if parent is not None:
            children.setdefault(parent, []).append(child)
    seen = {code}
    stack = [code]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen
