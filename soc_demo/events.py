"""Labelled records of the synthetic demo data and the ids of the rules they must trigger.

Stage: none (test and demo data). :mod:`soc_demo.background` and :mod:`soc_demo.scenarios` emit
:class:`Entry` objects; :mod:`soc_demo.generator` orders them, writes the files and turns the labels
into ground truth. Rule ids are those of ``detections/rules`` (the project's own rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

NGINX = "nginx_access.log"
APACHE = "apache_access.log"
AUTH = "auth.log"
WINDOWS = "windows.jsonl"
FILES = (NGINX, APACHE, AUTH, WINDOWS)
FORMATS = {NGINX: "nginx", APACHE: "apache", AUTH: "auth", WINDOWS: "winjson"}  # file -> parser format


class Rule:
    """Ids of the emitting rules in ``detections/rules`` (see ``detections/README.md``)."""

    SSH_BRUTE_FORCE = "57270a27-a679-49fd-aa37-4ea19058da6c"
    SSH_INVALID_USER_ENUM = "16c05417-8417-42ac-b26a-b3c4ea836a6a"
    SSH_ROOT_EXTERNAL = "2a348dd2-8ae7-49b7-ae95-a69d304d4a0e"
    WEB_ACCOUNT_SUDO = "b9a013e9-eb01-47a6-8b1d-ee3bc49d22f4"
    LINUX_NEW_USER = "3d20b530-85f1-43c8-ac07-7fdf07910492"
    PORTAL_LOGIN_BRUTE_FORCE = "7e72d114-784b-4180-9765-16334523da2f"
    SCANNER_UA = "1241b526-040f-4269-a4a0-ed4165066635"
    SQL_INJECTION = "c1f9893c-6557-4707-89ae-e885a9823526"
    XSS = "84ed9478-94b5-4419-9ee2-5f848c72a541"
    PATH_TRAVERSAL = "338e4ca4-6f8f-48ac-aae8-478f614f2d77"
    WEBSHELL = "b3b89d12-0717-41d4-ad05-2616e3b69480"
    SENSITIVE_FILE = "98b06072-c1f7-4d09-9b31-f23ed306e132"
    DEFACEMENT = "b421ef67-230a-439f-946e-52ab69ed6e78"
    WIN_LOG_CLEARED = "b01adbc9-6802-4231-be3d-774354deac08"
    WIN_ADMIN_ADDED = "78fdeafe-fd25-403f-b818-1243e657b94a"
    WIN_USER_CREATED = "e98de1b1-5fc0-4aad-8922-c6c275378f74"
    WIN_LOGON_BRUTE_FORCE = "fb9d500e-4820-4c97-9223-e66d0f610ecc"
    SUSPICIOUS_POWERSHELL = "7f677332-ffdf-452f-8f95-2bea18c093ab"
    OFFICE_SPAWNS_SHELL = "ecf02527-52ea-47c2-b55b-2b8dcf0e86ef"
    MIMIKATZ = "8e6a2d97-282e-4a70-bdc6-ac55a9b39840"
    SCHEDULED_TASK = "b00f8ba1-db51-47e1-957d-5af174dd7749"
    SUSPICIOUS_SERVICE = "b55502eb-5614-40d9-90e7-fd100fb6591d"


@dataclass(frozen=True, slots=True)
class Correlation:
    """An ``event_count`` correlation: fires when ``threshold`` base events of one group fall
    within ``window``, then restarts counting for that group."""

    threshold: int
    window: timedelta


CORRELATIONS: dict[str, Correlation] = {
    Rule.SSH_BRUTE_FORCE: Correlation(10, timedelta(minutes=5)),
    Rule.SSH_INVALID_USER_ENUM: Correlation(8, timedelta(minutes=10)),
    Rule.PORTAL_LOGIN_BRUTE_FORCE: Correlation(15, timedelta(minutes=5)),
    Rule.WIN_LOGON_BRUTE_FORCE: Correlation(10, timedelta(minutes=5)),
}


@dataclass(slots=True)
class Entry:
    """One record to write, with what it must trigger.

    ``rules``: ids of plain rules that match this record. ``counts``: ``(correlation id, group
    value)`` for each correlation whose base rule matches it. ``text`` for line files, ``win``
    for Windows events (serialised once ``EventRecordID`` is known).
    """

    ts: datetime
    file: str
    text: str = ""
    win: dict[str, Any] | None = None
    rules: tuple[str, ...] = ()
    counts: tuple[tuple[str, str], ...] = ()
    scenario: str = "background"
