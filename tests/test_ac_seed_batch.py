"""SeedBatchAC: N actor-critic seeds in one compiled program equal N lone runs, seed by seed,
for every network kind; the run folder and the launcher take `seed_batch`; bad uses are named.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.agents.ac import AC, ACConfig, Replay
from tf_equirl.agents.ac.experiment import run_ac_experiment
from tf_equirl.agents.ac.replay import SeedReplay, sample_arrays
from tf_equirl.agents.ac.seed_batch import SeedBatchAC
from tf_equirl.envs.base import value_assertions
from tf_equirl.envs.dmc import dmc_available

from support import TINY_AC_FIELDS

TINY = dict(TINY_AC_FIELDS, env="Pendulum-v1", final_episodes=2)


def _lone(config, seeds):
  agent = AC(config)
  out = {}
  for seed in seeds:
    result = agent.train(seed=seed)
    out[seed] = (
      result,
      [[v.numpy() for v in m.trainable_variables] for m in (agent.actor, agent.critic)],
    )
  return out


def _check_equal(batch, results, lone, rtol):
  for k, seed in enumerate(batch.seeds):
    result, (expected, (actor, critic)) = results[k], lone[seed]
    np.testing.assert_array_equal(result.env_steps, expected.env_steps)
    np.testing.assert_allclose(result.eval_return, expected.eval_return, rtol=rtol)
    np.testing.assert_allclose(result.final_returns, expected.final_returns, rtol=rtol)
    for name in ("critic_loss", "actor_loss", "q_mean", "updates", "episodes"):
      np.testing.assert_allclose(
        result.metrics[name], expected.metrics[name], rtol=max(rtol, 1e-4), atol=1e-6
      )
    for mine, theirs in ((batch.actor_weights(k), actor), (batch.critic_weights(k), critic)):
      for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("network, jit", [("mlp", True), ("gcnn", False)])
def test_seeds_in_groups_equal_their_lone_runs_with_one_trace(network, jit):
  """Three seeds in groups of two (the second padded): each equals `AC(config).train(seed)`
  up to float rounding, and the program is traced once for both groups."""
  config = ACConfig(network=network, jit_compile=jit, **TINY)
  batch = SeedBatchAC(config, [3, 1, 4], seed_batch=2)
  results = batch.train()
  assert batch.tracing_count == 1
  _check_equal(batch, results, _lone(config, [3, 1, 4]), rtol=1e-4 if jit else 1e-5)
  # Seeds differ from one another (the vectorised program does not share draws).
  assert not np.allclose(results[0].eval_return[1:], results[1].eval_return[1:])


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
@pytest.mark.parametrize("network, jit", [("relaxed", True), ("rpp", False), ("augment", False)])
def test_every_network_kind_matches_lone_runs(network, jit):
  """The vectorisation is the same code compiled or not: one kind runs under XLA, the others
  as plain graphs (XLA compiles slowly, and the compiled path runs above as well)."""
  config = ACConfig(network=network, jit_compile=jit, **TINY)
  batch = SeedBatchAC(config, [0, 5])
  _check_equal(batch, batch.train(), _lone(config, [0, 5]), rtol=1e-4)


def test_seed_replay_samples_each_seeds_buffer_as_a_lone_replay():
  """Writing the same steps into a lone `Replay` per seed and into one `SeedReplay` gives
  every seed the lone buffer's minibatches."""
  rng = np.random.default_rng(0)
  seeds, slots, e, d, k = 3, 5, 2, 3, 1
  lone = [Replay(slots, e, d, k) for _ in range(seeds)]
  stacked = SeedReplay(seeds, slots, e, d, k)
  for _ in range(7):  # past the ring's end
    step = [rng.normal(size=s).astype(np.float32) for s in ([seeds, e, d], [seeds, e, k])]
    scalars = [rng.uniform(size=[seeds, e]).astype(np.float32) for _ in range(2)]
    ended = (rng.uniform(size=[seeds, e]) < 0.3).astype(np.float32)
    nxt = rng.normal(size=[seeds, e, d]).astype(np.float32)
    for s in range(seeds):
      lone[s].add(step[0][s], step[1][s], scalars[0][s], scalars[1][s], ended[s], nxt[s])
    stacked.add(*step, *scalars, ended, nxt)
  arrays = stacked.arrays()
  for s in range(seeds):
    key = tf.constant([s, 9], tf.int64)
    expected = lone[s].sample(key, 8, 3, 0.9)
    got = sample_arrays([a[s] for a in arrays], stacked.count, key, 8, 3, 0.9)
    for x, y in zip(got, expected):
      np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_run_folder_with_seed_batch_equals_the_sequential_folder(tmp_path):
  config = ACConfig(network="mlp", jit_compile=False, **TINY)
  sequential = run_ac_experiment(config, [2, 0, 1], str(tmp_path / "seq"), save_models=False)
  seen = []
  batched = run_ac_experiment(
    config,
    [2, 0, 1],
    str(tmp_path / "vec"),
    seed_batch=2,
    callback=lambda seed, steps, ret: seen.append((seed, steps)),
  )
  np.testing.assert_allclose(batched.curves, sequential.curves, rtol=1e-5)
  np.testing.assert_allclose(batched.final_returns, sequential.final_returns, rtol=1e-5)
  assert sorted(seen) == sorted((s, n) for s in (2, 0, 1) for n in (200, 400))
  assert np.isfinite(batched.steps_per_second)
  # Each seed's saved actor is that seed's: it plays the seed's final evaluation again.
  actor = tf.keras.models.load_model(str(tmp_path / "vec" / "seed_0" / "actor.keras"))
  agent = AC(config)
  agent.actor.set_weights(actor.get_weights())
  np.testing.assert_allclose(agent.final_evaluation(0)[0], batched.final_returns[1], rtol=1e-6)
  # A resumed run reuses the finished seeds and vectorises only what is left.
  os.remove(tmp_path / "vec" / "seed_1.csv")
  resumed = run_ac_experiment(
    config, [2, 0, 1], str(tmp_path / "vec"), resume=True, seed_batch=2, save_models=False
  )
  np.testing.assert_allclose(resumed.curves, batched.curves, rtol=1e-5)  # CSV digits


