"""PNG export of plotly figures, with a clear reason when it cannot work.

Kaleido ≥ 1 renders in a headless Chrome/Chromium that it drives through ``choreographer``;
it finds the browser through the ``BROWSER_PATH`` environment variable or else on ``PATH``
(Debian's ``chromium`` at /usr/bin/chromium is found without help).  It downloads nothing by
itself, and plotly's own message on failure suggests a download; offline machines need the
message below instead.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Sequence

import plotly.graph_objects as go
import plotly.io as pio

from search_space.errors import FusionscopeError


class PngExportError(FusionscopeError, RuntimeError):
    """PNG export is impossible here; the message says why and what to install or set.

    Exit code 1, not 2: the HTML was written, only the optional picture is missing."""

    exit_code = 1


def write_pngs(figures: Sequence[go.Figure], paths: Sequence[Path]) -> list[Path]:
    """Write each figure to its path as PNG, all in one browser session."""
    try:
        version = metadata.version("kaleido")
    except metadata.PackageNotFoundError:
        raise PngExportError(
            "PNG export needs the 'kaleido' package (pip install 'kaleido>=1'); "
            "the HTML outputs do not"
        ) from None
    try:
        if version.startswith("0."):  # kaleido 0.x bundles its own browser, one call per figure
            for figure, path in zip(figures, paths):
                figure.write_image(str(path), format="png", scale=2)
        else:
            pio.write_images(list(figures), [str(p) for p in paths], format="png", scale=2)
    except RuntimeError as exc:
        browser = os.environ.get("BROWSER_PATH")
        where = f"BROWSER_PATH={browser!r}" if browser else "no BROWSER_PATH set, none on PATH"
        raise PngExportError(
            f"PNG export failed: kaleido {version} renders in a headless Chrome/Chromium and "
            f"found none usable ({where}). Install one (Debian: apt-get install chromium) or set "
            f"BROWSER_PATH to its executable, e.g. BROWSER_PATH=/usr/bin/chromium. "
            f"Cause: {' '.join(str(exc).split())}"
        ) from exc
    return [Path(p) for p in paths]
