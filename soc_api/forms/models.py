"""The national report forms as data: pydantic v2 models that accept partial drafts.

Every field is optional so a ticket can save a half-filled draft; which fields the national
form marks mandatory (*) is checked separately by :mod:`soc_api.forms.validate` before export.
Values are still checked as they arrive: text is trimmed and NFC-normalised (blank becomes
missing), e-mails, phones, IPs, domains and the security level (1-5) must be well formed, and
dates are read as ISO 8601 or the Vietnamese ``dd/mm/yyyy`` / ``dd/mm/yyyy hh:mm``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from soc_api.forms.labels import (
    DetectionMethod,
    IncidentStatus,
    IncidentType,
    Recipient,
    field_label,
)

__all__ = [
    "AffectedSystem",
    "ContactPerson",
    "DetectionMethod",
    "EndReport",
    "FormKind",
    "IncidentStatus",
    "IncidentType",
    "InitialReport",
    "Organisation",
    "PeriodicSummary",
    "Recipient",
    "SummaryRow",
]

FormKind = Literal["mau03", "end_report", "mau05"]

MAX_TEXT = 20_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{6,30}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_PERIOD = re.compile(r"^(H[12]-)?(\d{4})$")
_VN_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
_VN_TIME = re.compile(r"^(\d{1,2})[:h](\d{2})$")
_VN_DATETIME = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2})[:h](\d{2})\s*$")


def _clean_text(value: Any) -> Any:
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value).strip()
        return value or None
    return value


def _clean_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):  # one value typed into a field meant for several
        value = [value]
    if isinstance(value, list | tuple):
        return [item for item in (_clean_text(v) for v in value) if item is not None]
    return value


def _none_to_empty(value: Any) -> Any:
    return [] if value is None else value


def _none_to_false(value: Any) -> Any:
    return False if value is None else value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("không phải địa chỉ email hợp lệ / not a valid e-mail address")
    return value


def _phone(value: str) -> str:
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE.match(value) or not 6 <= digits <= 15:
        raise ValueError("không phải số điện thoại hợp lệ / not a valid phone number")
    return value


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False)) if "/" in value else str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"không phải địa chỉ IP hợp lệ / not a valid IP address: {value[:60]}") from None


def _domain(value: str) -> str:
    lowered = value.lower().rstrip(".")
    try:
        ascii_name = lowered.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    if not _DOMAIN.match(ascii_name):
        raise ValueError(f"không phải tên miền hợp lệ / not a valid domain name: {value[:60]}")
    return lowered


def _vn_date(value: Any) -> Any:
    value = _clean_text(value)
    if isinstance(value, str) and (m := _VN_DATE.match(value)):
        day, month, year = (int(g) for g in m.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise ValueError("ngày không hợp lệ (dd/mm/yyyy) / invalid date (dd/mm/yyyy)") from None
    return value


def _vn_time(value: Any) -> Any:
    value = _clean_text(value)
    if isinstance(value, str) and (m := _VN_TIME.match(value)):
        hour, minute = (int(g) for g in m.groups())
        try:
            return time(hour, minute)
        except ValueError:
            raise ValueError("giờ không hợp lệ (hh:mm) / invalid time (hh:mm)") from None
    return value


def _vn_datetime(value: Any) -> Any:
    value = _clean_text(value)
    if isinstance(value, str) and (m := _VN_DATETIME.match(value)):
        day, month, year, hour, minute = (int(g) for g in m.groups())
        try:
            return datetime(year, month, day, hour, minute)
        except ValueError:
            raise ValueError(
                "thời gian không hợp lệ (dd/mm/yyyy hh:mm) / invalid date and time (dd/mm/yyyy hh:mm)"
            ) from None
    return value


def _period(value: str) -> str:
    m = _PERIOD.match(value.upper())
    if not m or not 2000 <= int(m.group(2)) <= 2100:
        raise ValueError("kỳ báo cáo phải là H1-YYYY, H2-YYYY hoặc YYYY / period must be H1-YYYY, H2-YYYY or YYYY")
    return value.upper()


# Optional text: the cleaner runs before the union so a blank string becomes None (missing).
Text = Annotated[Annotated[str, Field(max_length=MAX_TEXT)] | None, BeforeValidator(_clean_text)]
Email = Annotated[Annotated[str, Field(max_length=254), AfterValidator(_email)] | None, BeforeValidator(_clean_text)]
Phone = Annotated[Annotated[str, Field(max_length=40), AfterValidator(_phone)] | None, BeforeValidator(_clean_text)]
Period = Annotated[Annotated[str, AfterValidator(_period)] | None, BeforeValidator(_clean_text)]
IpText = Annotated[str, AfterValidator(_ip)]
DomainText = Annotated[str, AfterValidator(_domain)]
TextList = Annotated[list[Annotated[str, Field(max_length=MAX_TEXT)]], BeforeValidator(_clean_list)]
IpList = Annotated[list[IpText], BeforeValidator(_clean_list)]
DomainList = Annotated[list[DomainText], BeforeValidator(_clean_list)]
SecurityLevel = Annotated[Annotated[int, Field(ge=1, le=5)] | None, BeforeValidator(_clean_text)]
VnDate = Annotated[date | None, BeforeValidator(_vn_date)]
VnDateTime = Annotated[datetime | None, BeforeValidator(_vn_datetime)]
VnTime = Annotated[time | None, BeforeValidator(_vn_time)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
DetectionList = Annotated[list[DetectionMethod], BeforeValidator(_none_to_empty)]
RecipientList = Annotated[list[Recipient], BeforeValidator(_none_to_empty)]
Flag = Annotated[bool, BeforeValidator(_none_to_false)]


def _describe(path: str) -> str:
    label = field_label(path)
    return f"{label.vi} — {label.en}"


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=False)


class Organisation(_Form):
    """Tổ chức báo cáo — the reporting organisation."""

    name: Text = Field(default=None, description=_describe("reporting_org.name"))
    address: Text = Field(default=None, description=_describe("reporting_org.address"))
    phone: Phone = Field(default=None, description=_describe("reporting_org.phone"))
    email: Email = Field(default=None, description=_describe("reporting_org.email"))


class ContactPerson(_Form):
    """Người liên hệ — the contact person."""

    full_name: Text = Field(default=None, description=_describe("contact.full_name"))
    position: Text = Field(default=None, description=_describe("contact.position"))
    phone: Phone = Field(default=None, description=_describe("contact.phone"))
    email: Email = Field(default=None, description=_describe("contact.email"))


class AffectedSystem(_Form):
    """Hệ thống thông tin bị sự cố — the affected information system."""

    operator_name: Text = Field(default=None, description=_describe("system.operator_name"))
    owner_agency: Text = Field(default=None, description=_describe("system.owner_agency"))
    system_name: Text = Field(default=None, description=_describe("system.system_name"))
    domains: DomainList = Field(default_factory=list, description=_describe("system.domains"))
    ips: IpList = Field(default_factory=list, description=_describe("system.ips"))
    security_level: SecurityLevel = Field(default=None, description=_describe("system.security_level"))
    security_provider: Text = Field(default=None, description=_describe("system.security_provider"))
    connectivity_provider: Text = Field(default=None, description=_describe("system.connectivity_provider"))


class InitialReport(_Form):
    """Mẫu 03 "Báo cáo ban đầu sự cố mạng" — the initial network incident report."""

    reporting_org: Organisation = Field(default_factory=Organisation, description=_describe("reporting_org"))
    contact: ContactPerson = Field(default_factory=ContactPerson, description=_describe("contact"))
    system: AffectedSystem = Field(default_factory=AffectedSystem, description=_describe("system"))
    incident_type: IncidentType | None = Field(default=None, description=_describe("incident_type"))
    summary: Text = Field(default=None, description=_describe("summary"))
    detected_date: VnDate = Field(default=None, description=_describe("detected_date"))
    detected_time: VnTime = Field(default=None, description=_describe("detected_time"))
    current_status: IncidentStatus | None = Field(default=None, description=_describe("current_status"))
    detection_methods: DetectionList = Field(default_factory=list, description=_describe("detection_methods"))
    detection_other: Text = Field(default=None, description=_describe("detection_other"))
    notified: RecipientList = Field(default_factory=list, description=_describe("notified"))
    os_version: Text = Field(default=None, description=_describe("os_version"))
    services: Text = Field(default=None, description=_describe("services"))
    security_measures: Text = Field(default=None, description=_describe("security_measures"))
    public_ips: IpList = Field(default_factory=list, description=_describe("public_ips"))
    domains: DomainList = Field(default_factory=list, description=_describe("domains"))
    system_purpose: Text = Field(default=None, description=_describe("system_purpose"))
    attachments: TextList = Field(default_factory=list, description=_describe("attachments"))
    keep_confidential: Flag = Field(default=False, description=_describe("keep_confidential"))
    support_requested: Text = Field(default=None, description=_describe("support_requested"))
    report_time: VnDateTime = Field(default=None, description=_describe("report_time"))
    signature: Text = Field(default=None, description=_describe("signature"))


class EndReport(_Form):
    """Báo cáo kết thúc ứng phó sự cố — the end-of-response report."""

    initial_report_number: Text = Field(default=None, description=_describe("initial_report_number"))
    initial_report_date: VnDate = Field(default=None, description=_describe("initial_report_date"))
    operator: Text = Field(default=None, description=_describe("operator"))
    owner: Text = Field(default=None, description=_describe("owner"))
    system: Text = Field(default=None, description=_describe("system.system_name"))
    security_level: SecurityLevel = Field(default=None, description=_describe("security_level"))
    incident_name: Text = Field(default=None, description=_describe("incident_name"))
    description: Text = Field(default=None, description=_describe("description"))
    detected_at: VnDateTime = Field(default=None, description=_describe("detected_at"))
    result: Text = Field(default=None, description=_describe("result"))
    attachments: TextList = Field(default_factory=list, description=_describe("attachments"))
    # Not listed in the brief's field set; optional extras printed at the foot of the form.
    report_time: VnDateTime = Field(default=None, description=_describe("report_time"))
    signature: Text = Field(default=None, description=_describe("signature"))


class SummaryRow(_Form):
    """One row of Mẫu 05: the figures for one national incident type."""

    incident_type: IncidentType | None = Field(default=None, description=_describe("rows.incident_type"))
    total: Count | None = Field(default=None, description=_describe("rows.total"))
    handled_in_house: Count = Field(default=0, description=_describe("rows.handled_in_house"))
    handled_with_help: Count = Field(default=0, description=_describe("rows.handled_with_help"))
    foreign_help: Count = Field(default=0, description=_describe("rows.foreign_help"))
    referred_to_coordinator: Count = Field(default=0, description=_describe("rows.referred_to_coordinator"))
    estimated_damage: Text = Field(default=None, description=_describe("rows.estimated_damage"))


SummaryRows = Annotated[list[SummaryRow], BeforeValidator(_none_to_empty)]


class PeriodicSummary(_Form):
    """Mẫu 05 — half-year ("H1-2026") or annual ("2026") incident summary."""

    period: Period = Field(default=None, description=_describe("period"))
    reporting_org: Organisation = Field(default_factory=Organisation, description=_describe("reporting_org"))
    rows: SummaryRows = Field(default_factory=list, max_length=100, description=_describe("rows"))
    supporting_orgs: TextList = Field(default_factory=list, description=_describe("supporting_orgs"))
    recommendations: Text = Field(default=None, description=_describe("recommendations"))
    # Optional extra: the date printed under the national header.
    report_date: VnDate = Field(default=None, description=_describe("report_date"))
    # Optional extra: who signs for the reporting organisation (printed under the signature block).
    signature: Text = Field(default=None, description=_describe("signature"))


FORM_MODELS: dict[str, type[_Form]] = {
    "mau03": InitialReport,
    "end_report": EndReport,
    "mau05": PeriodicSummary,
}
