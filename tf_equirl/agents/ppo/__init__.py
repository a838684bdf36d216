"""PPO with equivariant actor-critics on tf-agents' PPOClipAgent, one compiled graph per call."""

from tf_equirl.agents.ppo.config import PRESETS, PPOConfig, default_config
from tf_equirl.agents.ppo.learner import PPO, TrainResult, gae, make_agent

__all__ = ["PPOConfig", "default_config", "PRESETS", "PPO", "TrainResult", "gae", "make_agent"]
