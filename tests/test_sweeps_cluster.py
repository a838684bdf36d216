"""A sweep on a two-node Ray cluster simulated on this machine, losing a node mid-sweep.

`ray.cluster_utils.Cluster` starts a head node and a worker node as separate raylets with
their own resources (1 CPU each), as `ray start --head` and `ray start --address` do on two
machines; the driver joins it like `launchers.sweep --address` and both nodes write into one
`out` (one file system stands in for the shared one a real cluster needs). Trials are told
apart by the Ray node id each records in `log.jsonl`.
"""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import ray
from ray.cluster_utils import Cluster

from tf_equirl import sweeps
from tf_equirl.sweeps import runner

from support import TINY_PPO_FIELDS

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 60 iterations of 64 CartPole steps: a few seconds per seed, so a node can be lost mid-seed.
RUNS = dict(TINY_PPO_FIELDS, total_steps=3840, iterations_per_call=4)
GRID = {"learning_rate": [1e-3, 3e-4]}
SEEDS = [0, 1, 2]


def _events(out):
  return {c.label: runner.RunStore.at(c.directory).events() for c in sweeps.aggregate(out).configs}


@ray.remote(num_cpus=1, resources={"head_node": 1})
class _HoldTheHead:
  """Takes the head node's CPU, so that the first trial can only be placed on the worker."""

  def ready(self):
    return True


def _remove_when_a_seed_starts_on(cluster, node, out, stop, holder):
  """Removes `node` from `cluster` (its raylet and workers) as soon as a seed has started
  training in a trial placed on it, and then frees the head (`holder`); returns what it saw."""
  seen = {}

  def watch():
    runs = os.path.join(out, "runs")
    while not stop.is_set():
      for key in os.listdir(runs) if os.path.isdir(runs) else []:
        try:
          events = runner.RunStore.at(os.path.join(runs, key)).events()
        except (OSError, ValueError):  # a folder being created, a line being written
          continue
        on_node = {
          e["trial_id"]
          for e in events
          if e["event"] == "trial" and e.get("node_id") == node.node_id
        }
        started = [e for e in events if e["event"] == "start" and e["trial_id"] in on_node]
        if started:
          seen.update(started[0], removed_at=time.time())
          cluster.remove_node(node)
          ray.kill(holder)
          return
      time.sleep(0.05)

  thread = threading.Thread(target=watch, daemon=True)
  thread.start()
  return thread, seen


def test_sweep_on_two_nodes_completes_when_the_worker_node_dies(tmp_path):
  cluster = Cluster(
    initialize_head=True,
    head_node_args={"num_cpus": 1, "resources": {"head_node": 1}, "include_dashboard": False},
  )
  try:
    worker = cluster.add_node(num_cpus=1, resources={"worker_node": 1})
    cluster.wait_for_nodes()
    if ray.is_initialized():  # e.g. left by an earlier test in this process
      ray.shutdown()
    ray.init(
      address=cluster.address,
      logging_level="WARNING",
      runtime_env={"env_vars": {"PYTHONPATH": REPO}},
    )
    head = cluster.head_node.node_id
    assert {n["NodeID"] for n in ray.nodes() if n["Alive"]} == {head, worker.node_id}

    # Ray may place every trial on the head when the worker is slow to report its CPU (a
    # loaded machine); holding the head's CPU until a seed runs on the worker rules that out.
    holder = _HoldTheHead.remote()
    assert ray.get(holder.ready.remote(), timeout=120)

    out = str(tmp_path / "two_nodes")
    stop = threading.Event()
    thread, seen = _remove_when_a_seed_starts_on(cluster, worker, out, stop, holder)
    try:
      result = sweeps.run_sweep(
        "ppo", GRID, seeds=SEEDS, out=out, overrides=RUNS, seeds_per_trial=1, max_failures=3
      )
    finally:
      stop.set()
      thread.join(timeout=60)
    assert seen, "no trial started on the worker node"
    assert {n["NodeID"] for n in ray.nodes() if n["Alive"]} == {head}  # the node is gone

    # Every seed of every configuration exactly once, although a trial lost its node.
    assert result.num_errors == 0 and [c.seeds for c in result.configs] == [SEEDS, SEEDS]
    events = _events(out)
    nodes = {e["node_id"] for ev in events.values() for e in ev if e["event"] == "trial"}
    assert nodes == {head, worker.node_id}  # trials ran on both nodes
    for label, ev in events.items():
      assert sorted(e["seed"] for e in ev if e["event"] == "finish") == SEEDS, label
    for c in result.configs:
      assert sorted(f for f in os.listdir(c.directory) if f.endswith(".npz")) == [
        f"seed_{s}.npz" for s in SEEDS
      ]
    # The seed that was training on the lost node started again on the head and finished
    # there, once.
    lost = seen["trial_id"]
    ev = next(e for e in events.values() if any(x.get("trial_id") == lost for x in e))
    finishes = [e for e in ev if e["event"] == "finish" and e["seed"] == seen["seed"]]
    assert len(finishes) == 1 and finishes[0]["trial_id"] == lost
    reruns = [e for e in ev if e["event"] == "trial" and e["trial_id"] == lost]
    assert [e["node_id"] for e in reruns] == [worker.node_id, head]
    assert not [
      e
      for e in ev
      if e["event"] == "finish" and e["seed"] == seen["seed"] and e["time"] < seen["removed_at"]
    ]  # the node was lost mid-seed

    # The same sweep on the one node left gives the same curves, bit for bit.
    single = sweeps.run_sweep(
      "ppo", GRID, seeds=SEEDS, out=str(tmp_path / "one_node"), overrides=RUNS, seeds_per_trial=1
    )
    assert [c.label for c in single.configs] == [c.label for c in result.configs]
    for one, two in zip(single.configs, result.configs):
      np.testing.assert_array_equal(one.curves, two.curves)
      for seed in SEEDS:
        assert (
          open(os.path.join(one.directory, f"seed_{seed}.csv")).read()
          == open(os.path.join(two.directory, f"seed_{seed}.csv")).read()
        )
  finally:
    ray.shutdown()
    cluster.shutdown()


def test_a_sweep_without_an_address_starts_its_own_ray_beside_a_running_cluster(tmp_path):
  """Ray's default joins the cluster last started on the machine; `connect` without an
  address must start a Ray of its own instead (with or without `num_cpus`)."""
  cluster = Cluster(
    initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
  )
  try:
    script = (
      "import sys, ray\n"
      "from tf_equirl.sweeps import runner\n"
      "runner.connect(num_cpus=int(sys.argv[1]) or None)\n"
      "print('GCS', ray.get_runtime_context().gcs_address)\n"
      "ray.shutdown()\n"
    )
    for num_cpus in (0, 1):
      proc = subprocess.run(
        [sys.executable, "-c", script, str(num_cpus)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"},
      )
      assert proc.returncode == 0, proc.stderr[-3000:]
      gcs = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("GCS ")]
      assert len(gcs) == 1 and gcs[0] != cluster.address, (gcs, cluster.address)
  finally:
    cluster.shutdown()
