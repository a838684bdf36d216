"""Sweeps on Ray Tune: a 2 x 2 grid x 2 seeds with a killed worker, bit-identity with the
sequential path, an interrupted sweep resumed, and bad search spaces rejected up front.

One local Ray session (2 CPUs) serves every test of the module; the runs are tiny (three PPO
iterations of 64 CartPole steps) because each configuration compiles its own graph.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import ray
from ray import tune

from tf_equirl import results, sweeps
from tf_equirl.agents.ppo import default_config
from tf_equirl.runner import run_experiment
from tf_equirl.sweeps import runner

from support import TINY_AC_FIELDS, TINY_PPO_FIELDS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = TINY_PPO_FIELDS  # without XLA: tests/support.py says why
GRID = {"learning_rate": [1e-3, 3e-4], "num_epochs": [1, 2]}
KILLED = {"learning_rate": 1e-3, "num_epochs": 2}  # the cell whose worker is killed


def _events(config_result):
  return runner.RunStore.at(config_result.directory).events()


def _finished(events):
  return sorted(e["seed"] for e in events if e["event"] == "finish")


# ------------------------------------------------------------------ bad search spaces
@pytest.fixture
def no_ray(monkeypatch):
  def refuse(*args, **kwargs):
    raise AssertionError("Ray was started for an invalid sweep")

  monkeypatch.setattr(runner, "connect", refuse)


@pytest.mark.parametrize(
  "space, field, words",
  [
    ({"learning_rat": [1e-3]}, "learning_rat", "has no field"),
    ({"num_epochs": [2, 2.5]}, "num_epochs", "expects int"),
    ({"network": ["mlp", 3]}, "network", "expects str"),
    ({"anneal_lr": [1]}, "anneal_lr", "expects bool"),
    ({"num_epochs": []}, "num_epochs", "is empty"),
    ({"num_epochs": [2, 2]}, "num_epochs", "repeats"),
    ({"num_epochs": 4}, "num_epochs", "needs a list"),
    ({"seed": [0, 1]}, "seed", "pass seeds="),
    ({"num_minibatches": [2, 1000]}, "num_minibatches", "is invalid"),
    ({"num_epochs": tune.uniform(1, 4)}, "num_epochs", "float sampler"),
    ({"network": tune.choice(["mlp", "cnn"])}, "network", "is invalid"),
  ],
)
def test_bad_search_space_fails_before_any_trial(tmp_path, no_ray, space, field, words):
  out = tmp_path / "sweep"
  with pytest.raises(ValueError) as error:
    sweeps.run_sweep("ppo", space, seeds=[0, 1], out=str(out), overrides=TINY)
  assert field in str(error.value) and words in str(error.value), str(error.value)
  assert not out.exists()  # nothing written, no worker started (no_ray)


@pytest.mark.parametrize(
  "env, space, overrides, words",
  [
    ("Catchy", {}, {}, "Unknown environment 'Catchy'"),
    ("Catch-v0:globl:0.5", {}, {}, "unknown symmetry-breaking variant breaking='globl'"),
    ("Catch-v0:global:-1", {}, {}, "strength"),
    ("Catch-v0:global:0.5", {}, {"group": "C5"}, "no symmetry group named 'C5'"),
    ("GridWorld-v0", {"group": ["C4", "C5"]}, {}, "group=C5 is invalid"),
  ],
)
def test_bad_environment_or_group_fails_before_any_trial(
  tmp_path, no_ray, env, space, overrides, words
):
  """What only a trial's learner used to find (it makes the environment and its symmetry)
  is found by the driver."""
  out = tmp_path / "sweep"
  with pytest.raises(ValueError, match=words):
    sweeps.run_sweep(
      "ppo", space, seeds=[0], out=str(out), env=env, overrides={**TINY, **overrides}
    )
  assert not out.exists()


def test_environment_variants_and_groups_pass_the_driver_checks():
  ppo = sweeps.get_algorithm("ppo")
  ppo.check_config(default_config("Catch-v0:global:0.5", **TINY))
  ppo.check_config(default_config("GridWorld-v0", group="C4", **TINY))
  grid, _ = sweeps.validate_space(
    ppo, default_config("GridWorld-v0", **TINY), {"group": ["C4", "D4", "trivial"]}
  )
  assert grid == {"group": ["C4", "D4", "trivial"]}


class _RayStarted(Exception):
  pass


def test_folder_of_a_sweep_that_finished_no_seed_can_be_reused(tmp_path, monkeypatch):
  """A sweep that failed or stopped before any seed finished does not lock its folder; one
  with a finished seed does."""

  def started(*args, **kwargs):
    raise _RayStarted

  monkeypatch.setattr(runner, "connect", started)
  out = tmp_path / "sweep"
  with pytest.raises(_RayStarted):  # a first sweep that got as far as starting Ray
    sweeps.run_sweep("ppo", {"learning_rate": [1e-3]}, seeds=[0], out=str(out), overrides=TINY)
  (out / "tune").mkdir()
  (out / "runs" / "cell").mkdir(parents=True)
  (out / "runs" / "cell" / "log.jsonl").write_text("{}\n")
  with pytest.raises(_RayStarted):  # another space, same folder: no "already holds a sweep"
    sweeps.run_sweep("ppo", {"learning_rate": [3e-4]}, seeds=[0, 1], out=str(out), overrides=TINY)
  spec = json.load(open(out / "sweep.json"))
  assert spec["grid"] == {"learning_rate": [3e-4]} and spec["seeds"] == [0, 1]
  assert not (out / "tune").exists()  # the stale Tune experiment is gone
  (out / "runs" / "cell" / "seed_0.npz").write_bytes(b"")
  with pytest.raises(ValueError, match="already holds a sweep with 1 finished seed"):
    sweeps.run_sweep("ppo", {"learning_rate": [1e-3]}, seeds=[0], out=str(out), overrides=TINY)


def test_bad_seeds_and_options_fail_before_any_trial(tmp_path, no_ray):
  out = str(tmp_path / "sweep")
  (tmp_path / "a_file").write_text("")
  for kwargs, words in [
    ({"seeds": []}, "at least one seed"),
    ({"seeds": [0, 0]}, "repeat"),
    ({"seeds": [3, 1, 3]}, r"repeat: \[3\]"),
    ({"seeds": [0, -1]}, "non-negative"),
    ({"seeds": [0], "out": str(tmp_path / "a_file")}, "is an existing file"),
    ({"seeds": [0], "xla_runtime": False, "xla_cache": str(tmp_path)}, "needs xla_runtime=True"),
    ({"seeds": [0], "seeds_per_trial": 0}, "seeds_per_trial"),
    ({"seeds": [0], "algo": "sac"}, "Unknown sweep algorithm"),
    ({"seeds": [0], "num_samples": 0}, "num_samples"),
  ]:
    kwargs = {"algo": "ppo", "space": GRID, "out": out, "overrides": TINY, **kwargs}
    with pytest.raises(ValueError, match=words):
      sweeps.run_sweep(**kwargs)
  assert not os.path.exists(out)


def test_trials_take_the_runtime_their_launcher_would():
  """Several Dyna seeds in a trial train as one vectorised program, which compiles with the
  classic runtime; PPO seeds under the newer runtime train as lone programs, so PPO keeps the
  algorithm's default (the newer runtime) however many seeds a trial has."""
  ppo, dyna = default_config("CartPole-v1", **TINY), sweeps.get_algorithm("dyna")
  assert sweeps.default_xla_runtime("ppo", ppo, [[0]]) is True
  assert sweeps.default_xla_runtime("ppo", ppo, [[0], [1]]) is True
  assert sweeps.default_xla_runtime("ppo", ppo, [[0, 1], [2]]) is True
  assert sweeps.default_xla_runtime("ppo", ppo, [[0, 1]], xla_cache="/tmp/cache") is True
  dyna_config = dyna.default_config("CartPole-v1")
  assert sweeps.default_xla_runtime("dyna", dyna_config, [[0]]) is False
  assert sweeps.default_xla_runtime("dyna", dyna_config, [[0, 1]]) is False


