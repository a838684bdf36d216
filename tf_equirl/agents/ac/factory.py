"""`make_agent(config)`: the actor-critic agent of an `ACConfig`."""

from __future__ import annotations

import importlib
from typing import Any, Optional

from tf_equirl.agents.ac.config import ACConfig
from tf_equirl.agents.ac.learner import AC
from tf_equirl.agents.ac.sac import SAC

__all__ = ["make_agent"]

# The pixel agent's module, imported by name when a pixel agent is built: an actor-critic on
# states trains without it (nor the renderers and encoders it imports), and its code version
# leaves them out (`ACConfig.training_modules`, `tf_equirl.runs.code_version`).
_PIXEL_AGENT = "tf_equirl.agents.ac.pixels"


def make_agent(config: ACConfig, env: Optional[Any] = None) -> AC:
  """The agent for `config`: `PixelAC` (`tf_equirl.agents.ac.pixels`) when
  `config.observation == "pixels"`, `SAC` when `config.algorithm == "sac"`, else `AC`.

  Args:
    config: an `ACConfig`.
    env: optional environment, as `AC` and `PixelAC` take it.

  Returns:
    The built agent.

  Raises:
    ValueError: `config` is not an `ACConfig` (and what the agent raises for its config).
  """
  if not isinstance(config, ACConfig):
    raise ValueError(f"make_agent expects an ACConfig, received {type(config).__name__}.")
  if config.observation == "pixels":
    return importlib.import_module(_PIXEL_AGENT).PixelAC(config, env)
  return (SAC if config.algorithm == "sac" else AC)(config, env)
