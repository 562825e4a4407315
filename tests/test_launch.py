"""The ``soc`` launcher: the CLI re-run once with glibc's malloc on transparent huge pages."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from soc_cli.launch import GLIBC_WITH_TUNABLE, TUNABLE, glibc_version, tunables_with_hugepages

# what a process started through the launcher sees once it runs: its tunables and arguments
PROBE = (
    "import os, sys; from soc_cli.launch import reexec_with_hugepages; "
    "reexec_with_hugepages(); print(os.environ.get('GLIBC_TUNABLES'), sys.argv[1:])"
)

# the launcher re-runs only under glibc 2.35 or later on Linux; elsewhere it must leave the process be
RERUNS = sys.platform.startswith("linux") and (glibc_version() or (0, 0)) >= GLIBC_WITH_TUNABLE


def _probe(env_extra: dict[str, str | None]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "SOC_MALLOC_HUGEPAGES")}
    env.update({k: v for k, v in env_extra.items() if v is not None})
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "--flag", "x y"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split(maxsplit=1)


def test_tunable_is_added_to_what_the_user_set() -> None:
    assert tunables_with_hugepages("") == TUNABLE
    assert tunables_with_hugepages("glibc.malloc.arena_max=2") == f"glibc.malloc.arena_max=2:{TUNABLE}"
    # the user's own choice (here: off) stands, and a re-run does not run again
    assert tunables_with_hugepages("glibc.malloc.hugetlb=0") is None
    assert tunables_with_hugepages(TUNABLE) is None


def test_reruns_once_with_the_tunable_keeping_arguments() -> None:
    tunables, argv = _probe({})
    assert tunables == (TUNABLE if RERUNS else "None")
    assert argv.strip() == "['--flag', 'x y']"
    tunables, _argv = _probe({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert tunables == (f"glibc.malloc.arena_max=2:{TUNABLE}" if RERUNS else "glibc.malloc.arena_max=2")


def test_can_be_turned_off() -> None:
    tunables, _argv = _probe({"SOC_MALLOC_HUGEPAGES": "0"})
    assert tunables == "None"


def test_soc_command_runs_through_the_launcher() -> None:
    # the console script's target is the launcher (so `soc bench` and the roles run under it)
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text("utf-8"))
    assert project["project"]["scripts"]["soc"] == "soc_cli.launch:main"
