"""SeedBatchDyna: N Supervised-Dyna seeds in one program equal N lone `Dyna` runs."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.agents.dyna import Dyna, default_dyna_config
from tf_equirl.agents.dyna.seed_batch import SeedBatchDyna, supports

# Parameters after training equal the lone run's to this relative (L2) difference.
RELATIVE = 1e-5


def _config(env="CartPole-v1", **overrides):
  fields = dict(mode="supervised", world_model="gcnn", planning_ratio=1, dyna_iterations=2)
  fields.update(overrides)
  ppo = dict(num_envs=4, num_steps=16, total_steps=128, num_minibatches=2, num_epochs=2)
  return default_dyna_config(env, ppo_overrides=ppo, **fields)


def _flat(values):
  return np.concatenate([np.asarray(v).ravel() for v in values])


def _assert_matches_lone(config, batch, results, k):
  dyna = Dyna(config)
  lone = dyna.train(seed=batch.seeds[k])
  models = (dyna.actor_model, dyna.critic_model)
  params = _flat([v.numpy() for m in models for v in m.trainable_variables])
  ours = _flat(batch._seed_weights(k))  # pylint: disable=protected-access
  assert np.linalg.norm(ours - params) <= RELATIVE * np.linalg.norm(params)
  # The same real and planned episodes: the random streams are the lone run's.
  np.testing.assert_array_equal(results[k].mean_return, lone.mean_return)
  np.testing.assert_array_equal(results[k].episodes, lone.episodes)
  assert sorted(results[k].extras) == sorted(lone.extras)
  for name in ("planned_steps", "dyna_iteration", "plan_episodes"):
    np.testing.assert_array_equal(results[k].extras[name], lone.extras[name])
  np.testing.assert_allclose(
    results[k].extras["plan_mean_return"], lone.extras["plan_mean_return"], rtol=1e-5
  )
  np.testing.assert_allclose(
    results[k].losses["policy_loss"], lone.losses["policy_loss"], rtol=1e-3, atol=1e-7
  )


@pytest.mark.parametrize("env", ["CartPole-v1", pytest.param("Catch-v0", marks=pytest.mark.slow)])
def test_supervised_seeds_match_lone_runs_with_one_trace_per_phase(env):
  config = _config(env)
  batch = SeedBatchDyna(config, [3, 5])
  results = batch.train()
  assert batch.tracing_counts == {"act": 1, "plan": 1}
  assert results[0].env_steps.tolist() == [64, 128]
  plans = [r.extras["plan_mean_return"] for r in results]
  assert not np.array_equal(*plans)  # each seed plans its own episodes
  _assert_matches_lone(config, batch, results, 1)
  assert batch.parameter_counts()["world_model"] > 0


def test_what_is_vectorised_is_named():
  assert supports(_config()) and not supports(_config(mode="online"))
  assert not supports(_config(rollout_start="buffer", rollout_horizon=5))
  with pytest.raises(ValueError, match="mode='supervised' with rollout_start='reset' only"):
    SeedBatchDyna(_config(mode="online"), [0, 1])
  with pytest.raises(ValueError, match="expects a DynaConfig"):
    SeedBatchDyna(_config().ppo, [0, 1])
  with pytest.raises(ValueError, match="seeds must be a non-empty list"):
    SeedBatchDyna(_config(), [])
