"""Benchmark results: each figure next to its reference run from the same invocation."""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass, field

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference_name: str | None = None
    reference_value: float | None = None
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.reference_value in (None, 0) or self.value == 0:
            return None
        assert self.reference_value is not None
        return self.value / self.reference_value if self.higher_is_better else self.reference_value / self.value


@dataclass
class Report:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)

    def print(self, console: Console | None = None) -> None:
        console = console or Console()
        table = Table(title=self.title)
        for col in ("figure", "value", "reference", "reference value", "ratio"):
            table.add_column(col, justify="right" if col != "figure" else "left")
        for f in self.figures:
            ratio = f.ratio
            table.add_row(
                f.name,
                f"{f.value:,.1f} {f.unit}",
                f.reference_name or "-",
                "-" if f.reference_value is None else f"{f.reference_value:,.1f} {f.unit}",
                "-" if ratio is None else f"{ratio:,.2f}x",
            )
        console.print(table)
        for note in self.notes:
            console.print(f"  {note}")
        sys.stdout.write(orjson.dumps(self.as_dict()).decode() + "\n")

    def as_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "figures": [{**f.__dict__, "ratio": f.ratio} for f in self.figures],
            "notes": self.notes,
        }


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def progress_bar(console: Console, unit: str = "") -> Progress:
    """The benches' progress display: description, bar, done/total [unit], elapsed; off when not a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}" + (f" {unit}" if unit else "")),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
