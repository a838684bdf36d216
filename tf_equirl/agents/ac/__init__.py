"""Off-policy actor-critics for continuous actions with equivariant, relaxed or residual-pathway
networks, one compiled graph per training call: the deterministic actor of DrQ-v2's recipe
(`AC`, on states; `PixelAC` on pictures) and soft actor-critic (`SAC`) in the same loop."""

from tf_equirl.agents.ac.config import ACConfig
from tf_equirl.agents.ac.learner import (
  AC,
  ACResult,
  actor_loss,
  augment_batch,
  critic_loss,
  noise_std,
)
from tf_equirl.agents.ac.factory import make_agent
from tf_equirl.agents.ac.replay import NStepBatch, Replay, n_step_targets
from tf_equirl.agents.ac.sac import (
  SAC,
  sac_actor_loss,
  sac_critic_loss,
  squashed_sample,
  temperature_loss,
)

__all__ = [
  "ACConfig",
  "AC",
  "PixelAC",
  "SAC",
  "make_agent",
  "ACResult",
  "actor_loss",
  "critic_loss",
  "augment_batch",
  "noise_std",
  "NStepBatch",
  "Replay",
  "n_step_targets",
  "sac_actor_loss",
  "sac_critic_loss",
  "squashed_sample",
  "temperature_loss",
]


def __getattr__(name):
  # The pixel agent loads on first use: an actor-critic on states trains without its modules
  # (`ACConfig.training_modules`).
  if name == "PixelAC":
    import importlib  # pylint: disable=import-outside-toplevel

    return importlib.import_module("tf_equirl.agents.ac.pixels").PixelAC
  raise AttributeError(f"module 'tf_equirl.agents.ac' has no attribute {name!r}")
