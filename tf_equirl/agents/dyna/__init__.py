"""Dyna with (equivariant) world models: Supervised-Dyna (thesis Alg. 6) and online Dyna (Alg. 2).

* `DynaConfig` / `default_dyna_config(env)`: the thesis' settings (4.7.1, 4.8, App. 5.2).
* `Dyna(config)`: the driver; acting, model learning and planning are each one compiled graph.
* `matched_ppo_config(config)`: the PPO baseline with Dyna's gradient updates per real step.
* `ModelEnvironment`, `ModelBuffer`: a world model as an environment, real transitions in a
  buffer the compiled phases read and write.
"""

from tf_equirl.agents.dyna.config import (
  MODEL_BUFFERS,
  LEARNED_WORLD_MODELS,
  MODES,
  ROLLOUT_STARTS,
  WORLD_MODELS,
  DynaConfig,
  default_dyna_config,
)
from tf_equirl.agents.dyna.learner import (
  Dyna,
  build_world_model,
  default_world_model_name,
  load_world_model,
)
from tf_equirl.agents.dyna.matched import MatchedPPO, dyna_gradient_updates, matched_ppo_config
from tf_equirl.agents.dyna.world import ModelBuffer, ModelEnvironment

__all__ = [
  "DynaConfig",
  "default_dyna_config",
  "MODES",
  "WORLD_MODELS",
  "LEARNED_WORLD_MODELS",
  "MODEL_BUFFERS",
  "ROLLOUT_STARTS",
  "Dyna",
  "build_world_model",
  "load_world_model",
  "default_world_model_name",
  "ModelBuffer",
  "ModelEnvironment",
  "MatchedPPO",
  "dyna_gradient_updates",
  "matched_ppo_config",
]
