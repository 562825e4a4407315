"""The ``soc`` command's entry point: the CLI run with glibc's malloc on transparent huge pages.

The detect stage is bound by memory latency over megabytes of rule tables and event objects
(``docs/architecture.md``). With glibc's ``glibc.malloc.hugetlb=1`` tunable, malloc asks the
kernel for transparent huge pages (``madvise``), so that memory spans far fewer TLB entries: on
the regression events the stage took 0.94-0.96 of the time per event (same events, alternating
processes). A glibc tunable is read when a process starts, so when it is missing this launcher
runs the same command line again with it (``execve``: same process id, same streams), before the
CLI is imported. ``SOC_MALLOC_HUGEPAGES=0`` turns this off; other C libraries are left alone, and
a kernel with transparent huge pages off ignores the tunable.
"""

from __future__ import annotations

import os
import sys

TUNABLE = "glibc.malloc.hugetlb=1"
# glibc release that reads the tunable (older ones ignore it, but then the re-run is wasted)
GLIBC_WITH_TUNABLE = (2, 35)


def tunables_with_hugepages(current: str) -> str | None:
    """``GLIBC_TUNABLES`` with the huge-page tunable added; None when it names one already (the
    user's choice, or this launcher's run)."""
    if "glibc.malloc.hugetlb" in current:
        return None
    return f"{current}:{TUNABLE}" if current else TUNABLE


def glibc_version() -> tuple[int, int] | None:
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")  # "glibc 2.36"
        major, minor = version.split(".")[:2]
        return (int(major), int(minor)) if name == "glibc" else None
    except (AttributeError, ValueError, OSError):
        return None


def reexec_with_hugepages() -> None:
    """Run this process's command line again with the tunable, when it is missing and wanted."""
    if os.environ.get("SOC_MALLOC_HUGEPAGES", "1") == "0" or not sys.platform.startswith("linux"):
        return
    version = glibc_version()
    tunables = tunables_with_hugepages(os.environ.get("GLIBC_TUNABLES", ""))
    if version is None or version < GLIBC_WITH_TUNABLE or tunables is None:
        return
    if not sys.executable or not sys.orig_argv:
        return
    try:
        # the same interpreter and command line, no shell
        os.execve(sys.executable, sys.orig_argv, {**os.environ, "GLIBC_TUNABLES": tunables})  # noqa: S606
    except OSError:
        return  # run as we are


def main() -> None:
    reexec_with_hugepages()
    from soc_cli.main import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
