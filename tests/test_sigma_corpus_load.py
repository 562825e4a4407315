"""The SigmaHQ corpus (../shared/sigma, read in place; no rule is copied): nothing pySigma accepts is rejected.

For every rule file: if pySigma 1.5 parses it (``SigmaCollection.from_yaml`` plus each rule's
condition) without errors, our RuleSet must load every rule of it, or list it as a warning
(unrouted log source, placeholder not configured), never as an error. With every placeholder
configured, the placeholder rules load too.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from detections.sigma import RuleSet
from detections.sigma.loader import iter_rule_files

FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder")


def pysigma_rule_count(path: Path) -> int | None:
    """Rules pySigma parses from the file without any error, or ``None`` if it reports one."""
    try:
        collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True)
        if collection.errors or any(r.errors for r in collection.rules):
            return None
        for rule in collection.rules:
            if isinstance(rule, SigmaRule):
                for cond in rule.detection.parsed_condition:
                    cond.parse()
    except Exception:
        return None
    return len(collection.rules)


_LOADED: dict[Path, tuple[list[Path], RuleSet]] = {}


@pytest.fixture
def corpus(sigma_corpus: Path) -> tuple[list[Path], RuleSet]:
    """The corpus files and their rule set, loaded once for this module."""
    if sigma_corpus not in _LOADED:
        folders = [sigma_corpus / f for f in FOLDERS if (sigma_corpus / f).is_dir()]
        _LOADED[sigma_corpus] = (list(iter_rule_files(folders)), RuleSet.load(folders))
    return _LOADED[sigma_corpus]


def test_every_rule_pysigma_accepts_loads(corpus: tuple[list[Path], RuleSet]) -> None:
    files, ruleset = corpus
    loaded = Counter(r.path for r in ruleset.rules)
    errors = {f.path: f for f in ruleset.failures}
    placeholder = Counter(w.path for w in ruleset.warnings if "not configured" in w.reason)
    accepted = rejected_by_pysigma = 0
    problems: list[str] = []
    for path in files:
        count = pysigma_rule_count(path)
        if count is None:
            rejected_by_pysigma += 1
            continue
        accepted += 1
        name = str(path)
        if name in errors:
            problems.append(str(errors[name]))
        elif loaded[name] + placeholder[name] != count:
            problems.append(
                f"{name}: pySigma parses {count} rules, we loaded {loaded[name]} (+{placeholder[name]} placeholder)"
            )
    assert accepted > 3000, f"only {accepted} files accepted by pySigma: is the corpus complete?"
    assert problems == [], f"{len(problems)} of {accepted} pySigma-accepted files not loaded:\n" + "\n".join(
        problems[:20]
    )
    # every error we report is on a file pySigma rejects too, with a line when the file has one
    for failure in ruleset.failures:
        assert failure.line is not None or "too large" in failure.reason or "binary" in failure.reason, failure
    print(
        f"\ncorpus: {len(files)} files, pySigma accepts {accepted} and rejects {rejected_by_pysigma}; "
        f"we load {len(ruleset.rules)} rules, {len(ruleset.failures)} errors, "
        f"{sum(placeholder.values())} placeholder rules listed, {len(ruleset.warnings)} warnings"
    )


def test_placeholder_rules_load_when_configured(corpus: tuple[list[Path], RuleSet]) -> None:
    _, ruleset = corpus
    listed = sorted({w.path for w in ruleset.warnings if "not configured" in w.reason})
    assert listed, "the corpus has placeholder rules (rules-placeholder): none were listed"
    for warning in ruleset.warnings:
        if "not configured" in warning.reason:
            assert warning.line is not None and warning.severity == "warning"
    names: set[str] = set()
    for path in listed:
        names.update(re.findall(r"%([^%\s'\"]+)%", Path(path).read_text(encoding="utf-8")))
    values = {name: [f"value-of-{name}", "second"] for name in names}
    configured = RuleSet.load([Path(p) for p in listed], placeholders=values)
    assert configured.failures == []
    assert not [w for w in configured.warnings if "not configured" in w.reason]
    assert len(configured.rules) == sum(1 for w in ruleset.warnings if "not configured" in w.reason)
