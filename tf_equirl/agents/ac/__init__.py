"""Off-policy deterministic actor-critic for continuous actions (DrQ-v2's recipe on states) with
equivariant, relaxed or residual-pathway networks, one compiled graph per training call."""

from tf_equirl.agents.ac.config import ACConfig
from tf_equirl.agents.ac.learner import (
  AC,
  ACResult,
  actor_loss,
  augment_batch,
  critic_loss,
  noise_std,
)
from tf_equirl.agents.ac.pixels import PixelAC, make_agent
from tf_equirl.agents.ac.replay import NStepBatch, Replay, n_step_targets

__all__ = [
  "ACConfig",
  "AC",
  "PixelAC",
  "make_agent",
  "ACResult",
  "actor_loss",
  "critic_loss",
  "augment_batch",
  "noise_std",
  "NStepBatch",
  "Replay",
  "n_step_targets",
]
