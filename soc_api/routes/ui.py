"""The web UI: server-rendered pages (Vietnamese first, English via ``?lang=en`` or a cookie).

Pages hold no data: their scripts call the JSON API with the bearer token kept in the browser's
``sessionStorage``, so every object shown went through the API's authentication and unit scope.
Strings come from the message catalogues in ``soc_api/i18n`` (``vi.json``, ``en.json``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from soc_api import forms
from soc_api.forms import labels as form_labels

router = APIRouter(include_in_schema=False)

_HERE = Path(__file__).resolve().parent.parent
LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
LANG_COOKIE = "soc_lang"
_COOKIE_MAX_AGE = 365 * 24 * 3600
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

INCIDENT_TYPES: tuple[str, ...] = tuple(t.value for t in form_labels.IncidentType)
SEVERITIES = ("normal", "serious")
PRIORITIES = ("P1", "P2", "P3", "P4")


class FormField(NamedTuple):
    """One input of the unit report form: dotted JSON path, widget, mandatory or not."""

    path: str
    widget: str  # text|email|tel|textarea|date|time|datetime|level|type|list|radio|checks|bool

    @property
    def required(self) -> bool:
        return self.path in _MANDATORY


_MANDATORY = frozenset(forms.mandatory_fields("mau03"))


# Mẫu 03 (initial report) in the order of the printed form; * = mandatory as the forms package says.
REPORT_SECTIONS: tuple[tuple[str, tuple[FormField, ...]], ...] = (
    (
        "reporting_org",
        (
            FormField("reporting_org.name", "text"),
            FormField("reporting_org.address", "text"),
            FormField("reporting_org.phone", "tel"),
            FormField("reporting_org.email", "email"),
        ),
    ),
    (
        "contact",
        (
            FormField("contact.full_name", "text"),
            FormField("contact.position", "text"),
            FormField("contact.phone", "tel"),
            FormField("contact.email", "email"),
        ),
    ),
    (
        "system",
        (
            FormField("system.operator_name", "text"),
            FormField("system.owner_agency", "text"),
            FormField("system.system_name", "text"),
            FormField("system.domains", "list"),
            FormField("system.ips", "list"),
            FormField("system.security_level", "level"),
            FormField("system.security_provider", "text"),
            FormField("system.connectivity_provider", "text"),
        ),
    ),
    (
        "incident",
        (
            FormField("incident_type", "type"),
            FormField("summary", "textarea"),
            FormField("detected_date", "date"),
            FormField("detected_time", "time"),
            FormField("current_status", "radio"),
            FormField("detection_methods", "checks"),
            FormField("detection_other", "text"),
            FormField("notified", "checks"),
        ),
    ),
    (
        "extra",
        (
            FormField("os_version", "text"),
            FormField("services", "text"),
            FormField("security_measures", "textarea"),
            FormField("public_ips", "list"),
            FormField("domains", "list"),
            FormField("system_purpose", "text"),
            FormField("keep_confidential", "bool"),
        ),
    ),
    (
        "closing",
        (
            FormField("support_requested", "textarea"),
            FormField("report_time", "datetime"),
            FormField("signature", "text"),
        ),
    ),
)


def report_choices(lang: str) -> dict[str, list[tuple[str, str]]]:
    """Choices of the report form's enumerated fields, labelled in ``lang``."""

    def pick(label: form_labels.Label) -> str:
        return label.vi if lang == "vi" else label.en

    return {
        "current_status": [(k.value, pick(v)) for k, v in form_labels.STATUS_LABELS.items()],
        "detection_methods": [(k.value, pick(v)) for k, v in form_labels.DETECTION_LABELS.items()],
        "notified": [(k.value, pick(v)) for k, v in form_labels.RECIPIENT_LABELS.items()],
        "incident_type": [(k.value, pick(v)) for k, v in form_labels.INCIDENT_TYPE_LABELS.items()],
    }


def field_label(path: str, lang: str) -> str:
    label = form_labels.field_label(path)
    return label.vi if lang == "vi" else label.en


ObjectId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The message catalogue of ``lang`` (``vi`` or ``en``)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    data: dict[str, str] = json.loads((_HERE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def pick_lang(request: Request) -> tuple[str, bool]:
    """``(lang, remember)``: ``?lang=`` wins (and is remembered in a cookie), then the cookie, then Vietnamese."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return str(asked), True
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGS:
        return str(cookie), False
    return DEFAULT_LANG, False


def _json_for_html(data: Any) -> Markup:
    # Inside <script type="application/json">: "<" escaped so no "</script>" can close the element.
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text)  # noqa: S704 - JSON with "<" and ">" escaped, not markup


def render(request: Request, template: str, page: str, title_key: str, **context: Any) -> HTMLResponse:
    lang, remember = pick_lang(request)
    messages = catalogue(lang)

    def t(key: str) -> str:
        return messages.get(key, key)

    other = "en" if lang == "vi" else "vi"
    workflow = getattr(request.app.state, "workflow", None)
    impacts = (
        [(key, label.vi if lang == "vi" else label.en) for key, label in workflow.serious.impacts.items()]
        if workflow is not None
        else []
    )
    html = _env.get_template(template).render(
        t=t,
        lang=lang,
        other_lang=other,
        lang_url=f"{request.url.path}?lang={other}",
        page=page,
        title=t(title_key),
        i18n_json=_json_for_html(messages),
        incident_types=INCIDENT_TYPES,
        impacts=impacts,
        severities=SEVERITIES,
        priorities=PRIORITIES,
        **context,
    )
    response = HTMLResponse(html, headers=_HEADERS)
    if remember:
        response.set_cookie(LANG_COOKIE, lang, max_age=_COOKIE_MAX_AGE, samesite="lax", httponly=False)
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return render(request, "alerts.html", "alerts", "page.alerts")


@router.get("/ui/login", response_class=HTMLResponse)
def login(request: Request) -> HTMLResponse:
    return render(request, "login.html", "login", "page.login")


@router.get("/ui/alerts", response_class=HTMLResponse)
def alerts(request: Request) -> HTMLResponse:
    return render(request, "alerts.html", "alerts", "page.alerts")


@router.get("/ui/alerts/{alert_id}", response_class=HTMLResponse)
def alert(request: Request, alert_id: ObjectId) -> HTMLResponse:
    return render(request, "alert.html", "alert", "page.alert", object_id=alert_id)


@router.get("/ui/incidents", response_class=HTMLResponse)
def incidents(request: Request) -> HTMLResponse:
    return render(request, "incidents.html", "incidents", "page.incidents")


@router.get("/ui/incidents/{incident_id}", response_class=HTMLResponse)
def incident(request: Request, incident_id: ObjectId) -> HTMLResponse:
    return render(request, "incident.html", "incident", "page.incident", object_id=incident_id)


@router.get("/ui/reports/new", response_class=HTMLResponse)
def report_form(request: Request) -> HTMLResponse:
    lang, _ = pick_lang(request)
    return render(
        request,
        "report.html",
        "report",
        "page.report",
        sections=REPORT_SECTIONS,
        choices=report_choices(lang),
        field_label=lambda path: field_label(path, lang),
    )


@router.get("/ui/tickets", response_class=HTMLResponse)
def tickets(request: Request) -> HTMLResponse:
    return render(request, "tickets.html", "tickets", "page.tickets")


@router.get("/ui/dashboard", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    return render(request, "dashboard.html", "dashboard", "page.dashboard")
