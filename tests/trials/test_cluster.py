"""``fusionscope search --address``: a two-node Ray cluster (both nodes on this machine).

Two raylets, started with ``ray start`` like on two hosts, one CPU each; the search runs two
1-CPU trials at a time, so both nodes must train, and each trial records the node it ran on.

Token authentication: ``ray start --head`` turns it on by default (RAY_AUTH_MODE unset), but
``ray start --address`` (a joining node) does not look for a token unless RAY_AUTH_MODE=token
(ray/scripts/scripts.py: only the head calls maybe_enable_token_auth_if_token_available), so
the second node fails with InvalidAuthToken.  The test sets RAY_AUTH_MODE=token and a fresh
RAY_AUTH_TOKEN for the head, the second node and the search, in their environment only.
(Ray maps --node-ip-address=127.0.0.1 to the host's address and its GCS listens on every
interface, which is one more reason to keep the token on.)

Teardown ends exactly this cluster's processes: those whose command line names the cluster's
own --temp-dir, and their children.  ``ray stop --force`` would end every Ray process on the
machine, including another test's or another user's cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from tests.processes import run_in_group
from tests.trials.tiny import write_tiny_config
from trials import record

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
NODES_SCRIPT = """
import json, sys, ray
ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False)
print(json.dumps([{"id": n["NodeID"], "resources": n["Resources"]} for n in ray.nodes() if n["Alive"]]))
"""




def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def stop_cluster(tag: str) -> list[int]:
    """End the processes whose command line holds ``tag`` (the cluster's --temp-dir) and their
    descendants: SIGTERM, then SIGKILL what is left after 3 s.  Returns the pids it ended."""
    me = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    roots = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.pid not in me and tag in " ".join(p.info["cmdline"] or ()):
                roots.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    procs: dict[int, psutil.Process] = {}
    for root in roots:
        try:
            for p in (root, *root.children(recursive=True)):
                procs[p.pid] = p
        except psutil.NoSuchProcess:
            continue
    for p in procs.values():
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    alive = wait_gone(list(procs.values()), timeout=3)  # some (gcs_server) ignore SIGTERM for long
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    wait_gone(alive, timeout=5)
    return sorted(procs)


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process has exited; a zombie counts as exited (whoever adopted it may
    never reap it).  Returns the ones still running after ``timeout``."""
    def running(p: psutil.Process) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + timeout
    alive = [p for p in procs if running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if running(p)]
    return alive


@dataclasses.dataclass
class Cluster:
    address: str
    nodes: dict[str, str]  # "head" / "second" -> Ray node id
    env: dict[str, str] = dataclasses.field(repr=False)  # holds the cluster's auth token


@pytest.fixture
def two_node_cluster() -> Cluster:
    """A Ray head (1 CPU, resource head_node) and a second node (1 CPU, resource second_node)."""
    # short: Ray's unix sockets live under it and their paths must stay under 108 bytes
    temp_dir = tempfile.mkdtemp(prefix="fsray", dir="/tmp")
    gcs_port, head_agent, second_agent, dashboard_port = free_ports(4)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32), RAY_USAGE_STATS_ENABLED="0",
               PYTHONUNBUFFERED="1")
    address = f"127.0.0.1:{gcs_port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    try:
        head = run_in_group([str(BIN / "ray"), "start", "--head", f"--port={gcs_port}", *common,
                             '--resources={"head_node": 1}', "--include-dashboard=false", f"--dashboard-port={dashboard_port}",
                             f"--dashboard-agent-listen-port={head_agent}"], env, timeout=120)
        assert head.returncode == 0, f"ray start --head failed:\n{head.stdout[-3000:]}\n{head.stderr[-3000:]}"
        second = run_in_group([str(BIN / "ray"), "start", f"--address={address}", *common,
                               '--resources={"second_node": 1}', f"--dashboard-agent-listen-port={second_agent}"],
                              env, timeout=120)
        assert second.returncode == 0, f"ray start --address failed:\n{second.stdout[-3000:]}\n{second.stderr[-3000:]}"
        nodes: list[dict] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = run_in_group([sys.executable, "-c", NODES_SCRIPT, address], env, timeout=60)
            assert listed.returncode == 0, listed.stderr[-3000:]
            nodes = json.loads(listed.stdout.strip().splitlines()[-1])
            if len(nodes) == 2:
                break
            time.sleep(1)
        assert len(nodes) == 2, f"expected 2 alive Ray nodes, got {nodes}"
        by_role = {("head" if "head_node" in n["resources"] else "second"): n["id"] for n in nodes}
        assert set(by_role) == {"head", "second"}, nodes
        yield Cluster(address, by_role, env)
    finally:
        stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_search_on_a_two_node_cluster_uses_both_nodes(two_node_cluster: Cluster, tmp_path: Path) -> None:
    # Tune hands a pending trial to any idle cached actor (reuse_actors=True), even one whose own
    # actor is still starting on the other node; so the first trial must train for longer than a
    # worker takes to start, or one node may run all four.  A few seconds of training per trial.
    config = write_tiny_config(tmp_path, data={"dataset": "fashion-mnist", "subset": 6000, "val_fraction": 0.2},
                               budget={"trials": 4, "epochs": 3})
    storage = f"sqlite:///{tmp_path / 'cluster.db'}"
    search = run_in_group([str(BIN / "fusionscope"), "search", "--config", str(config), "--storage", storage,
                           "--study", "cluster", "--address", two_node_cluster.address, "--no-progress"],
                          two_node_cluster.env, timeout=420, cwd=tmp_path)
    assert search.returncode == 0, f"search failed:\n{search.stdout[-3000:]}\n{search.stderr[-5000:]}"
    assert "4 complete" in search.stdout

    trials = optuna.load_study(study_name="cluster", storage=storage).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4, [(t.number, t.state, t.user_attrs.get(record.ERROR))
                                                                    for t in trials]
    assert all(len(t.values) == 2 for t in trials)
    used = Counter(t.user_attrs[record.NODE_ID] for t in trials)
    assert set(used) == set(two_node_cluster.nodes.values()), (used, two_node_cluster.nodes)
    assert all(t.user_attrs[record.HOSTNAME] == socket.gethostname() for t in trials)


def test_stop_cluster_ends_only_the_tagged_processes(tmp_path: Path) -> None:
    """The teardown's process matching: the tagged process and its child go, a bystander stays."""
    tag = str(tmp_path / "fake-ray-temp-dir")
    sleeper = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    tagged = subprocess.Popen([sys.executable, "-c", sleeper, tag])
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 20
        while not psutil.Process(tagged.pid).children() and time.monotonic() < deadline:
            time.sleep(0.1)
        child = psutil.Process(tagged.pid).children()[0]
        ended = stop_cluster(tag)
        assert set(ended) == {tagged.pid, child.pid}
        assert tagged.wait(timeout=10) is not None
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE  # gone (or unreaped)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
        tagged.kill()
        tagged.wait()
