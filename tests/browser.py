"""The headless Chromium the rendering tests use: found once, here (Debian's ``chromium``)."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium; CI installs it)")
