"""Demo data for the provincial SOC: the Thanh Hóa asset inventory (``assets.yml``) and a
synthetic log generator with ground truth (:mod:`soc_demo.generator`)."""

from __future__ import annotations

from pathlib import Path

from soc_demo.generator import GroundTruth, generate, iter_syslog_demo, load_ground_truth

ASSETS_PATH = Path(__file__).with_name("assets.yml")

__all__ = ["ASSETS_PATH", "GroundTruth", "generate", "iter_syslog_demo", "load_ground_truth"]
