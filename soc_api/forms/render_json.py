"""Structured JSON export of the national forms: the model dump inside a small envelope.

``{"form": "mau03", "schema_version": 1, ...fields}`` - field names are the models' English
names, enums their codes, dates ISO 8601. :func:`soc_api.forms.validate` accepts the same
document back (the envelope keys are checked and dropped), so an export can be re-imported.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel

SCHEMA_VERSION = 1


def dump(kind: str, form: BaseModel) -> dict[str, Any]:
    """The JSON-ready envelope of a form."""
    return {"form": kind, "schema_version": SCHEMA_VERSION, **form.model_dump(mode="json")}


def render_json(kind: str, form: BaseModel) -> bytes:
    """UTF-8 JSON (Vietnamese kept as characters, not escapes), indented for people."""
    return orjson.dumps(dump(kind, form), option=orjson.OPT_INDENT_2)
