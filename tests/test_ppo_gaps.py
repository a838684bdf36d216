"""The PPO gap study (`tf_equirl.experiments.ppo_gaps`): its declared arms are the thesis'
settings with exactly their listed changes, every hypothesis compares arms it runs, bad
selections are named, and the report computes its tables and comparisons from the runs."""

import dataclasses
import os

import numpy as np
import pytest

from tf_equirl import results
from tf_equirl.agents.ppo import default_config
from tf_equirl.experiments import ppo_gaps
from tf_equirl.experiments.ppo_tables import parse_network
from tf_equirl.runner import arm_folder, run_arms


@pytest.mark.parametrize("env", ppo_gaps.ENVS)
def test_every_arm_is_the_thesis_settings_with_exactly_its_changes(env):
  for arm in ppo_gaps.ARMS[env].values():
    config = arm.config(env)
    actor, _, critic = parse_network(arm.network)
    base = default_config(env, preset=arm.preset, network=actor, critic=critic)
    changed = {
      f.name: getattr(config, f.name)
      for f in dataclasses.fields(config)
      if getattr(config, f.name) != getattr(base, f.name)
    }
    assert changed == dict(arm.changes), arm.name  # each listed change is a change


@pytest.mark.parametrize("env", ppo_gaps.ENVS)
def test_arms_are_distinct_and_each_is_compared(env):
  arms = ppo_gaps.ARMS[env]
  keys = [(a.network, a.preset, tuple(sorted(a.changes))) for a in arms.values()]
  assert len(set(keys)) == len(keys), "two arms train the same configuration"
  used = set()
  for h in ppo_gaps.hypotheses_of(env):
    assert h.pairs, h.key
    for a, b in h.pairs:
      assert a in arms and b in arms and a != b, (h.key, a, b)
      used |= {a, b}
  assert used == set(arms), f"arms no hypothesis compares: {sorted(set(arms) - used)}"
  # the thesis' own settings are in every environment's study
  assert {"mlp", "gcnn"} <= set(arms)
  assert not arms["mlp"].changes and arms["mlp"].preset is None


def test_config_names_what_is_wrong():
  with pytest.raises(ValueError, match="GridWorld-v0"):
    ppo_gaps.PPOGapsConfig(env="GridWorld-v0")
  with pytest.raises(ValueError, match="'readings'.*'nope'"):
    ppo_gaps.PPOGapsConfig(env="Catch-v0", hypotheses=("nope",))
  with pytest.raises(ValueError, match="PPOGapsConfig.hypotheses .*must be a non-empty"):
    ppo_gaps.PPOGapsConfig(env="Catch-v0", hypotheses=())
  with pytest.raises(ValueError, match="PPOGapsConfig.seeds must be at least 2"):
    ppo_gaps.PPOGapsConfig(env="Catch-v0", seeds=1)
  with pytest.raises(ValueError, match="backend"):
    ppo_gaps.PPOGapsConfig(env="Catch-v0", backend="slurm")
  # a selection keeps HYPOTHESES' order and trains each arm once
  config = ppo_gaps.PPOGapsConfig(env="Catch-v0", hypotheses=("critic", "readings"))
  assert [h.key for h in config.chosen()] == ["readings", "critic"]
  assert [a.name for a in config.arms()] == ["mlp", "gcnn", "g_lr25e3", "gi_lr25e3"]
  assert all(a.config.total_steps == 20_000 for a in config.arms())
  short = ppo_gaps.PPOGapsConfig(env="Catch-v0", hypotheses=("critic",), total_steps=4096)
  assert all(a.config.total_steps == 4096 for a in short.arms())


def _fake_runs(tmp_path, config, offsets):
  """Seed CSVs and `(env_steps, curves, counts)` for every arm: return = offset + noise."""
  rng = np.random.default_rng(0)
  runs_dir = os.path.join(str(tmp_path), "runs", config.env)
  arms = config.arms()
  runs = {}
  for arm in arms:
    steps = np.arange(1, 21) * 1024
    curves = offsets.get(arm.name, 0.0) + 0.01 * rng.standard_normal((config.seeds, steps.size))
    folder = arm_folder(runs_dir, arm)
    for s in range(config.seeds):
      results.write_seed_csv(
        os.path.join(folder, f"seed_{s}.csv"),
        {"env_steps": steps, "mean_return": curves[s], "finished_return": curves[s]},
      )
    runs[arm.name] = (steps, curves, {"actor": 10, "critic": 10})
  return arms, runs, runs_dir


