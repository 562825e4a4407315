"""Sigma detection engine: pySigma parses rules, our own evaluators (compiled and Python) run them over ECS events."""

from detections.sigma.engine import Detector, RuleFailure, RuleInfo, RuleSet, check_rules, settle_heap

__all__ = ["Detector", "RuleFailure", "RuleInfo", "RuleSet", "check_rules", "settle_heap"]