def test_valid_space_keeps_grid_order_and_coerces_floats():
  algorithm = sweeps.get_algorithm("ppo")
  grid, samplers = sweeps.validate_space(
    algorithm,
    default_config(**TINY),
    {"learning_rate": [1, 3e-4], "ent_coef": tune.loguniform(1e-4, 1e-1)},
  )
  assert grid == {"learning_rate": [1.0, 3e-4]} and isinstance(grid["learning_rate"][0], float)
  assert list(samplers) == ["ent_coef"]
  assert [p["learning_rate"] for p in sweeps.grid_points(grid)] == [1.0, 3e-4]
  assert sweeps.seed_groups(range(5), 2) == [[0, 1], [2, 3], [4]]


# -------------------------------------------------------------------------- Ray runs
@pytest.fixture(scope="module")
def ray_address():
  if ray.is_initialized():  # e.g. left by an earlier test in this process
    ray.shutdown()
  ray.init(
    address="local",  # never a cluster another test runs on this machine
    num_cpus=2,
    include_dashboard=False,
    logging_level="WARNING",
    runtime_env={"env_vars": {"PYTHONPATH": REPO}},
  )
  yield ray.get_runtime_context().gcs_address
  ray.shutdown()


class KillWorkerInSecondSeed(tune.Callback):
  """Kills (SIGKILL) the worker of the `KILLED` trial once it reports from its second seed."""

  def __init__(self):
    self.killed = None

  def on_trial_result(self, iteration, trials, trial, result, **info):
    values = {k: trial.config[k] for k in KILLED}
    if self.killed is None and values == KILLED and result["seed"] == 1 and not result["reused"]:
      os.kill(result["pid"], signal.SIGKILL)
      self.killed = result["pid"]


