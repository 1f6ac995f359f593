"""Run a command in its own process group, so a timeout kills it and everything it started
(a local Ray included) instead of leaving daemons behind for the next test."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest


def run_in_group(command: list[str], env: dict[str, str], timeout: float,
                 cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(map(str, command[:3]))} ran past {timeout} s\nstdout:\n{out[-3000:]}\n"
                    f"stderr:\n{err[-3000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)
