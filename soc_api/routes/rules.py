"""Loaded detection rules (analysts and admins)."""

from __future__ import annotations

from fastapi import APIRouter

from soc_api.deps import AnalystUser, RulesProviderDep
from soc_api.schemas.common import RulePublic, RulesPublic

router = APIRouter(prefix="/rules", tags=["rules"])


@router.get("", response_model=RulesPublic)
def list_rules(_user: AnalystUser, provider: RulesProviderDep) -> RulesPublic:
    rules = provider() if provider is not None else []
    items = [RulePublic.model_validate(rule) for rule in rules]
    return RulesPublic(items=items, total=len(items))
