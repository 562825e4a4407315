"""Sigma detection engine: pySigma parses rules, our own evaluator runs them over ECS events."""

from detections.sigma.engine import Detector, RuleFailure, RuleInfo, RuleSet, check_rules

__all__ = ["Detector", "RuleFailure", "RuleInfo", "RuleSet", "check_rules"]
