"""PPO presets: named settings applied between the environment defaults and the overrides."""

import numpy as np
import pytest

from tf_equirl.agents.ppo import PPO, PRESETS, default_config


def test_presets_apply_between_env_defaults_and_overrides():
  config = default_config("CartPole-v1", preset="purejaxrl_step")
  assert (config.learning_rate, config.adam_epsilon) == (2.5e-4, 1e-5)
  assert config.num_minibatches == 4 and config.total_steps == 500_000  # env defaults kept
  catch = default_config("Catch-v0", preset="large_step", num_epochs=8)
  assert catch.learning_rate == 2.5e-3 and catch.num_minibatches == 51 and catch.num_epochs == 8
  assert default_config("Catch-v0", preset="large_step", learning_rate=1e-3).learning_rate == 1e-3
  assert default_config("Catch-v0").learning_rate == 3.5e-4  # the thesis' default unchanged
  assert set(PRESETS) == {"purejaxrl_step", "large_step", "frequent_updates"}
  with pytest.raises(ValueError, match="Unknown PPO preset 'thesis'"):
    default_config("Catch-v0", preset="thesis")


def test_frequent_updates_preset_resolves_and_trains():
  config = default_config("Catch-v0", preset="frequent_updates", network="gcnn")
  assert (
    config.num_steps,
    config.num_minibatches,
    config.learning_rate,
    config.ent_coef,
    config.gae_lambda,
  ) == (64, 25, 1e-3, 0.0, 0.8)
  assert config.minibatch_size == 10 and config.num_iterations == 78  # 20,000 steps
  assert (config.num_envs, config.num_epochs, config.clip_eps) == (4, 4, 0.2)  # thesis' kept
  tiny = default_config(
    "Catch-v0",
    preset="frequent_updates",
    network="gcnn",
    total_steps=2 * 256,
    iterations_per_call=2,
  )
  result = PPO(tiny).train(seed=0)
  assert result.env_steps.tolist() == [256, 512]
  for name in ("policy_loss", "value_loss", "grad_norm"):
    assert np.all(np.isfinite(result.losses[name])), name
  assert np.all(np.isnan(result.losses["entropy"]))  # not reported without the bonus
