"""Environments in TensorFlow ops (batched, XLA-compilable) with their symmetries.

* `CartPole` (gymnasium CartPole-v1) and `Catch` (bsuite) are tf-agents
  `TFEnvironment`s and also offer pure functions `pure_reset(seed_or_key)` and
  `pure_step(state, action)` for use inside `tf.while_loop` under
  `tf.function(jit_compile=True)`. See `tf_equirl.envs.base` for the conventions.
* `env.symmetry` is the `MDPSymmetry` each environment is built with.
* `make(name, batch_size, seed)` builds a registered environment;
  `make(name, observation="pixels", image_size=85, frame_stack=3)` observes it through RGB
  pictures drawn with tensor ops (the module `tf_equirl.envs.render`: `pixels`, `render`,
  `register_renderer`; it loads on first use, so that what trains on states imports none of
  the pixel side).
* `GridWorld` is a D4-symmetric grid world (goal and hazards on an odd-sized grid); its
  `symmetries` also name the subgroups "C4", "C2" and "trivial".
* `CatchEnv` is a gymnasium Catch registered as `tf_equirl/Catch-v0` on import
  (`GridWorldEnv` likewise as `tf_equirl/GridWorld-v0`), and
  `run_gymnasium_episodes` evaluates a policy on a gymnasium environment.
* Continuous actions (float `[B, k]` in `[-1, 1]`): `Pendulum` (gymnasium Pendulum-v1),
  `CartPoleSwingup`, `AcrobotSwingup` and `Reacher` (dm_control's tasks, D1 / D2
  symmetric, with symmetry-breaking variants), also as gymnasium environments
  `tf_equirl/<name>` (`ControlGymEnv`).
* dm_control's own MuJoCo tasks (`tf_equirl.envs.dmc`, the `dmc` extra):
  `make("dm_control/cartpole-swingup-v0")`, `acrobot-swingup`, `reacher-hard`,
  `ball_in_cup-catch`, with the same symmetries, variants and pixel observations, stepped
  by `tf.numpy_function` (graphs, not XLA).
"""

from tf_equirl.envs.base import BatchedEnvironment, EnvState, as_key
from tf_equirl.envs.cartpole import CartPole, cartpole_outcome, cartpole_physics, cartpole_symmetry
from tf_equirl.envs.catch import (
  Catch,
  catch_observation,
  catch_outcome,
  catch_physics,
  catch_state_from_observation,
  catch_symmetry,
)
from tf_equirl.envs.gym_catch import GYMNASIUM_ID as CATCH_GYMNASIUM_ID
from tf_equirl.envs.gym_catch import CatchEnv, register_gymnasium_envs
from tf_equirl.envs.gridworld import (
  GridWorld,
  gridworld_observation,
  gridworld_outcome,
  gridworld_physics,
  gridworld_state_from_observation,
  gridworld_symmetries,
  gridworld_symmetry,
)
from tf_equirl.envs.gym_gridworld import GYMNASIUM_ID as GRIDWORLD_GYMNASIUM_ID
from tf_equirl.envs.gym_gridworld import GridWorldEnv, register_gymnasium_gridworld
from tf_equirl.envs.gym_control import ControlGymEnv, register_gymnasium_control
from tf_equirl.envs.gymnasium_adapter import check_gymnasium_compatible, run_gymnasium_episodes
from tf_equirl.envs.acrobot_swingup import AcrobotSwingup, acrobot_swingup_symmetry
from tf_equirl.envs.cartpole_swingup import CartPoleSwingup, cartpole_swingup_symmetry
from tf_equirl.envs.pendulum import Pendulum, pendulum_symmetry
from tf_equirl.envs.reacher import Reacher, reacher_symmetry
from tf_equirl.envs.key_room import (
  KeyRoom,
  key_room_goal_observation,
  key_room_success,
  key_room_symmetry,
)
from tf_equirl.envs.registry import list_envs, make, register
from tf_equirl.envs.dmc import DMCEnvironment, dmc_available, register_dmc_envs

for _name, _factory in (
  ("CartPole-v1", CartPole),
  ("Catch-v0", Catch),
  ("GridWorld-v0", GridWorld),
  ("Pendulum-v1", Pendulum),
  ("CartPoleSwingup-v0", CartPoleSwingup),
  ("AcrobotSwingup-v0", AcrobotSwingup),
  ("Reacher-v0", Reacher),
  ("KeyRoom-v0", KeyRoom),
):
  if _name not in list_envs():
    register(_name, _factory)
register_dmc_envs()
register_gymnasium_envs()
register_gymnasium_gridworld()
register_gymnasium_control()

__all__ = [
  "BatchedEnvironment",
  "EnvState",
  "as_key",
  "CartPole",
  "cartpole_physics",
  "cartpole_outcome",
  "cartpole_symmetry",
  "Catch",
  "catch_physics",
  "catch_outcome",
  "catch_observation",
  "catch_state_from_observation",
  "catch_symmetry",
  "GridWorld",
  "gridworld_physics",
  "gridworld_outcome",
  "gridworld_observation",
  "gridworld_state_from_observation",
  "gridworld_symmetry",
  "gridworld_symmetries",
  "Pendulum",
  "pendulum_symmetry",
  "CartPoleSwingup",
  "cartpole_swingup_symmetry",
  "AcrobotSwingup",
  "acrobot_swingup_symmetry",
  "Reacher",
  "reacher_symmetry",
  "CatchEnv",
  "CATCH_GYMNASIUM_ID",
  "register_gymnasium_envs",
  "GridWorldEnv",
  "GRIDWORLD_GYMNASIUM_ID",
  "register_gymnasium_gridworld",
  "ControlGymEnv",
  "register_gymnasium_control",
  "run_gymnasium_episodes",
  "check_gymnasium_compatible",
  "make",
  "register",
  "KeyRoom",
  "key_room_goal_observation",
  "key_room_success",
  "key_room_symmetry",
  "list_envs",
  "pixels",
  "PixelEnvironment",
  "render",
  "register_renderer",
  "DMCEnvironment",
  "dmc_available",
  "register_dmc_envs",
]

# The pixel side loads on first use (`tf_equirl.agents.ac.ACConfig.training_modules`): `render`
# is the module `tf_equirl.envs.render`, the others are its functions and class.
_FROM_RENDER = ("pixels", "PixelEnvironment", "register_renderer")


def __getattr__(name):
  if name == "render" or name in _FROM_RENDER:
    import importlib  # pylint: disable=import-outside-toplevel

    module = importlib.import_module("tf_equirl.envs.render")
    return module if name == "render" else getattr(module, name)
  raise AttributeError(f"module 'tf_equirl.envs' has no attribute {name!r}")
