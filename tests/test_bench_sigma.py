"""``soc bench sigma`` end to end on a small rule set: every figure is measured, the (rule, event) pairs
of the engine and both references agree, and the engine's warm-up batch is reported."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

from rich.console import Console

from bench import sigma


def test_bench_sigma_on_a_small_rule_set(sigma_corpus: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in sorted((sigma_corpus / "rules" / "windows" / "process_creation").glob("*.yml"))[:40]:
        shutil.copy(path, rules / path.name)  # copied for the test only, never into the project
    report = sigma.run([rules], events=3000, ref_events=300, budget=5.0, console=Console(file=io.StringIO()))
    figures = {(f.name, f.reference_name): f for f in report.figures}
    stage = figures[("[40 rules] detection stage", "pySigma SQLite (load+queries)")]
    assert stage.value > 0 and stage.reference_value is not None and stage.reference_value > 0
    assert figures[("[40 rules] detection stage", "same engine, Python evaluator")].value > 0
    assert figures[("[40 rules] soc detect end to end (EVTX)", "pySigma SQLite (load+queries)")].value > 0
    note = next(n for n in report.notes if n.startswith("[40 rules]"))
    assert "warm-up batch before timing" in note
    released = re.search(r"after the call, untimed: ([0-9.]+) us per event", note)
    assert released is not None and float(released[1]) > 0
    assert "differing 0;" in note and note.endswith("differing 0")
    found = re.search(r"engine (\d+), SQLite (\d+)", note)
    assert found is not None and int(found[1]) == int(found[2]) > 0  # not vacuous: rules fired
    assert "0 events handed to the Python engine" in note
