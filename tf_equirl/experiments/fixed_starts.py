"""Where an exactly equivariant actor cannot move: observations that a group element leaves
unchanged.

If `g s = s` for an element `g` whose action representation `rho(g)` fixes only the zero
action (`rho(g) - I` invertible: the mirror, which negates the action, is one), an actor
equivariant under `g` has `mu(s) = mu(g s) = rho(g) mu(s)`, so its mean action `mu(s)` is 0
whatever its weights. On state vectors such states are rare (the reset noise is continuous);
on pictures they are not: the renderers paint whole pixels, so a start state that the reset
noise moves by less than a pixel from a mirror-symmetric one is drawn as its own mirror
image. An agent that evaluates its mean action from there does not move until the state's
drift shows in the picture.

* `forcing_elements`: the elements whose action representation fixes only 0.
* `fixed_observations`: which observations of a batch are their own image under one of them.
* `fixed_starts`: the share of an environment's start observations (as an agent sees them)
  that are, and for how many env steps the zero action keeps them so (`FixedStarts`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf

from tf_equirl import checks, envs
from tf_equirl.groups import MDPSymmetry

__all__ = [
  "STALLED_RETURNS",
  "FixedStarts",
  "forcing_elements",
  "fixed_observations",
  "fixed_starts",
]


# Returns under which an episode of a swing-up never raised what it swings: the smooth reward
# is about 0 while the pole hangs, and 1 per step upright (1,000 steps an episode).
STALLED_RETURNS: Dict[str, float] = {"CartPoleSwingup-v0": 10.0}


@dataclasses.dataclass
class FixedStarts:
  """Where an exactly equivariant actor cannot move: observations `s` with `g s = s` for an
  element `g` whose action representation fixes only the zero action. There
  `mu(s) = mu(g s) = rho(g) mu(s)` forces the mean action `mu(s)` to 0, whatever the weights.

  Attributes:
    env: the environment's name (a variant's included).
    observation: "state" or "pixels" (with `image_size` and `frame_stack`).
    image_size: side of the pictures (0 on states).
    frame_stack: pictures per observation (0 on states).
    action_repeat: env steps per agent step (the pictures are that far apart).
    max_steps: env steps of an episode; a start that stays fixed throughout counts this.
    fixed: `[episodes]` bool, whether the start observation is such a fixed point.
    steps_fixed: `[episodes]` int, env steps for which the observation the agent acts in
      stays such a fixed point when every action is 0 (0 where the start is not one;
      `max_steps` where it never leaves).
  """

  env: str
  observation: str
  image_size: int
  frame_stack: int
  action_repeat: int
  max_steps: int
  fixed: np.ndarray
  steps_fixed: np.ndarray

  @property
  def fraction_fixed(self) -> float:
    """The share of episodes that start on such a fixed point."""
    return float(np.mean(self.fixed))

  @property
  def fraction_stuck(self) -> float:
    """The share of episodes whose observation stays such a fixed point for the whole
    episode under the zero action."""
    return float(np.mean(self.steps_fixed >= self.max_steps))


def forcing_elements(symmetry: MDPSymmetry) -> List[int]:
  """The non-identity elements `g` whose action representation fixes only the zero action
  (`rho(g) - I` invertible): at an observation `g` leaves unchanged, an actor equivariant
  under `g` has mean action 0."""
  out = []
  for g in range(symmetry.group.order):
    m = np.asarray(symmetry.action_rep.matrices[g], np.float64)
    if g != symmetry.group.identity and np.linalg.matrix_rank(m - np.eye(len(m))) == len(m):
      out.append(g)
  return out


def _transform(symmetry: MDPSymmetry, obs: tf.Tensor, g: int) -> tf.Tensor:
  if hasattr(symmetry.state_rep, "transform"):  # a PlaneAction: pictures, no matrices
    return symmetry.state_rep.transform(obs, g)
  return tf.linalg.matvec(tf.constant(symmetry.state_rep.matrices[g], obs.dtype), obs)


def fixed_observations(symmetry: MDPSymmetry, observations: Any) -> tf.Tensor:
  """bool `[B]`: whether each observation (state vectors `[B, d]` or pictures `[B, H, W, C]`)
  equals exactly its image under one of `forcing_elements(symmetry)`."""
  obs = tf.cast(tf.convert_to_tensor(observations), tf.float32)
  axes = list(range(1, obs.shape.rank))
  same = [
    tf.reduce_all(tf.equal(_transform(symmetry, obs, g), obs), axis=axes)
    for g in forcing_elements(symmetry)
  ]
  if not same:
    return tf.zeros(tf.shape(obs)[:1], tf.bool)
  return tf.reduce_any(tf.stack(same), axis=0)


def _start_key(seed: int) -> tf.Tensor:
  """The reset key of `fixed_starts`' episodes."""
  return tf.constant([int(seed), 0xF1ED], tf.int64)


