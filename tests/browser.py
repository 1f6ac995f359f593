"""The headless Chromium the rendering tests use: found once, here (Debian's ``chromium``), and run one way."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium; CI installs it)")


def chromium(page: Path, profile: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
            "--v=0", "--virtual-time-budget=5000", f"--user-data-dir={profile}", *flags, page.as_uri(),
        ],
        capture_output=True, text=True, timeout=30, check=True,
    )


def page_errors(stderr: str, page: Path) -> list[str]:
    """Console lines the page itself logged that report an error."""
    return [
        line
        for line in stderr.splitlines()
        if ":CONSOLE" in line and page.as_uri() in line and ("Uncaught" in line or "Error" in line)
    ]
