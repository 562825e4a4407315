"""Start and stop `soc up` as a real subprocess for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port


class EmbeddedSoc:
    def __init__(self, data: Path, *, demo: bool = False, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.demo = demo
        self.api_port = free_port()
        self.syslog_port = free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"{data.name}-soc.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "SOC_DATA_DIR": str(self.data),
            "SOC_API_PORT": str(self.api_port),
            "SOC_SYSLOG_PORT": str(self.syslog_port),
            **self.extra_env,
        }
        args = [sys.executable, "-m", "soc_cli.main", "up", *(["--demo"] if self.demo else [])]
        fh = self.log.open("ab")
        self.proc = subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"soc up exited with {self.proc.returncode}:\n{self.log.read_text(errors='replace')}"
                )
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"soc up not ready after {timeout}s:\n{self.log.read_text(errors='replace')}")

    @property
    def token(self) -> str:
        return (self.data / "admin.token").read_text().strip()

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        r.raise_for_status()
        return r.json()

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def tail_env(specs: list[dict[str, str]]) -> dict[str, str]:
    return {"SOC_TAIL": json.dumps(specs)}
