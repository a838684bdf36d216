"""The runner trains several PPO seeds as one vectorised program, group by group, with the
same outputs as the sequential path."""

import os
import time
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import results, runner, runs
from tf_equirl.agents.ppo.config import default_config
from tf_equirl.agents.ppo.seed_batch import SeedBatchPPO

keras = tf.keras


def _config(**overrides):
  fields = dict(
    num_envs=4,
    num_steps=16,
    total_steps=128,
    num_minibatches=2,
    num_epochs=2,
    iterations_per_call=1,
  )
  fields.update(overrides)
  return default_config("CartPole-v1", network="mlp", **fields)


def _run(config, out, seeds, **kwargs):
  return runner.run_experiment(
    config, seeds, str(out), progress=False, tensorboard=False, checkpoints=(64, 128), **kwargs
  )


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_vectorised_run_writes_what_the_sequential_run_writes(tmp_path):
  config = _config()
  vec = _run(config, tmp_path / "vec", [3, 5, 8], seed_batch=2)
  seq = _run(config, tmp_path / "seq", [3, 5, 8], vectorize=False)
  for seed in (3, 5, 8):
    a = results.read_seed_csv(str(tmp_path / "vec" / f"seed_{seed}.csv"))
    b = results.read_seed_csv(str(tmp_path / "seq" / f"seed_{seed}.csv"))
    assert sorted(a) == sorted(b)
    np.testing.assert_array_equal(a["env_steps"], b["env_steps"])
    # The first iteration collects with the initial weights: the same episodes exactly.
    assert a["mean_return"][0] == b["mean_return"][0]
    np.testing.assert_allclose(a["mean_return"], b["mean_return"], rtol=1e-4)
    actor = keras.models.load_model(str(tmp_path / "vec" / f"seed_{seed}" / "actor.keras"))
    lone = keras.models.load_model(str(tmp_path / "seq" / f"seed_{seed}" / "actor.keras"))
    states = np.random.default_rng(seed).normal(size=(16, 4)).astype(np.float32)
    np.testing.assert_allclose(actor(states), lone(states), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(vec.curves, seq.curves, rtol=1e-4)
  assert vec.parameter_counts == seq.parameter_counts
  assert runs.is_finished_run(str(tmp_path / "vec"), config, [3, 5, 8])
  assert os.path.exists(tmp_path / "vec" / "summary.md")


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_an_interrupted_chunked_run_keeps_every_finished_group(tmp_path, monkeypatch):
  config = _config(total_steps=64)
  calls = []
  original = SeedBatchPPO.train_group

  def interrupted(self, group, callback=None):
    calls.append([self.seeds[k] for k in group])
    if len(calls) == 2:
      raise KeyboardInterrupt
    return original(self, group, callback)

  monkeypatch.setattr(SeedBatchPPO, "train_group", interrupted)
  with pytest.raises(KeyboardInterrupt):
    _run(config, tmp_path, [0, 1, 2, 3], seed_batch=2, concurrent_groups=1)
  folder = runs.RunFolder(str(tmp_path), config, [0, 1, 2, 3], resume=True)
  assert [s for s in range(4) if folder.is_finished(s)] == [0, 1]
  calls.clear()

  def recorded(self, group, callback=None):
    calls.append([self.seeds[k] for k in group])
    return original(self, group, callback)

  monkeypatch.setattr(SeedBatchPPO, "train_group", recorded)
  result = _run(config, tmp_path, [0, 1, 2, 3], seed_batch=2, resume=True, concurrent_groups=1)
  assert calls == [[2, 3]]  # only the unfinished group trains again
  assert result.curves.shape[0] == 4
  assert runs.is_finished_run(str(tmp_path), config, [0, 1, 2, 3])


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_concurrent_groups_train_each_seed_as_one_group_at_a_time_does(tmp_path):
  config = _config()
  seeds = [3, 5, 8, 11]
  one = _run(config, tmp_path / "one", seeds, seed_batch=2, concurrent_groups=1)
  two = _run(config, tmp_path / "two", seeds, seed_batch=2, concurrent_groups=2)
  np.testing.assert_array_equal(one.curves, two.curves)  # bit for bit
  for seed in seeds:
    a = results.read_seed_csv(str(tmp_path / "one" / f"seed_{seed}.csv"))
    b = results.read_seed_csv(str(tmp_path / "two" / f"seed_{seed}.csv"))
    for name in a:
      np.testing.assert_array_equal(a[name], b[name], err_msg=f"seed {seed}, {name}")
    weights = [
      keras.models.load_model(str(tmp_path / run / f"seed_{seed}" / "actor.keras")).get_weights()
      for run in ("one", "two")
    ]
    for x, y in zip(*weights):
      np.testing.assert_array_equal(x, y)
  assert runs.is_finished_run(str(tmp_path / "two"), config, seeds)


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
@pytest.mark.parametrize(
  "lane, seeds, seed_batch",
  [
    (SeedBatchPPO, [0, 1, 2, 3, 4, 5], 2),  # vectorised groups of two seeds
    (runner._LonePrograms, [0, 1, 2], 1),  # groups of one seed: lone programs
  ],
)
def test_an_interrupt_stops_concurrent_groups_and_keeps_the_finished_ones(
  tmp_path, monkeypatch, lane, seeds, seed_batch
):
  import _thread

  config = _config()  # two compiled calls per group
  started = []
  original = lane.train_group

  def interrupted(self, group, callback=None):
    started.append(self.seeds[group[0]])
    if len(started) < 3:
      return original(self, group, callback)
    # A lane finished its first group: Ctrl-C in the main thread, which takes it while this
    # group's first call reports.
    _thread.interrupt_main()

    def slow(k, metrics):
      time.sleep(1.0)
      return callback(k, metrics)

    return original(self, group, slow)

  monkeypatch.setattr(lane, "train_group", interrupted)
  with pytest.raises(KeyboardInterrupt):
    _run(config, tmp_path, seeds, seed_batch=seed_batch, concurrent_groups=2)
  folder = runs.RunFolder(str(tmp_path), config, seeds, resume=True)
  finished = [s for s in seeds if folder.is_finished(s)]
  assert finished and started[2] not in finished  # the group started last was stopped
  monkeypatch.setattr(lane, "train_group", original)
  result = _run(config, tmp_path, seeds, seed_batch=seed_batch, resume=True, concurrent_groups=2)
  assert result.curves.shape[0] == len(seeds)
  assert runs.is_finished_run(str(tmp_path), config, seeds)


@pytest.mark.parametrize("groups", [0, -2, 1.5, True])
def test_concurrent_groups_below_one_are_refused(tmp_path, groups):
  with pytest.raises(ValueError, match="concurrent_groups must be a positive integer"):
    _run(_config(), tmp_path, [0, 1], concurrent_groups=groups)
  assert not os.listdir(tmp_path)  # refused before the folder was taken


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_online_dyna_groups_train_side_by_side_as_one_at_a_time(tmp_path):
  """Online Dyna (each seed its own world model and buffer) with two groups at once writes
  what one group at a time writes, bit for bit: curves, planning columns, world models."""
  from tf_equirl.agents.dyna import default_dyna_config

  config = default_dyna_config(
    "CartPole-v1",
    mode="online",
    world_model="mlp",
    model_epochs=2,
    planning_ratio=1,
    dyna_iterations=2,
    ppo_overrides=dict(num_envs=4, num_steps=16, total_steps=128, num_minibatches=2, num_epochs=2),
  )
  seeds = [3, 5, 8]
  outs = {}
  for lanes in (1, 2):
    outs[lanes] = _run(config, tmp_path / str(lanes), seeds, seed_batch=2, concurrent_groups=lanes)
  np.testing.assert_array_equal(outs[1].curves, outs[2].curves)
  for seed in seeds:
    a = results.read_seed_csv(str(tmp_path / "1" / f"seed_{seed}.csv"))
    b = results.read_seed_csv(str(tmp_path / "2" / f"seed_{seed}.csv"))
    assert "model_loss" in a and "plan_mean_return" in a
    for name in a:
      np.testing.assert_array_equal(a[name], b[name], err_msg=f"seed {seed}, {name}")
    worlds = [
      keras.models.load_model(str(tmp_path / run / f"seed_{seed}" / "world_model.keras"))
      for run in ("1", "2")
    ]
    for x, y in zip(*(w.get_weights() for w in worlds)):
      np.testing.assert_array_equal(x, y)
  assert runs.is_finished_run(str(tmp_path / "2"), config, seeds)


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_groups_of_one_seed_are_lone_runs_bit_for_bit(tmp_path):
  """With groups of one seed every seed trains as its own lone program, two lanes at once:
  exactly what the sequential path (one agent, one seed after another) writes."""
  config = _config()
  seeds = [3, 5, 8]
  lone = _run(config, tmp_path / "lone", seeds, seed_batch=1, concurrent_groups=2)
  seq = _run(config, tmp_path / "seq", seeds, vectorize=False)
  np.testing.assert_array_equal(lone.curves, seq.curves)
  for seed in seeds:
    a = results.read_seed_csv(str(tmp_path / "lone" / f"seed_{seed}.csv"))
    b = results.read_seed_csv(str(tmp_path / "seq" / f"seed_{seed}.csv"))
    for name in b:
      np.testing.assert_array_equal(a[name], b[name], err_msg=f"seed {seed}, {name}")
    for model in ("actor", "critic"):
      weights = [
        keras.models.load_model(str(tmp_path / run / f"seed_{seed}" / f"{model}.keras"))
        for run in ("lone", "seq")
      ]
      for x, y in zip(weights[0].get_weights(), weights[1].get_weights()):
        np.testing.assert_array_equal(x, y)
      # Saved from lane threads, every file is in the Keras format (a zip), none HDF5.
      assert zipfile.is_zipfile(tmp_path / "lone" / f"seed_{seed}" / f"{model}.keras"), model
  assert runs.is_finished_run(str(tmp_path / "lone"), config, seeds)


def test_lone_programs_for_ppo_with_groups_of_one_or_on_the_newer_cpu_runtime(monkeypatch):
  from tf_equirl import compilation
  from tf_equirl.agents.dyna import default_dyna_config

  ppo, dyna = _config(), default_dyna_config("CartPole-v1")
  monkeypatch.setenv("XLA_FLAGS", "")
  assert compilation.runtime_enabled() is False
  assert runner.lone_programs(ppo, 1) and not runner.lone_programs(ppo, 2)
  assert not runner.lone_programs(ppo, None)  # the classic runtime: vectorised groups
  monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_xla_runtime=true")
  assert compilation.runtime_enabled() is True
  assert runner.lone_programs(ppo, None) is (not tf.config.list_physical_devices("GPU"))
  assert not runner.lone_programs(ppo, 4)  # an explicit group size keeps the vectorised path
  assert not runner.lone_programs(dyna, None) and not runner.lone_programs(dyna, 1)


def test_default_seed_groups_depend_on_the_number_of_seeds_only():
  from tf_equirl.agents.dyna import default_dyna_config

  ppo = _config()
  sizes = {n: runner.default_seed_batch(ppo, n) for n in (1, 2, 3, 4, 5, 6, 8, 9, 10, 32, 33)}
  assert sizes == {1: 1, 2: 2, 3: 3, 4: 4, 5: 3, 6: 3, 8: 4, 9: 3, 10: 4, 32: 4, 33: 4}
  for n, size in sizes.items():  # even groups, none larger than DEFAULT_GROUP_SEEDS
    groups = -(-n // size)
    assert size <= runner.DEFAULT_GROUP_SEEDS and groups * size - n < groups
  assert runner.default_seed_batch(default_dyna_config("CartPole-v1"), 8) == 4  # Dyna alike
  with pytest.raises(ValueError, match="at least one seed"):
    runner.default_seed_batch(ppo, 0)


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_a_run_on_one_core_or_two_is_the_same_bit_for_bit(tmp_path, monkeypatch):
  """Without a seed_batch, the groups do not depend on the cores: five seeds form the groups
  {3, 5, 8} and {11, 13} whether they train one after another or side by side."""
  config = _config(total_steps=64)
  seeds = [3, 5, 8, 11, 13]
  sizes = []
  original = SeedBatchPPO.train_group

  def recorded(self, group, callback=None):
    sizes.append(len(group))
    return original(self, group, callback)

  monkeypatch.setattr(SeedBatchPPO, "train_group", recorded)
  runs_ = {}
  for cores in (1, 2):
    monkeypatch.setattr(runner, "default_lanes", lambda cores=cores: cores)
    runs_[cores] = _run(config, tmp_path / str(cores), seeds)
  assert sorted(sizes) == [2, 2, 3, 3]
  np.testing.assert_array_equal(runs_[1].curves, runs_[2].curves)
  for seed in seeds:
    a = results.read_seed_csv(str(tmp_path / "1" / f"seed_{seed}.csv"))
    b = results.read_seed_csv(str(tmp_path / "2" / f"seed_{seed}.csv"))
    for name in a:
      np.testing.assert_array_equal(a[name], b[name], err_msg=f"seed {seed}, {name}")


def test_default_lanes_are_the_cores_this_process_may_use_or_one_on_a_gpu():
  gpu = bool(tf.config.list_physical_devices("GPU"))
  assert runner.default_lanes() == (1 if gpu else len(os.sched_getaffinity(0)))


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_train_seeds_vectorised_yields_each_seeds_columns():
  config = _config(total_steps=64)
  reported = {}
  out = dict(
    runner.train_seeds(
      config, [4, 9], report=lambda s, rows: reported.setdefault(s, []).append(rows["env_steps"])
    )
  )
  lone = dict(runner.train_seeds(config, [9], vectorize=False))
  assert sorted(out) == [4, 9]
  assert out[9]["mean_return"][0] == lone[9]["mean_return"][0]
  np.testing.assert_array_equal(np.concatenate(reported[9]), out[9]["env_steps"])


@pytest.mark.parametrize("seed_batch", [0, -1, 4, 2.5, True])
def test_seed_batch_outside_one_to_the_seed_count_is_refused(tmp_path, seed_batch):
  with pytest.raises(
    ValueError, match="seed_batch must be an integer from 1 to the number " r"of seeds \(3\)"
  ):
    _run(_config(), tmp_path, [0, 1, 2], seed_batch=seed_batch)
  assert not os.listdir(tmp_path)  # refused before the folder was taken


def test_every_ppo_and_dyna_config_vectorises_and_nothing_else_runs(tmp_path):
  from tf_equirl.agents.dyna import default_dyna_config

  branched = default_dyna_config("CartPole-v1", rollout_start="buffer", rollout_horizon=5)
  assert runner.vectorizes(default_dyna_config("CartPole-v1"), 2)
  assert runner.vectorizes(default_dyna_config("CartPole-v1", mode="online"), 2)
  assert runner.vectorizes(branched, 2)
  assert not runner.vectorizes(branched, 2, vectorize=False)
  assert not runner.vectorizes(branched, 1)
  with pytest.raises(ValueError, match="expects a PPOConfig or a DynaConfig, received dict"):
    runner.run_experiment({"env": "CartPole-v1"}, [0, 1], None)