def test_bad_seed_batches_are_named():
  config = ACConfig(network="mlp", jit_compile=False, **TINY)
  with pytest.raises(ValueError, match="seed_batch must be a positive integer"):
    SeedBatchAC(config, [0, 1], seed_batch=0)
  with pytest.raises(ValueError, match="seeds must be a non-empty list"):
    SeedBatchAC(config, [])
  pixels = ACConfig(**dict(TINY, observation="pixels", image_size=37, frame_stack=1))
  with pytest.raises(ValueError, match="vectorises state observations only"):
    SeedBatchAC(pixels, [0, 1])
  batch = SeedBatchAC(config, [0, 1])
  with pytest.raises(ValueError, match="has not been trained yet"):
    batch.actor_weights(1)
  with pytest.raises(ValueError, match="expected 1 to 2 seed indices"):
    batch.train_group([0, 1, 1])
  if dmc_available():
    dmc = ACConfig(**dict(TINY, env="dm_control/cartpole-swingup-v0", jit_compile=False))
    with pytest.raises(ValueError, match="steps through Python"):
      SeedBatchAC(dmc, [0, 1])


def test_leaving_out_value_assertions_keeps_the_nan_marking():
  """Inside `value_assertions(False)` a graph step has no assertion, and an invalid action
  still gives NaN (what XLA does with the assertion anyway)."""
  env = envs.make("Pendulum-v1", batch_size=2)
  state, _ = env.pure_reset(0)

  @tf.function(autograph=False)
  def step(action):
    with value_assertions(False):
      return env.pure_step(state, action)[1]

  graph = step.get_concrete_function(tf.TensorSpec([2, 1], tf.float32)).graph
  assert not [op for op in graph.get_operations() if op.type == "Assert"]
  reward = step(tf.constant([[0.5], [3.0]])).reward.numpy()
  assert np.isfinite(reward[0]) and np.isnan(reward[1])
  with pytest.raises(tf.errors.InvalidArgumentError, match="invalid action"):
    tf.function(lambda a: env.pure_step(state, a)[1].reward, autograph=False)(
      tf.constant([[0.5], [3.0]])
    )


def test_seeds_trained_at_once_equal_the_seeds_trained_one_after_another(tmp_path):
  """Two agents, each in its own thread, taking the next seed (`concurrent_seeds=2`), give the
  run folder of one agent training the seeds in turn: every seed's curve, metrics and final
  evaluation bit for bit, and each saved actor is its own seed's."""
  from tf_equirl import results

  config = ACConfig(network="mlp", **TINY)  # under XLA
  one = run_ac_experiment(
    config, [2, 0, 1], str(tmp_path / "one"), save_models=False, concurrent_seeds=1
  )
  seen = []
  two = run_ac_experiment(
    config,
    [2, 0, 1],
    str(tmp_path / "two"),
    concurrent_seeds=2,
    callback=lambda seed, steps, ret: seen.append((seed, steps)),
  )
  np.testing.assert_array_equal(two.curves, one.curves)
  np.testing.assert_array_equal(two.final_returns, one.final_returns)
  assert np.std(two.curves[:, -1]) > 0  # the seeds differ: rows cannot be swapped unseen
  for seed in (2, 0, 1):
    a = results.read_seed_csv(str(tmp_path / "one" / f"seed_{seed}.csv"))
    b = results.read_seed_csv(str(tmp_path / "two" / f"seed_{seed}.csv"))
    assert a.keys() == b.keys()
    for name in a:
      np.testing.assert_array_equal(a[name], b[name])
  assert sorted(seen) == sorted((s, n) for s in (2, 0, 1) for n in (200, 400))
  assert np.isfinite(two.steps_per_second)
  actor = tf.keras.models.load_model(str(tmp_path / "two" / "seed_1" / "actor.keras"))
  agent = AC(config)
  agent.actor.set_weights(actor.get_weights())
  np.testing.assert_array_equal(agent.final_evaluation(1)[0], two.final_returns[2])
  # Resumed: every seed is reused, none trains.
  again = run_ac_experiment(
    config,
    [2, 0, 1],
    str(tmp_path / "two"),
    resume=True,
    concurrent_seeds=2,
    callback=lambda *_: pytest.fail("a finished seed trained again"),
  )
  np.testing.assert_allclose(again.curves, two.curves, rtol=1e-5)  # CSV digits


def test_a_seed_that_diverges_beside_another_fails_the_run_folder(tmp_path):
  from tf_equirl import runs

  config = ACConfig(network="mlp", **dict(TINY, learning_rate=1e30))
  out = tmp_path / "run"
  with pytest.raises(runs.TrainingDiverged, match="non-finite"):
    run_ac_experiment(config, [0, 1, 2], str(out), save_models=False, concurrent_seeds=2)
  with open(out / "run.json") as f:
    assert json.load(f)["status"] == "failed"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_concurrent_seeds_are_named(bad):
  config = ACConfig(network="mlp", **TINY)
  with pytest.raises(ValueError, match="concurrent_seeds must be a positive integer"):
    run_ac_experiment(config, [0, 1], concurrent_seeds=bad)