def test_report_tables_comparisons_and_readings(tmp_path):
  config = ppo_gaps.PPOGapsConfig(
    env="Catch-v0",
    seeds=8,
    hypotheses=("readings", "critic"),
    checkpoints=(2000, 10000, 20000),
    report=str(tmp_path / "README.md"),
  )
  # the invariant critic is clearly ahead of its reference, the G-CNN level with the MLP
  arms, runs, runs_dir = _fake_runs(tmp_path, config, {"gi_lr25e3": 0.5, "g_lr25e3": 0.1})
  path = ppo_gaps.write_report(config.report, config, arms, runs, runs_dir)
  text = open(path).read()
  assert "## (d) How the thesis reads its curves" in text
  assert "## (f) The critic" in text
  # the arm's row names what it changes; the thesis' row is beside ours
  assert "| gi_lr25e3 | gcnn:invariant | learning_rate=0.0025 |" in text
  assert "| thesis | gcnn | the thesis' | -0.06 +- 0.09 | 0.95 +- 0.03 | 0.96 +- 0.02 |" in text
  for step in ("2,000", "10,000", "20,000"):
    assert f"gi_lr25e3 ({step} steps) - g_lr25e3 ({step} steps)" in text
  assert "gi_lr25e3 (10,000 steps) beats g_lr25e3 (10,000 steps)" in text
  assert "gcnn (10,000 steps) level with mlp (10,000 steps)" in text
  # the readings table reads the thesis-setting arms five ways
  for reading in results.READINGS:
    assert f"| {reading}: " in text
  # per_env puts 10,000 steps past a 20,480-step run (x4)
  assert "(past the run)" in text
  # hand-written notes survive a rewrite
  with open(path, "a") as f:
    f.write("\n## Notes\n\nkept\n")
  ppo_gaps.write_report(config.report, config, arms, runs, runs_dir)
  assert open(path).read().endswith("## Notes\n\nkept\n")


def test_run_trains_the_selected_arms_and_writes_the_report(tmp_path):
  config = ppo_gaps.PPOGapsConfig(
    env="Catch-v0",
    seeds=2,
    hypotheses=("critic",),
    total_steps=1024,
    checkpoints=(512, 1024),
    runs=str(tmp_path / "runs"),
    results=str(tmp_path / "results"),
    progress=False,
  )
  path = ppo_gaps.run(config)
  assert path == str(tmp_path / "results" / "ppo_gaps_catch" / "README.md")
  text = open(path).read()
  assert "| g_lr25e3 | gcnn | learning_rate=0.0025 |" in text
  assert "gi_lr25e3 (1,024 steps) - g_lr25e3 (1,024 steps)" in text
  # each arm trained in a process of its own (isolate, the default) equals the same arm
  # trained in this process, bit for bit
  arm = config.arms()[1]
  run_arms([arm], [0, 1], str(tmp_path / "here"), resume=False, progress=False)
  for seed in (0, 1):
    isolated = arm_folder(str(tmp_path / "runs" / "Catch-v0"), arm.name)
    here = arm_folder(str(tmp_path / "here"), arm.name)
    name = f"seed_{seed}.csv"
    assert open(os.path.join(isolated, name)).read() == open(os.path.join(here, name)).read()


def test_train_arms_isolates_many_unfinished_arms(monkeypatch):
  """`train_arms(isolate=None)` trains each arm in a fresh process only when more than
  `ISOLATE_ABOVE` arms are unfinished; `isolate=True`/`False` force it either way."""
  from tf_equirl.experiments import _arms
  from tf_equirl.runner import Arm

  isolated = []
  monkeypatch.setattr(_arms.runs, "load_finished_run", lambda *a: None)
  monkeypatch.setattr(
    _arms, "run_in_fresh_process", lambda target, args, what: isolated.append(args[0].name)
  )
  monkeypatch.setattr(_arms, "run_arms", lambda arms, *a, **k: {x.name: x for x in arms})
  config = default_config("Catch-v0")

  def arms(n):
    return [Arm(f"arm{i}", "mlp", config) for i in range(n)]

  limit = _arms.ISOLATE_ABOVE
  assert set(_arms.train_arms(arms(limit), [0], "runs")) == {f"arm{i}" for i in range(limit)}
  assert isolated == []
  _arms.train_arms(arms(limit + 1), [0], "runs")
  assert isolated == [f"arm{i}" for i in range(limit + 1)]
  isolated.clear()
  _arms.train_arms(arms(limit + 1), [0], "runs", isolate=False)
  _arms.train_arms(arms(1), [0], "runs", isolate=True)
  assert isolated == ["arm0"]
