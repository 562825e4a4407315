"""Browser tests: a real embedded SOC (`soc up --demo`) driven through Debian's headless Chromium
with Playwright (no browser download: the system binary is launched by path).

When Chromium or Playwright is missing the tests fail (never skip) and say how to install them.
Screenshots of every step go to .test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.embedded_proc import EmbeddedSoc

SCREENSHOTS = REPO / ".test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "Mật-khẩu-thử-2026"  # a throwaway password of a test user


def chromium_path() -> str:
    path = os.environ.get("SOC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            f"Chromium not found at {path}: run `bash scripts/system-deps.sh` (installs Debian's chromium) "
            "or set SOC_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    exe = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright for Python is missing: `.venv/bin/pip install -e .[dev]` (never `playwright install`; "
            "the tests use Debian's chromium, see scripts/system-deps.sh)",
            pytrace=False,
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Person:
    name: str
    role: str
    unit: str | None
    token: str
    password: str | None


@dataclass
class UiSoc:
    soc: EmbeddedSoc
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.soc.url

    def add_user(self, name: str, role: str, unit: str | None = None) -> Person:
        """`soc users add` as a user would type it (with --password when the CLI offers it)."""
        env = {**os.environ, "SOC_DATA_DIR": str(self.soc.data)}
        base = [sys.executable, "-m", "soc_cli.main", "users", "add", name, "--role", role]
        if unit:
            base += ["--unit", unit]
        help_text = subprocess.run(
            [sys.executable, "-m", "soc_cli.main", "users", "add", "--help"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        with_password = "--password" in help_text
        args = base + (["--password"] if with_password else [])
        stdin = f"{PASSWORD}\n{PASSWORD}\n" if with_password else None
        proc = subprocess.run(args, env=env, input=stdin, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"soc users add failed:\n{proc.stdout}\n{proc.stderr}"
        match = re.search(r"soc_[A-Za-z0-9_-]+", proc.stdout)
        assert match, f"no token printed by soc users add:\n{proc.stdout}"
        person = Person(name, role, unit, match.group(0), PASSWORD if with_password else None)
        self.people[name] = person
        return person

    def api(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        token = self.people[who].token if who in self.people else self.soc.token
        return httpx.request(
            method, f"{self.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
        )


@pytest.fixture(scope="session")
def ui_soc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiSoc]:
    soc = EmbeddedSoc(tmp_path_factory.mktemp("browser") / "data", demo=True)
    soc.start()
    try:
        soc.wait_ready()
        deadline = time.monotonic() + 120
        while True:
            try:
                if soc.get("/api/v1/alerts", limit=1)["total"]:
                    break
            except httpx.TimeoutException:
                pass  # a busy machine: ask again until the deadline
            assert time.monotonic() < deadline, f"no demo alerts after 120 s:\n{soc.output()}"
            time.sleep(0.5)
        yield UiSoc(soc)
    finally:
        soc.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN", accept_downloads=True)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, "step")`` saves a full-page screenshot named after the test and the step number."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1000))
    test_name = request.node.name

    def take(pg: Any, step: str) -> Path:
        path = SCREENSHOTS / f"{test_name}-{next(counter):02d}-{step}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path

    return take


def login(pg: Any, soc: UiSoc, person: Person) -> None:
    """Sign in through the login page: the password form when the user has one, else the token box."""
    pg.goto(f"{soc.url}/ui/login")
    if person.password:
        pg.fill("#username", person.name)
        pg.fill("#password", person.password)
        pg.click("#login-form button[type=submit]")
    else:
        pg.fill("#token", person.token)
        pg.click("#token-form button[type=submit]")
    pg.wait_for_url(re.compile(r"/ui/(alerts|tickets)"))
    pg.wait_for_selector("#whoami:has-text('" + person.name + "')")
