"""PPO with equivariant actor-critics on tf-agents' PPOClipAgent, one compiled graph per call."""

from tf_equirl.agents.ppo.config import ENV_DEFAULTS, PRESETS, PPOConfig, default_config
from tf_equirl.agents.ppo.learner import PPO, TrainResult, gae, make_agent

__all__ = ["PPOConfig", "default_config", "ENV_DEFAULTS", "PRESETS", "PPO", "TrainResult",
           "gae", "make_agent"]