@pytest.fixture(scope="module")
def grid_sweep(ray_address, tmp_path_factory):
  out = tmp_path_factory.mktemp("grid") / "sweep"
  killer = KillWorkerInSecondSeed()
  result = sweeps.run_sweep(
    "ppo",
    GRID,
    seeds=[0, 1],
    out=str(out),
    overrides=TINY,
    callbacks=[killer],
    command="pytest tests/test_sweeps.py",
  )
  return result, killer.killed


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_grid_of_two_fields_completes_with_a_killed_worker(grid_sweep):
  result, killed_pid = grid_sweep
  assert killed_pid is not None, "the worker was never killed"
  assert result.num_errors == 0 and result.num_trials == 4
  assert [c.values for c in result.configs] == sweeps.grid_points(GRID)
  for c in result.configs:
    assert c.seeds == [0, 1] and c.curves.shape == (2, 3) and np.isfinite(c.curves).all()
    assert c.config["learning_rate"] == c.values["learning_rate"]
    events = _events(c)
    assert _finished(events) == [0, 1]  # every seed finished exactly once
    if c.values == KILLED:
      starts = sorted(e["seed"] for e in events if e["event"] == "start")
      # The trial compiles with XLA's newer runtime, where its PPO seeds train as lone
      # programs one after another: killed in the second seed, the retried trial reuses the
      # finished first seed and trains the second again.
      assert starts == [0, 1, 1]
      pids = [e["pid"] for e in events if e["event"] == "trial"]
      assert pids[0] == killed_pid and len(pids) == 2 and pids[1] != killed_pid
  # Different learning rates give different runs (the grid is applied).
  curves = {json.dumps(c.values): c.curves for c in result.configs}
  assert not np.array_equal(
    curves[json.dumps({"learning_rate": 1e-3, "num_epochs": 2})],
    curves[json.dumps({"learning_rate": 3e-4, "num_epochs": 2})],
  )
  md = open(os.path.join(result.out, "summary.md")).read()
  assert "Command: `pytest tests/test_sweeps.py`" in md
  assert all(f"| {c.label} | 2 |" in md for c in result.configs)
  for png in ("curves.png", "heatmap.png", "matrix.png"):
    assert os.path.getsize(os.path.join(result.out, png)) > 10_000
  summary = json.load(open(os.path.join(result.out, "summary.json")))
  assert [c["summary"][-1]["mean"] for c in summary["configs"]] == [
    float(c.curves[:, -1].mean()) for c in result.configs
  ]


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_trial_is_bit_identical_to_train_ppo(grid_sweep, tmp_path):
  """The retried cell equals the runner's sequential path bit for bit (a trial's PPO seeds
  under the newer runtime train as lone programs, one after another)."""
  result, _ = grid_sweep
  cell = next(c for c in result.configs if c.values == KILLED)
  config = default_config("CartPole-v1", **{**TINY, **KILLED})
  direct = run_experiment(
    config,
    [0, 1],
    str(tmp_path),
    progress=False,
    tensorboard=False,
    save_models=False,
    vectorize=False,
  )
  np.testing.assert_array_equal(cell.curves, direct.curves)
  for seed in (0, 1):
    assert (
      open(os.path.join(cell.directory, f"seed_{seed}.csv")).read()
      == open(tmp_path / f"seed_{seed}.csv").read()
    )
    csv = results.read_seed_csv(tmp_path / f"seed_{seed}.csv")
    assert list(csv) == list(cell.columns[seed])  # the launcher's columns, in its order


