"""Vietnamese (and English) labels of the national report forms, their enums and their titles.

One place holds every printed word of the forms, so the PDF, the DOCX, the validation messages
and the pydantic field descriptions all say the same thing. Wording follows the national
coordinator's published forms (Circular 20/2017/TT-BTTTT: Mẫu 03 initial report, the
end-of-response report, Mẫu 05 periodic summary); see ../shared/regulations.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Label(NamedTuple):
    vi: str
    en: str


class IncidentType(StrEnum):
    """The 10 national incident types: the rows of the Mẫu 05 summary and the reporting enum."""

    DENIAL_OF_SERVICE = "denial_of_service"
    SPOOFING = "spoofing"
    MALWARE = "malware"
    UNAUTHORISED_ACCESS = "unauthorised_access"
    DEFACEMENT = "defacement"
    ENCRYPTION = "encryption"
    DESTRUCTION = "destruction"
    DATA_THEFT = "data_theft"
    COMBINED = "combined"
    OTHER = "other"


class IncidentStatus(StrEnum):
    """Mẫu 03 "Trạng thái sự cố" (single choice)."""

    RESOLVED = "resolved"
    IN_PROGRESS = "in_progress"
    NOT_RESOLVED = "not_resolved"


class DetectionMethod(StrEnum):
    """Mẫu 03 "Cách thức phát hiện" (multiple choice; ``other`` needs the free text)."""

    MONITORING = "monitoring"
    LOG_REVIEW = "log_review"
    EXTERNAL_NOTICE = "external_notice"
    USER_REPORT = "user_report"
    OTHER = "other"


class Recipient(StrEnum):
    """Mẫu 03 "Đã gửi thông báo sự cố cho" (multiple choice of recipients)."""

    NATIONAL_COORDINATOR = "national_coordinator"
    NATIONAL_CYBERSECURITY_CENTRE = "national_cybersecurity_centre"
    OWNER_AGENCY = "owner_agency"
    SPECIALISED_UNIT = "specialised_unit"
    PROVINCIAL_POLICE = "provincial_police"
    STEERING_COMMITTEE = "steering_committee"
    NETWORK_MEMBERS = "network_members"


INCIDENT_TYPE_LABELS: dict[IncidentType, Label] = {
    IncidentType.DENIAL_OF_SERVICE: Label("Từ chối dịch vụ", "Denial of service"),
    IncidentType.SPOOFING: Label("Tấn công giả mạo", "Spoofing / phishing"),
    IncidentType.MALWARE: Label("Tấn công sử dụng mã độc", "Malware"),
    IncidentType.UNAUTHORISED_ACCESS: Label(
        "Truy cập trái phép, chiếm quyền điều khiển", "Unauthorised access, takeover"
    ),
    IncidentType.DEFACEMENT: Label("Thay đổi giao diện", "Web defacement"),
    IncidentType.ENCRYPTION: Label("Mã hóa phần mềm, dữ liệu, thiết bị", "Encryption (ransomware)"),
    IncidentType.DESTRUCTION: Label("Phá hoại thông tin, dữ liệu, phần mềm", "Destruction of data or software"),
    IncidentType.DATA_THEFT: Label(
        "Nghe trộm, gián điệp, lấy cắp thông tin, dữ liệu", "Eavesdropping, espionage, data theft"
    ),
    IncidentType.COMBINED: Label("Tấn công tổng hợp", "Combined attack"),
    IncidentType.OTHER: Label("Các hình thức tấn công khác", "Other"),
}

STATUS_LABELS: dict[IncidentStatus, Label] = {
    IncidentStatus.RESOLVED: Label("Đã khắc phục", "Resolved"),
    IncidentStatus.IN_PROGRESS: Label("Đang khắc phục", "Being handled"),
    IncidentStatus.NOT_RESOLVED: Label("Chưa khắc phục", "Not yet handled"),
}

DETECTION_LABELS: dict[DetectionMethod, Label] = {
    DetectionMethod.MONITORING: Label(
        "Qua hệ thống giám sát, phát hiện xâm nhập", "By the monitoring / intrusion-detection system"
    ),
    DetectionMethod.LOG_REVIEW: Label("Qua kiểm tra dữ liệu nhật ký (log)", "By reviewing logs"),
    DetectionMethod.EXTERNAL_NOTICE: Label("Được tổ chức bên ngoài thông báo", "Notified by an outside organisation"),
    DetectionMethod.USER_REPORT: Label("Người sử dụng phản ánh", "Reported by users"),
    DetectionMethod.OTHER: Label("Khác", "Other"),
}

RECIPIENT_LABELS: dict[Recipient, Label] = {
    Recipient.NATIONAL_COORDINATOR: Label("Cơ quan điều phối quốc gia (VNCERT/CC)", "National coordinator (VNCERT/CC)"),
    Recipient.NATIONAL_CYBERSECURITY_CENTRE: Label(
        "Trung tâm An ninh mạng quốc gia (Bộ Công an)", "National Cybersecurity Centre (Ministry of Public Security)"
    ),
    Recipient.OWNER_AGENCY: Label("Cơ quan chủ quản hệ thống thông tin", "System owner agency"),
    Recipient.SPECIALISED_UNIT: Label("Đơn vị chuyên trách về ứng cứu sự cố", "Specialised incident-response unit"),
    Recipient.PROVINCIAL_POLICE: Label("Công an tỉnh", "Provincial police"),
    Recipient.STEERING_COMMITTEE: Label(
        "Ban Chỉ đạo ứng cứu khẩn cấp của tỉnh", "Provincial emergency-response steering committee"
    ),
    Recipient.NETWORK_MEMBERS: Label("Thành viên mạng lưới ứng cứu sự cố", "Members of the incident-response network"),
}

YES_NO: dict[bool, Label] = {True: Label("Có", "Yes"), False: Label("Không", "No")}

# Field labels by dotted path (list items share their field's label: ``rows.total``).
FIELD_LABELS: dict[str, Label] = {
    # Organisation / contact / system (shared by several forms)
    "reporting_org": Label("Tổ chức báo cáo", "Reporting organisation"),
    "reporting_org.name": Label("Tên tổ chức báo cáo", "Reporting organisation name"),
    "reporting_org.address": Label("Địa chỉ", "Address"),
    "reporting_org.phone": Label("Điện thoại", "Phone"),
    "reporting_org.email": Label("Thư điện tử (email)", "Email"),
    "contact": Label("Người liên hệ", "Contact person"),
    "contact.full_name": Label("Họ và tên", "Full name"),
    "contact.position": Label("Chức vụ", "Position"),
    "contact.phone": Label("Điện thoại", "Phone"),
    "contact.email": Label("Thư điện tử (email)", "Email"),
    "system": Label("Hệ thống thông tin bị sự cố", "Affected system"),
    "system.operator_name": Label("Tên đơn vị vận hành hệ thống thông tin", "Operator name"),
    "system.owner_agency": Label("Cơ quan chủ quản", "Owner agency"),
    "system.system_name": Label("Tên hệ thống thông tin", "System name"),
    "system.domains": Label("Tên miền", "Domains"),
    "system.ips": Label("Địa chỉ IP", "IP addresses"),
    "system.security_level": Label("Cấp độ an toàn hệ thống thông tin (nếu có)", "Security level (1-5, if known)"),
    "system.security_provider": Label("Đơn vị cung cấp dịch vụ bảo đảm an toàn thông tin", "Security service provider"),
    "system.connectivity_provider": Label("Nhà cung cấp dịch vụ kết nối", "Connectivity provider"),
    # Mẫu 03
    "incident_type": Label("Loại sự cố", "Incident type"),
    "summary": Label("Tóm tắt sự cố", "Incident summary"),
    "detected_date": Label("Ngày phát hiện sự cố", "Detection date"),
    "detected_time": Label("Thời gian phát hiện (giờ:phút)", "Detection time (hh:mm)"),
    "current_status": Label("Trạng thái sự cố hiện tại", "Current status"),
    "detection_methods": Label("Cách thức phát hiện", "How detected"),
    "detection_other": Label("Cách thức phát hiện khác (ghi rõ)", "Other detection method (details)"),
    "notified": Label("Đã gửi thông báo sự cố cho", "Already notified"),
    "os_version": Label("Hệ điều hành, phiên bản", "Operating system and version"),
    "services": Label("Các dịch vụ có trên hệ thống", "Services running"),
    "security_measures": Label("Các biện pháp an toàn thông tin đã triển khai", "Security measures in place"),
    "public_ips": Label("Các địa chỉ IP công khai của hệ thống", "Public IP addresses"),
    "domains": Label("Các tên miền của hệ thống", "Domains of the system"),
    "system_purpose": Label("Mục đích chính sử dụng hệ thống", "System purpose"),
    "attachments": Label("Thông tin, tài liệu gửi kèm", "Attachments"),
    "keep_confidential": Label("Đề nghị giữ bí mật thông tin sự cố", "Keep confidential"),
    "support_requested": Label("Đề nghị hỗ trợ, kiến nghị", "Support requested / recommendations"),
    "report_time": Label("Thời gian thực hiện báo cáo", "Report time (dd/mm/yyyy hh:mm)"),
    "signature": Label("Người báo cáo (ký, ghi rõ họ tên / chữ ký số)", "Signature (name or digital signature)"),
    # End-of-response report
    "initial_report_number": Label("Số báo cáo ban đầu", "Initial report number"),
    "initial_report_date": Label("Ngày báo cáo ban đầu", "Initial report date"),
    "operator": Label("Đơn vị vận hành hệ thống thông tin", "System operator"),
    "owner": Label("Cơ quan chủ quản hệ thống thông tin", "System owner agency"),
    "security_level": Label("Cấp độ an toàn hệ thống thông tin", "Security level (1-5)"),
    "incident_name": Label("Tên sự cố", "Incident name"),
    "description": Label("Mô tả sự cố", "Incident description"),
    "detected_at": Label("Thời điểm phát hiện sự cố", "Detection time"),
    "result": Label("Kết quả ứng phó, xử lý sự cố", "Response result"),
    # Mẫu 05
    "period": Label("Kỳ báo cáo", "Reporting period"),
    "report_date": Label("Ngày báo cáo", "Report date"),
    "rows": Label("Số liệu theo loại sự cố", "Figures per incident type"),
    "rows.incident_type": Label("Loại sự cố", "Incident type"),
    "rows.total": Label("Tổng số sự cố", "Total incidents"),
    "rows.handled_in_house": Label("Tự xử lý", "Handled in-house"),
    "rows.handled_with_help": Label("Có sự hỗ trợ của tổ chức khác", "Handled with help of other organisations"),
    "rows.foreign_help": Label("Có sự hỗ trợ của nước ngoài", "Handled with foreign help"),
    "rows.referred_to_coordinator": Label("Chuyển cơ quan điều phối quốc gia", "Referred to the national coordinator"),
    "rows.estimated_damage": Label("Ước tính thiệt hại", "Estimated damage"),
    "supporting_orgs": Label("Các tổ chức đã hỗ trợ xử lý sự cố", "Supporting organisations"),
    "recommendations": Label("Đề xuất, kiến nghị", "Recommendations"),
}


class FormTitle(NamedTuple):
    code: str  # the form number printed in the corner
    title: str
    en: str


FORM_TITLES: dict[str, FormTitle] = {
    "mau03": FormTitle("Mẫu số 03", "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG", "Initial network incident report"),
    "end_report": FormTitle("", "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ", "End-of-response report"),
    "mau05": FormTitle(
        "Mẫu số 05",
        "BÁO CÁO TỔNG HỢP TÌNH HÌNH SỰ CỐ MẠNG",
        "Half-year / annual network incident summary",
    ),
}

NATION_HEADER = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
NATION_MOTTO = "Độc lập - Tự do - Hạnh phúc"
MANDATORY_MARK = "(*)"
CHECKED = "☒"
UNCHECKED = "☐"
EMPTY_VALUE = "…"


def field_label(path: str) -> Label:
    """Label of a dotted field path; list indices (``rows.2.total``) are ignored."""
    key = ".".join(part for part in path.split(".") if not part.isdigit())
    return FIELD_LABELS.get(key, Label(key, key))
