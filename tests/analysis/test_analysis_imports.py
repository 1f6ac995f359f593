"""``analysis`` reads the storage alone: it never imports Ray, nor ``trials`` beyond its names (the record's
keys, the objective table), its storage opening (``trials.record.storage``) and the one dominance rule
(``trials.running.moasha``'s Ray-free non-dominated sorting), and the until-clear record's reading
(``trials.running.until_clear``'s Ray-free ``seeds_at``: which seeds each design had at each look)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_ray_and_only_trials_record():
    code = (
        "import json, sys, pkgutil, importlib, analysis\n"
        "for m in pkgutil.iter_modules(analysis.__path__): importlib.import_module('analysis.' + m.name)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('ray', 'trials', 'torch'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    imported = json.loads(result.stdout.splitlines()[-1])
    assert not [m for m in imported if m.split(".")[0] in ("ray", "torch")], imported
    allowed = ("trials", "trials.record", "trials.running", "trials.running.moasha", "trials.running.until_clear")
    assert [m for m in imported if not (m in allowed or m.startswith("trials.record."))] == []
