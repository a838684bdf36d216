"""PPO presets: named settings applied between the environment defaults and the overrides."""

import pytest

from tf_equirl.agents.ppo import PRESETS, default_config


def test_presets_apply_between_env_defaults_and_overrides():
  config = default_config("CartPole-v1", preset="purejaxrl_step")
  assert (config.learning_rate, config.adam_epsilon) == (2.5e-4, 1e-5)
  assert config.num_minibatches == 4 and config.total_steps == 500_000  # env defaults kept
  catch = default_config("Catch-v0", preset="large_step", num_epochs=8)
  assert catch.learning_rate == 2.5e-3 and catch.num_minibatches == 51 and catch.num_epochs == 8
  assert default_config("Catch-v0", preset="large_step", learning_rate=1e-3).learning_rate == 1e-3
  assert default_config("Catch-v0").learning_rate == 3.5e-4  # the thesis' default unchanged
  assert set(PRESETS) == {"purejaxrl_step", "large_step"}
  with pytest.raises(ValueError, match="Unknown PPO preset 'thesis'"):
    default_config("Catch-v0", preset="thesis")