def fixed_starts(
  env_name: str,
  episodes: int = 512,
  observation: str = "pixels",
  image_size: int = 53,
  frame_stack: int = 3,
  action_repeat: int = 2,
  max_steps: Optional[int] = None,
  seed: int = 0,
) -> FixedStarts:
  """Resets `episodes` episodes of `env_name` as an agent sees them (pictures of
  `image_size` with `frame_stack` frames `action_repeat` env steps apart, or states), and
  holds the action at 0 until each observation the agent acts in stops being a fixed point
  of an element that forces the action to 0 (`FixedStarts`), or `max_steps` env steps
  (default: the episode's length) have passed. A picture is a fixed point when it equals
  its transformed picture exactly: the renderer paints whole pixels, so the reset noise
  may move nothing by a pixel.

  Raises:
    ValueError: a non-positive `episodes`, `action_repeat` or `max_steps`, an unknown
      `observation` or environment (from `envs.make`), or an environment without a group
      element that forces the action to 0 (none can stall an equivariant actor).
  """
  checks.positive_int("fixed_starts", "episodes", episodes)
  checks.positive_int("fixed_starts", "action_repeat", action_repeat)
  if observation not in ("state", "pixels"):
    raise ValueError(
      f"fixed_starts: observation must be 'state' or 'pixels', received {observation!r}."
    )
  pixels = observation == "pixels"
  options: Dict[str, Any] = (
    dict(
      observation="pixels",
      image_size=image_size,
      frame_stack=frame_stack,
      frame_spacing=action_repeat,
    )
    if pixels
    else {}
  )
  env = envs.make(env_name, batch_size=int(episodes), **options)
  if max_steps is None:
    max_steps = env.max_episode_steps
    if max_steps is None:
      raise ValueError(f"fixed_starts: {env_name} has no episode length; give max_steps.")
  checks.positive_int("fixed_starts", "max_steps", max_steps)
  symmetry = env.symmetry
  if not forcing_elements(symmetry):
    raise ValueError(
      f"fixed_starts: no element of {env_name}'s group {symmetry.group.name} fixes only the "
      "zero action, so no observation forces an equivariant actor's action to 0."
    )
  repeat, agent_steps = int(action_repeat), -(-int(max_steps) // int(action_repeat))
  zero = tf.zeros([int(episodes), symmetry.action_dim], tf.float32)

  def rollout(key):
    # One compiled loop over the agent steps: `still` holds while every observation so far
    # was fixed; `count` is how many were.
    state, time_step = env.pure_reset(key)
    fixed = fixed_observations(symmetry, time_step.observation)

    def body(t, state, still, count):
      count += tf.cast(still, tf.int32)
      for _ in range(repeat):
        state, time_step = env.pure_step(state, zero)
      return (
        t + 1,
        state,
        tf.logical_and(still, fixed_observations(symmetry, time_step.observation)),
        count,
      )

    def going(t, state, still, count):
      del state, count
      return tf.logical_and(t < agent_steps, tf.reduce_any(still))

    count = tf.zeros([int(episodes)], tf.int32)
    _, _, _, count = tf.while_loop(going, body, (tf.constant(0), state, fixed, count))
    return fixed, count

  compiled = tf.function(rollout, jit_compile=env.compiles_with_xla, autograph=False)
  fixed, count = compiled(_start_key(seed))
  fixed = fixed.numpy()
  steps_fixed = np.minimum(count.numpy().astype(np.int64) * repeat, int(max_steps))
  return FixedStarts(
    env=env_name,
    observation=observation,
    image_size=int(image_size) if pixels else 0,
    frame_stack=int(frame_stack) if pixels else 0,
    action_repeat=int(action_repeat),
    max_steps=int(max_steps),
    fixed=fixed,
    steps_fixed=steps_fixed,
  )
