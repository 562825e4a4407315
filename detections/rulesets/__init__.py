"""Rule operations: import rule sets, enable/disable rules and folders, rule facts, retro-hunt.

Uses only the public API of :mod:`detections.sigma` (``RuleSet``, ``Detector``, ``check_rules``)
and the engine's ``mapping.yml`` as data.
"""

from detections.rulesets.gate import ActiveDetector
from detections.rulesets.importer import ImportReport, import_rules, list_imports
from detections.rulesets.state import (
    STATE_FILE,
    RuleState,
    imported_sets,
    load_active_ruleset,
    rule_paths,
)

__all__ = [
    "STATE_FILE",
    "ActiveDetector",
    "ImportReport",
    "RuleState",
    "import_rules",
    "imported_sets",
    "list_imports",
    "load_active_ruleset",
    "rule_paths",
]
