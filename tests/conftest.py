"""Shared fixtures: repository paths, the optional SigmaHQ corpus, free ports."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SIGMA_CORPUS = Path(os.environ.get("SOC_SIGMA_CORPUS", REPO.parent / "shared" / "sigma"))


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def sigma_corpus() -> Path:
    if not (SIGMA_CORPUS / "rules").is_dir():
        pytest.skip(f"SigmaHQ corpus absent at {SIGMA_CORPUS} (set SOC_SIGMA_CORPUS); CI always has it")
    return SIGMA_CORPUS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
