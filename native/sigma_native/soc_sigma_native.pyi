"""Compiled Sigma evaluation (Rust, PyO3) for detections.sigma.native; see src/lib.rs."""

from collections.abc import Callable, Sequence
from typing import Any

class Engine:
    events: int
    handed_back: int
    candidates: int
    rule_errors: int

    def __init__(
        self,
        paths: Sequence[str],
        route_paths: Sequence[int],
        rules: list[tuple[Any, ...]],
        fallbacks: list[Callable[[Any], bool]],
        flat_factory: Callable[[dict[str, Any]], Any],
        as_text: Callable[[Any], str | None],
        as_number: Callable[[Any], float | None],
        norm: Callable[[Any], str],
        rules_for_route: Callable[[tuple[str | None, ...]], list[int]],
        common: list[str],
        fact_paths: list[int],
    ) -> None: ...
    def match_batch(self, events: list[Any]) -> list[tuple[()] | tuple[tuple[int, ...], tuple[Any, ...]] | None]: ...
    def plan_count(self) -> int: ...
    def scan_counters(self) -> tuple[int, int, int, int]: ...