def _train_ppo(out, *flags):
  proc = subprocess.run(
    [
      sys.executable,
      "-m",
      "launchers.train_ppo",
      "--env=Catch-v0",
      "--total_steps=1024",
      "--no_progress",
      "--no_tensorboard",
      "--xla_cache=",
      f"--out={out}",
      *flags,
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
    env={**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"},
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_trial_on_defaults_equals_train_ppo_on_defaults(ray_address, tmp_path):
  """The README's promise with XLA on, both sides on their defaults: a trial compiles with
  XLA's newer runtime as `launchers.train_ppo` does (set in the worker before TensorFlow
  starts), so its CSV equals train_ppo's byte for byte; the classic runtime's differs."""
  result = sweeps.run_sweep(
    "ppo",
    {},
    seeds=[0],
    out=str(tmp_path / "sweep"),
    env="Catch-v0",
    overrides={"network": "mlp", "total_steps": 1024},
  )
  (cell,) = result.configs
  (trial,) = [e for e in _events(cell) if e["event"] == "trial"]
  assert trial["xla_runtime"] is True and trial["node_id"]
  _train_ppo(tmp_path / "new", "--network=mlp")
  _train_ppo(tmp_path / "classic", "--network=mlp", "--noxla_runtime")
  swept = open(os.path.join(cell.directory, "seed_0.csv")).read()
  assert swept == open(tmp_path / "new" / "seed_0.csv").read()
  assert swept != open(tmp_path / "classic" / "seed_0.csv").read()
  assert len(swept.splitlines()) == 3  # a header and two iterations of 512 steps


@pytest.mark.slow
def test_trial_falls_back_to_the_classic_runtime_like_train_ppo(ray_address, tmp_path):
  """A configuration XLA's newer runtime cannot compile (the augment network with importance
  weights) trains its seed with the classic runtime in a child process of the worker and
  equals `launchers.train_ppo`, which restarts itself with --noxla_runtime."""
  result = sweeps.run_sweep(
    "ppo",
    {},
    seeds=[0],
    out=str(tmp_path / "sweep"),
    env="Catch-v0",
    overrides={"network": "augment", "augment_weights": True, "total_steps": 1024},
  )
  (cell,) = result.configs
  events = _events(cell)
  assert [e["event"] for e in events].count("fallback") == 1
  assert _finished(events) == [0] and cell.seeds == [0]
  pids = {e["pid"] for e in events if e["event"] == "finish"}
  assert pids and not pids & {e["pid"] for e in events if e["event"] == "trial"}  # the child
  _train_ppo(tmp_path / "direct", "--network=augment", "--augment_weights=true", "--seeds=1")
  with open(tmp_path / "direct" / "run.json") as f:
    assert json.load(f)["xla_cpu_runtime"] == "classic"  # after its restart
  assert (
    open(os.path.join(cell.directory, "seed_0.csv")).read()
    == open(tmp_path / "direct" / "seed_0.csv").read()
  )


INTERRUPTED_DRIVER = textwrap.dedent("""
    import os, signal, sys
    import ray
    from ray import tune
    ray.init(address=sys.argv[1], logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": sys.argv[3]}})
    from tf_equirl import sweeps

    class DieAfterTwo(tune.Callback):
        done = 0
        def on_trial_complete(self, iteration, trials, trial, **info):
            self.done += 1
            if self.done == 2:
                os.kill(os.getpid(), signal.SIGKILL)   # the driver dies mid-sweep

    tiny = dict(network="mlp", num_envs=4, num_steps=16, num_minibatches=2, num_epochs=1,
                total_steps=192, iterations_per_call=1, jit_compile=False)
    sweeps.run_sweep("ppo", {"learning_rate": [1e-3, 3e-4]}, seeds=[0, 1], out=sys.argv[2],
                     overrides=tiny, seeds_per_trial=1, callbacks=[DieAfterTwo()])
    print("the sweep was not interrupted")
""")


class Recorder(tune.Callback):
  def __init__(self):
    self.trained = set()

  def on_trial_result(self, iteration, trials, trial, result, **info):
    if not result["reused"]:
      self.trained.add((trial.config["learning_rate"], result["seed"]))


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_interrupted_sweep_resumes_without_losing_or_repeating_trials(ray_address, tmp_path):
  out = str(tmp_path / "sweep")
  proc = subprocess.run(
    [sys.executable, "-c", INTERRUPTED_DRIVER, ray_address, out, REPO],
    cwd=str(tmp_path),
    capture_output=True,
    text=True,
    timeout=600,
    env={**os.environ, "PYTHONPATH": REPO},
  )
  assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-4000:]
  before = {
    (json.load(open(os.path.join(d, "config.json")))["values"]["learning_rate"], int(f[5:-4]))
    for d in (os.path.join(out, "runs", k) for k in os.listdir(os.path.join(out, "runs")))
    for f in os.listdir(d)
    if f.endswith(".npz")
  }
  assert len(before) >= 2, before  # two trials (one seed each) had finished
  with pytest.raises(ValueError, match="already holds a sweep"):
    sweeps.run_sweep(
      "ppo",
      {"learning_rate": [1e-3, 3e-4]},
      seeds=[0, 1],
      out=out,
      overrides=TINY,
      seeds_per_trial=1,
    )
  recorder = Recorder()
  result = sweeps.resume_sweep(out, callbacks=[recorder])
  assert result.num_errors == 0
  assert [(c.values["learning_rate"], c.seeds) for c in result.configs] == [
    (1e-3, [0, 1]),
    (3e-4, [0, 1]),
  ]
  assert recorder.trained and not recorder.trained & before  # finished work not redone
  assert recorder.trained | before == {(lr, s) for lr in (1e-3, 3e-4) for s in (0, 1)}
  for c in result.configs:
    assert _finished(_events(c)) == [0, 1]  # each seed finished once over both drivers


def _launch(*flags, timeout=300):
  return subprocess.run(
    [sys.executable, "-m", "launchers.sweep", *flags],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=timeout,
    env={**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"},
  )


@pytest.mark.parametrize(
  "flags, words",
  [
    (["--grid=learning_rat=1e-3,1e-2"], "no field 'learning_rat'"),
    pytest.param(
      ["--sample=ent_coef=loguniform:abc"],
      "expected loguniform:LOW:HIGH with float bounds",
      marks=pytest.mark.slow,
    ),
    pytest.param(
      ["--env=Catch-v0:global:0.5", "--set=group=C5"],
      "no symmetry group named 'C5'",
      marks=pytest.mark.slow,
    ),
    pytest.param(["--seeds=1,1"], "more than once", marks=pytest.mark.slow),
    (["--out=FILE"], "is an existing file; expected a folder"),
  ],
)
def test_sweep_launcher_rejects_bad_flags_in_one_line_before_starting_ray(tmp_path, flags, words):
  out = tmp_path / "sweep"
  (tmp_path / "FILE").write_text("not a folder")
  flags = [f.replace("FILE", str(tmp_path / "FILE")) for f in flags]
  if not any(f.startswith("--out") for f in flags):
    flags.append(f"--out={out}")
  proc = _launch(*flags)
  last = proc.stderr.strip().splitlines()[-1]  # absl's usage, then the error in one line
  assert proc.returncode != 0 and words in last, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  assert not out.exists() and (tmp_path / "FILE").read_text() == "not a folder"


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_interrupted_launcher_exits_non_zero_and_counts_the_missing_seeds(tmp_path):
  """SIGINT to `launchers.sweep` once a seed has finished: Tune stops, the driver summarises
  what finished, names how many seed runs are missing and how to resume, and exits 130."""
  out = tmp_path / "sweep"
  proc = subprocess.Popen(
    [
      sys.executable,
      "-m",
      "launchers.sweep",
      "--env=Catch-v0",
      "--set=network=mlp",
      "--set=total_steps=20000",
      "--set=jit_compile=false",
      "--grid=learning_rate=1e-3,3e-4",
      "--seeds=2",
      "--seeds_per_trial=1",
      "--num_cpus=1",
      "--verbose=0",
      f"--out={out}",
    ],
    cwd=REPO,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    env={**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"},
  )
  try:
    deadline = time.time() + 300
    while (
      not list(out.glob("runs/*/seed_*.npz")) and proc.poll() is None and time.time() < deadline
    ):
      time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
  finally:
    if proc.poll() is None:
      proc.kill()
  finished = len(list(out.glob("runs/*/seed_*.npz")))
  assert 1 <= finished < 4, stderr[-3000:]
  assert proc.returncode == 130, stderr[-3000:]
  assert f"{4 - finished} of 4 seed runs are missing (the sweep was interrupted)" in stderr
  assert "--resume" in stderr and "Traceback" not in stderr, stderr[-3000:]
  assert (out / "summary.md").exists()


# ------------------------------------------------------------------------------ Dyna
DYNA_TINY = {
  "ppo.network": "mlp",
  "ppo.num_envs": 4,
  "ppo.num_steps": 16,
  "ppo.num_minibatches": 2,
  "ppo.num_epochs": 1,
  "ppo.total_steps": 256,
  "ppo.jit_compile": False,
  "mode": "online",
  "world_model": "gcnn",
  "model_epochs": 1,
  "dyna_iterations": 2,
}


def test_bad_dyna_space_names_the_nested_field(tmp_path, no_ray):
  for space, words in [
    ({"planning_ratio": [0.5, 0.0]}, "planning_ratio must be a positive"),
    ({"ppo.learning_rat": [1e-3]}, "has no field 'ppo.learning_rat'"),
    ({"ppo.seed": [1]}, "pass seeds="),
    ({"dyna_iterations": [2, 64]}, "needs at least one PPO iteration"),
  ]:
    with pytest.raises(ValueError, match=words):
      sweeps.run_sweep(
        "dyna", space, seeds=[0], out=str(tmp_path / "s"), env="Catch-v0", overrides=DYNA_TINY
      )


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_dyna_grid_of_planning_ratio_and_iterations_runs_through_ray(ray_address, tmp_path):
  """The online-Dyna grid of thesis Fig. 4.11 in miniature: 2 x 2 cells, one seed each,
  equal to the sequential path."""
  grid = {"planning_ratio": [0.5, 2.0], "dyna_iterations": [2, 4]}
  result = sweeps.run_sweep(
    "dyna", grid, seeds=[0], out=str(tmp_path / "sweep"), env="Catch-v0", overrides=DYNA_TINY
  )
  assert result.num_errors == 0 and len(result.configs) == 4
  dyna = sweeps.get_algorithm("dyna")
  base = dataclasses.asdict(dyna.default_config("Catch-v0"))
  for c in result.configs:
    config = sweeps.build_config(dyna.config_cls, base, {**DYNA_TINY, **c.values})
    assert c.curves.shape == (1, 4) and np.isfinite(c.curves).all()
    # Planned steps beside the real ones: what the Dyna iterations before the last planned.
    before_last = range(config.dyna_iterations - 1)
    assert c.columns[0]["planned_steps"][-1] == 64 * sum(
      map(config.planning_iterations, before_last)
    )
  cell = next(
    c for c in result.configs if c.values == {"planning_ratio": 2.0, "dyna_iterations": 4}
  )
  config = sweeps.build_config(dyna.config_cls, base, {**DYNA_TINY, **cell.values})
  direct = run_experiment(
    config, [0], str(tmp_path / "direct"), progress=False, tensorboard=False, save_models=False
  )
  np.testing.assert_array_equal(cell.curves, direct.curves)
  assert os.path.getsize(os.path.join(result.out, "matrix.png")) > 10_000


# ------------------------------------------------------- the continuous actor-critic
AC_TINY = dict(TINY_AC_FIELDS, final_episodes=0, jit_compile=False)


def test_bad_actor_critic_sweeps_fail_before_any_trial(tmp_path, no_ray):
  for env, space, overrides, words in [
    ("Pendulum-v1", {"network": ["mlp", "cnn"]}, AC_TINY, "is invalid"),
    ("Pendulum-v1", {"tau": [0.01, 2.0]}, AC_TINY, "tau must lie in"),
    ("CartPole-v1", {"network": ["mlp"]}, AC_TINY, "the symmetry has discrete actions"),
    ("Pendulum-v1", {"group": ["C7"]}, AC_TINY, "has no symmetry group named 'C7'"),
    ("Pendulum-v1", {"algorithm": ["sac", "td3"]}, AC_TINY, "algorithm must be one of"),
  ]:
    with pytest.raises(ValueError, match=words):
      sweeps.run_sweep(
        "ac", space, seeds=[0], out=str(tmp_path / "s"), env=env, overrides=overrides
      )


def test_actor_critic_seeds_of_a_trial_equal_train_ac_and_report_every_evaluation():
  """What an "ac" trial runs (`train_ac_seeds`) gives train_ac's curves, seed for seed, and
  reports each evaluation as it happens; the base config takes the environment's XLA."""
  from tf_equirl.agents.ac.experiment import run_ac_experiment, train_ac_seeds

  ac = sweeps.get_algorithm("ac")
  assert ac.default_config("Pendulum-v1").jit_compile is True
  config = ac.default_config("Pendulum-v1", **AC_TINY)
  reported = []
  trained = dict(train_ac_seeds(config, [3, 1], lambda seed, rows: reported.append((seed, rows))))
  direct = run_ac_experiment(config, [3, 1])
  for i, seed in enumerate((3, 1)):
    np.testing.assert_array_equal(trained[seed]["mean_return"], direct.curves[i])
    np.testing.assert_array_equal(trained[seed]["env_steps"], [0, 200, 400])
  assert [(s, int(r["env_steps"][0])) for s, r in reported] == [
    (3, 200),
    (3, 400),
    (1, 200),
    (1, 400),
  ]
  assert reported[-1][1]["mean_return"][0] == trained[1]["mean_return"][-1]
  with pytest.raises(ValueError, match="duplicate seeds"):
    next(train_ac_seeds(config, [1, 1]))


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_actor_critic_grid_over_networks_runs_through_ray(ray_address, tmp_path):
  """A grid of two actor-critic kinds on Pendulum, two seeds each, through Ray: every seed's
  curve equals the sequential path's, and the summary reads the mean action's returns."""
  from tf_equirl.agents.ac.experiment import run_ac_experiment

  result = sweeps.run_sweep(
    "ac",
    {"network": ["mlp", "gcnn"]},
    seeds=[0, 1],
    out=str(tmp_path / "sweep"),
    env="Pendulum-v1",
    overrides=AC_TINY,
  )
  assert result.num_errors == 0 and len(result.configs) == 2
  ac = sweeps.get_algorithm("ac")
  base = dataclasses.asdict(ac.default_config("Pendulum-v1"))
  for c in result.configs:
    config = sweeps.build_config(ac.config_cls, base, {**AC_TINY, **c.values})
    direct = run_ac_experiment(config, [0, 1])
    np.testing.assert_array_equal(c.curves, direct.curves)
    np.testing.assert_array_equal(c.env_steps, [0, 200, 400])
    assert c.summary[-1]["env_steps"] == 400 and np.isfinite(c.summary[-1]["mean"])
  assert "network" in open(os.path.join(result.out, "summary.md")).read()
