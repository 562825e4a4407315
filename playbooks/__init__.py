"""Incident-response playbooks as data, one per national incident type (see regulations.md).

In the style of pySigma: plain dataclasses (:class:`Playbook`, :class:`Step`), a YAML loader
(``yaml.CSafeLoader``) building a registry ``incident type -> Playbook`` from
``playbooks/data/<incident_type>.yml``, and errors rooted in :class:`soc_core.errors.SocError`
that name the file and line. This package imports only ``soc_core``; ``soc_api`` seeds incident
tasks from it.
"""

from playbooks.errors import PlaybookCoverageError, PlaybookError, PlaybookNotFound
from playbooks.loader import DATA_DIR, PlaybookRegistry, default_registry, load_file, load_registry, load_text
from playbooks.models import OWNER_ROLES, PHASE_LABELS, PHASES, SEVERITIES, OwnerRole, Phase, Playbook, Severity, Step

__all__ = [
    "DATA_DIR",
    "OWNER_ROLES",
    "PHASES",
    "PHASE_LABELS",
    "SEVERITIES",
    "OwnerRole",
    "Phase",
    "Playbook",
    "PlaybookCoverageError",
    "PlaybookError",
    "PlaybookNotFound",
    "PlaybookRegistry",
    "Severity",
    "Step",
    "default_registry",
    "load_file",
    "load_registry",
    "load_text",
]
