"""Controls of the Dyna driver: the true model (planning on the real environment, an upper
bound) and the untrained model (random initial weights, never updated, a lower bound)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.agents.dyna import (
  Dyna,
  DynaConfig,
  build_world_model,
  default_dyna_config,
  dyna_gradient_updates,
  matched_ppo_config,
)
from tf_equirl.agents.dyna.seed_batch import SeedBatchDyna

_TINY_PPO = dict(num_envs=4, num_steps=16, total_steps=128, num_minibatches=2, num_epochs=2)


def _tiny(env="CartPole-v1", **fields):
  base = dict(mode="online", world_model="true", planning_ratio=1, dyna_iterations=2)
  base.update(fields)
  return default_dyna_config(env, ppo_overrides=_TINY_PPO, **base)


def _flat(values):
  return np.concatenate([np.asarray(v).ravel() for v in values])


# --------------------------------------------------------------------------- true model
@pytest.mark.parametrize("env", ["CartPole-v1", "Catch-v0"])
def test_true_model_plans_exactly_the_real_environment_step(env):
  dyna = Dyna(_tiny(env, mode="supervised"))
  assert dyna.world_model is None and dyna.trainer is None
  real, planned = dyna.env, dyna.plan_env
  # The same reset distribution: equal initial states for the same key.
  key = tf.constant([7, 3], tf.int64)
  real_state, real_step = real.pure_reset(key)
  plan_state, plan_step = planned.pure_reset(key)
  np.testing.assert_array_equal(plan_state.physics, real_state.physics)
  np.testing.assert_array_equal(plan_step.observation, real_step.observation)
  # The same dynamics, reward and termination for the same state and action, through whole
  # episodes (both step functions the PPO loops use).
  actions = np.random.default_rng(0).integers(0, real.num_actions, (60, real.batch_size))
  ended = 0
  state = real_state
  for action in actions:
    action = tf.constant(action, tf.int32)
    for step in ("pure_step", "pure_step_and_reset"):
      want = getattr(real, step)(state, action)
      got = getattr(planned, step)(state, action)
      for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    state, time_step = real.pure_step(state, action)
    ended += int(np.sum(time_step.is_last()))
  assert ended > 0  # episodes ended (terminations compared too)
  assert dyna.parameter_counts()["world_model"] == 0
  assert "real environment" in dyna.describe()


def test_true_model_run_trains_without_a_model_phase():
  dyna = Dyna(_tiny("Catch-v0"))
  dyna.reset(0)
  start = _flat([v.numpy() for v in dyna.actor_model.trainable_variables])
  result = dyna.train(seed=0)
  after = _flat([v.numpy() for v in dyna.actor_model.trainable_variables])
  assert not np.array_equal(start, after)  # the actor learned
  planned = result.extras["planned_steps"]
  # Planning before the second Dyna iteration: ratio 1 x the first iteration's 64 real steps.
  np.testing.assert_array_equal(planned, [0, 64])
  assert np.all(result.extras["plan_episodes"] > 0)  # Catch episodes last 9 steps
  assert "model_loss" not in result.extras
  assert dyna.tracing_counts == {"act": 1, "learn": 0, "plan": 1}
  assert np.all(np.isfinite(result.losses["policy_loss"]))


def test_true_model_refuses_a_path_or_a_given_model():
  with pytest.raises(ValueError, match="world_model_path must be None"):
    _tiny(mode="supervised", world_model_path="cartpole/gcnn_transition")
  config = _tiny()
  with pytest.raises(ValueError, match="plans on the real environment"):
    Dyna(config, world_model=build_world_model("mlp", Dyna(config).spec))


def test_true_model_needs_no_zoo_model():
  from tf_equirl.agents.dyna import default_world_model_name
  from tf_equirl.sweeps.registry import check_environment

  check_environment(_tiny(mode="supervised"))  # no zoo lookup for the true model
  with pytest.raises(ValueError, match="No zoo world model of kind 'true'"):
    default_world_model_name("CartPole-v1", "true")


@pytest.mark.slow  # a two-seed run through the runner
def test_true_model_through_the_runner_saves_no_world_model(tmp_path):
  from tf_equirl.runner import run_experiment

  out = run_experiment(_tiny("Catch-v0"), [0, 1], str(tmp_path), progress=False)
  assert out.parameter_counts["world_model"] == 0 and out.curves.shape == (2, 2)
  assert (tmp_path / "seed_1" / "actor.keras").exists()
  assert not (tmp_path / "seed_1" / "world_model.keras").exists()


# ---------------------------------------------------------------------- untrained model
def test_untrained_model_stays_bit_identical_and_still_plans():
  config = _tiny(world_model="mlp", model_training=False)
  assert not config.learns_world_model
  dyna = Dyna(config)
  assert dyna.trainer is None
  dyna.reset(0)  # the seed's random initial weights, as train(seed=0) draws them
  initial = [w.copy() for w in dyna.world_model.get_weights()]
  result = dyna.train(seed=0)
  for before, after in zip(initial, dyna.world_model.get_weights()):
    np.testing.assert_array_equal(before, after)
  assert result.extras["planned_steps"][-1] > 0
  assert result.extras["plan_episodes"][-1] > 0
  assert "model_loss" not in result.extras
  assert dyna.tracing_counts["learn"] == 0
  # Another seed draws other initial weights (the untrained model is per seed).
  dyna.reset(1)
  assert not np.array_equal(_flat(initial), _flat(dyna.world_model.get_weights()))
  assert "untrained mlp" in dyna.describe()


def test_model_training_false_needs_a_learned_online_model():
  with pytest.raises(ValueError, match="model_training=False"):
    _tiny(mode="supervised", world_model="gcnn", model_training=False)
  with pytest.raises(ValueError, match="model_training=False"):
    _tiny(world_model="true", model_training=False)
  with pytest.raises(ValueError, match="model_training must be True or False"):
    _tiny(world_model="mlp", model_training=0)
  assert DynaConfig(mode="online", world_model="mlp").learns_world_model


# ------------------------------------------------------------------- many seeds at once
@pytest.mark.slow  # two compiled programs and two lone runs
@pytest.mark.parametrize(
  "fields", [dict(world_model="true"), dict(world_model="mlp", model_training=False)]
)
def test_seed_batch_controls_equal_lone_runs(fields):
  config = _tiny(**fields)
  batch = SeedBatchDyna(config, [2, 5])
  results = batch.train()
  assert batch.tracing_counts["learn"] == 0
  for k, seed in enumerate(batch.seeds):
    dyna = Dyna(config)
    lone = dyna.train(seed=seed)
    np.testing.assert_array_equal(results[k].mean_return, lone.mean_return)
    for name in ("planned_steps", "plan_episodes"):
      np.testing.assert_array_equal(results[k].extras[name], lone.extras[name])
    params = _flat(
      [v.numpy() for m in (dyna.actor_model, dyna.critic_model) for v in m.trainable_variables]
    )
    ours = _flat(batch._seed_weights(k))  # pylint: disable=protected-access
    assert np.linalg.norm(ours - params) <= 1e-5 * np.linalg.norm(params)
    if dyna.world_model is None:
      assert batch.world_model(k) is None
    else:  # the untrained model: seed k's initial weights, untouched
      np.testing.assert_array_equal(
        _flat(batch.world_model(k).get_weights()), _flat(dyna.world_model.get_weights())
      )


# ------------------------------------------------------------------- matched PPO baseline
def _sized(total_steps, dyna_iterations, planning_ratio, epochs=2, minibatches=2):
  ppo = dict(
    num_envs=4,
    num_steps=16,
    total_steps=total_steps,
    num_epochs=epochs,
    num_minibatches=minibatches,
  )
  return default_dyna_config(
    "CartPole-v1",
    ppo_overrides=ppo,
    world_model="true",
    planning_ratio=planning_ratio,
    dyna_iterations=dyna_iterations,
  )


def test_matched_ppo_raises_epochs_to_an_exact_match():
  # 640 real steps = 10 iterations of 64, 5 Dyna iterations of 2 acting iterations; ratio 0.5
  # plans 1 iteration per Dyna iteration: 15 iterations x 2 epochs x 2 minibatches.
  config = _sized(640, 5, 0.5)
  assert dyna_gradient_updates(config) == 60
  matched = matched_ppo_config(config)
  assert (matched.config.num_epochs, matched.config.num_minibatches) == (3, 2)
  assert matched.config.num_iterations == 10 and matched.real_steps == 640
  assert matched.ppo_updates == 60 and matched.exact and matched.relative_error == 0.0
  assert matched.dyna_updates_per_real_step == matched.ppo_updates_per_real_step == 60 / 640
  # The rest of the PPO settings are Dyna's actor-critic's.
  assert matched.config.learning_rate == config.ppo.learning_rate
  assert matched.config.network == config.ppo.network


def test_matched_ppo_takes_the_closest_count_when_none_is_exact():
  # Ratio 0.3: 3 planning iterations over the run, 13 x 2 x 2 = 52 updates, 5.2 per PPO
  # iteration; with at least 2 epochs and 2 minibatches the closest products are 4 and 6:
  # 6 (60 updates) by 3 epochs, the minibatch size kept.
  config = _sized(640, 5, 0.3)
  assert [config.planning_iterations(i) for i in range(5)] == [0, 1, 0, 1, 1]
  matched = matched_ppo_config(config)
  assert matched.dyna_updates == 52 and matched.ppo_updates == 60
  assert (matched.config.num_epochs, matched.config.num_minibatches) == (3, 2)
  assert not matched.exact and matched.relative_error == pytest.approx(60 / 52 - 1)


def test_matched_ppo_raises_minibatches_when_epochs_alone_overshoot():
  # 4 epochs x 2 minibatches, ratio 0.25 with 4 acting iterations per Dyna iteration: one
  # planning iteration each, 5/4 of the updates = 10 per PPO iteration: 5 epochs, exact.
  config = _sized(1024, 4, 0.25, epochs=4, minibatches=2)
  assert config.acting_iterations == 4 and dyna_gradient_updates(config) == 20 * 8
  matched = matched_ppo_config(config)
  assert (matched.config.num_epochs, matched.config.num_minibatches) == (5, 2)
  assert matched.exact
  # 3 epochs x 4 minibatches, ratio 0.25: 15 per iteration; epochs alone give 12 or 16 and
  # 5 minibatches x 3 epochs gives 15 exactly.
  config = _sized(1024, 4, 0.25, epochs=3, minibatches=4)
  matched = matched_ppo_config(config)
  assert (matched.config.num_epochs, matched.config.num_minibatches) == (3, 5)
  assert matched.exact and matched.ppo_updates == 16 * 15
  with pytest.raises(ValueError, match="Expected a DynaConfig"):
    matched_ppo_config(config.ppo)
