"""Environment states drawn as small RGB images with tensor ops, and pixel observations.

A renderer is a function `draw(env, physics [B, ...], size) -> float32 [B, size, size, 3]`
in `[0, 1]`, written with broadcast tensor ops only (no Python loop over pixels or over the
batch), so it runs inside compiled training loops (`tf.function(jit_compile=True)`). Each is
registered for an environment name with the plane group through which the environment's
symmetry moves the picture (`tf_equirl.groups.plane`): `register_renderer("CartPole-v1",
render_cartpole, "D1")`. An environment with a renderer gets pixel observations with
`pixels(env, size, frame_stack)` or `make(name, observation="pixels")`.

Exactness. Every shape is drawn from the pixel's coordinates relative to the image centre,
`u = j - (size - 1) / 2` and `v = (size - 1) / 2 - i`, which are exact integers for an odd
size, through sign-symmetric float operations (differences, products, squares, `|.|`; sines
as `sign(t) sin(|t|)`). A mirrored state therefore gives bit for bit the mirrored picture:
`render(g s) == T_g render(s)` exactly, not to a tolerance, on any odd `size`.

For CartPole (D1): `s -> -s` is the mirror `x -> -x` of the picture. For Catch (D1): mirroring
the columns of the board is the mirror of the picture.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Optional

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tf_equirl.envs.base import BatchedEnvironment, EnvState
from tf_equirl.envs.cartpole import LENGTH, X_THRESHOLD
from tf_equirl.groups import MDPSymmetry, PlaneAction
from tf_equirl.groups.plane import plane_group, plane_group_name

__all__ = [
  "Renderer",
  "register_renderer",
  "renderer_for",
  "render",
  "render_cartpole",
  "render_catch",
  "PixelEnvironment",
  "pixels",
]

DrawFn = Callable[[BatchedEnvironment, tf.Tensor, int], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class Renderer:
  """How to draw an environment's states.

  Attributes:
    draw: `(env, physics [B, ...], size) -> float32 [B, size, size, 3]` in `[0, 1]`.
    plane_group: the plane group ("D1", "D2", "C4", ...) whose element `g` moves the picture
      of a state as the environment's symmetry element `g` moves the state: the two groups
      have the same Cayley table, element for element.
  """

  draw: DrawFn
  plane_group: str


_RENDERERS: Dict[str, Renderer] = {}


def register_renderer(env_name: str, draw: DrawFn, plane_group: str, overwrite: bool = False):
  """Registers `draw` for environments named `env_name` (their `env.name`).

  Raises:
    ValueError: for a non-callable `draw`, an unknown plane group, or a name already taken
      (unless `overwrite`).
  """
  if not callable(draw):
    raise ValueError(f"register_renderer: draw must be callable, received {draw!r}.")
  plane = plane_group_name(plane_group, "plane_group")
  if env_name in _RENDERERS and not overwrite:
    raise ValueError(
      f"A renderer for {env_name!r} is already registered; pass overwrite=True to replace it."
    )
  _RENDERERS[env_name] = Renderer(draw, plane)


def renderer_for(env: BatchedEnvironment) -> Renderer:
  """The renderer registered for `env.name`.

  Raises:
    ValueError: if there is none (the message lists the environments that have one).
  """
  if env.name not in _RENDERERS:
    raise ValueError(
      f"No renderer for environment {env.name!r}; environments with one: "
      f"{sorted(_RENDERERS)}. Add one with tf_equirl.envs.render.register_renderer."
    )
  return _RENDERERS[env.name]


def render(env: BatchedEnvironment, physics: Any, size: int = 85) -> tf.Tensor:
  """`float32 [B, size, size, 3]`: the physics states `[B, ...]` of `env` drawn in RGB."""
  return renderer_for(env).draw(env, tf.convert_to_tensor(physics), _check_size(size, "render"))


def _check_size(size: Any, where: str) -> int:
  if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 3 or size % 2 == 0:
    raise ValueError(
      f"{where}: expected an odd image size >= 3 (the picture turns about its centre pixel), "
      f"received size={size!r}."
    )
  return int(size)


def _centred_grid(size: int):
  """`(u, v)` float32 `[1, size, size]`: pixel centres relative to the image centre, `u` to
  the right and `v` up, exact integers."""
  half = (size - 1) // 2
  coords = np.arange(size, dtype=np.float32) - half
  u = np.broadcast_to(coords[None, :], (size, size))
  v = np.broadcast_to(-coords[:, None], (size, size))
  return tf.constant(u[None]), tf.constant(v[None])


def _paint(image: tf.Tensor, mask: tf.Tensor, colour) -> tf.Tensor:
  """`image [B, S, S, 3]` with `colour` where `mask [B, S, S]` holds."""
  return tf.where(mask[..., None], tf.constant(colour, tf.float32), image)


def _odd_sin_cos(angle: tf.Tensor):
  """`sin` and `cos` with `sin(-t) == -sin(t)` and `cos(-t) == cos(t)` exactly."""
  magnitude = tf.abs(angle)
  return tf.sign(angle) * tf.sin(magnitude), tf.cos(magnitude)


# CartPole's picture, in world units (gymnasium's screen shows 2 * X_THRESHOLD across).
_CART_HALF_WIDTH = 0.25
_CART_HALF_HEIGHT = 0.15
_CART_Y = -0.5
_POLE_HALF_THICKNESS = 0.05
_TRACK, _CART, _POLE = (0.5, 0.5, 0.5), (0.2, 0.4, 0.9), (0.9, 0.6, 0.2)


def render_cartpole(env: Optional[BatchedEnvironment], physics: tf.Tensor, size: int) -> tf.Tensor:
  """CartPole states `[B, 4]` drawn as `[B, size, size, 3]`: a track, the cart at `x` and the
  pole at angle `theta` from the vertical (length `2 * LENGTH`), `2 * X_THRESHOLD` across.

  The mirror `s -> -s` of the state is exactly the left-right mirror of the picture.
  """
  del env
  scale = size / (2.0 * X_THRESHOLD)  # pixels per world unit
  u, v = _centred_grid(size)
  physics = tf.cast(physics, tf.float32)
  cart_x = physics[:, 0, None, None] * scale
  sin, cos = _odd_sin_cos(physics[:, 2, None, None])
  du = u - cart_x
  cart_y = _CART_Y * scale
  track = tf.abs(v - (cart_y - _CART_HALF_HEIGHT * scale)) <= 0.5
  cart = tf.logical_and(
    tf.abs(du) <= _CART_HALF_WIDTH * scale, tf.abs(v - cart_y) <= _CART_HALF_HEIGHT * scale
  )
  # Distance from the pixel to the pole, a segment from the pivot along (sin, cos).
  dv = v - (cart_y + _CART_HALF_HEIGHT * scale)
  along = tf.clip_by_value(du * sin + dv * cos, 0.0, 2.0 * LENGTH * scale)
  off_u, off_v = du - along * sin, dv - along * cos
  radius = max(_POLE_HALF_THICKNESS * scale, 0.5)
  pole = off_u * off_u + off_v * off_v <= radius * radius
  image = tf.zeros(tf.concat([tf.shape(physics)[:1], [size, size, 3]], 0), tf.float32)
  image = _paint(image, tf.broadcast_to(track, tf.shape(cart)), _TRACK)
  image = _paint(image, cart, _CART)
  return _paint(image, pole, _POLE)


_BALL, _PADDLE = (1.0, 0.2, 0.2), (0.2, 1.0, 0.2)


def render_catch(env: BatchedEnvironment, physics: tf.Tensor, size: int) -> tf.Tensor:
  """Catch states `[B, 3]` (`ball_row, ball_col, paddle_col`) drawn as `[B, size, size, 3]`:
  the board (`env.rows x env.columns` cells) centred in the square, the ball a red disc, the
  paddle a green bar on the last row. Mirroring the columns mirrors the picture exactly."""
  rows, columns = env.rows, env.columns
  cell = size / max(rows, columns)  # pixels per cell
  u, v = _centred_grid(size)
  ball_row, ball_col, paddle = [
    tf.cast(t, tf.float32)[:, None, None] for t in tf.unstack(physics, num=3, axis=-1)
  ]
  mid_col, mid_row = (columns - 1) / 2.0, (rows - 1) / 2.0  # halves: exact in float32
  du = u - (ball_col - mid_col) * cell
  dv = v - (mid_row - ball_row) * cell
  radius = max(0.4 * cell, 0.75)
  ball = du * du + dv * dv <= radius * radius
  paddle_row = tf.abs(v - (mid_row - (rows - 1)) * cell) <= max(0.25 * cell, 0.5)
  paddle_cols = tf.abs(u - (paddle - mid_col) * cell) <= max(0.5 * cell, 0.5)
  image = tf.zeros(tf.concat([tf.shape(physics)[:1], [size, size, 3]], 0), tf.float32)
  image = _paint(image, tf.logical_and(paddle_row, paddle_cols), _PADDLE)
  return _paint(image, ball, _BALL)


register_renderer("CartPole-v1", render_cartpole, "D1")
register_renderer("Catch", render_catch, "D1")


class PixelEnvironment(BatchedEnvironment):
  """An environment observed through pictures of its last `frame_stack` states.

  The physics state is the history of the wrapped environment's states, `[B, frame_stack,
  ...]` (oldest first; a reset fills it with copies of the first state), and the observation
  draws each of them with the environment's renderer and stacks the pictures on the channel
  axis: float32 `[B, size, size, 3 * frame_stack]`, channels `(frame, rgb)` with the oldest
  frame first. Rewards, terminations, time limits, actions and the random resets are the
  wrapped environment's, step for step.

  `symmetry` has the wrapped environment's group and action representation, and as state
  representation the `PlaneAction` of its renderer's plane group on `[size, size, 3 *
  frame_stack]` images: the permutation of the pixels that mirrors (or turns) the picture,
  the same for every channel. `PlaneAction.transform` applies it to images and to flattened
  observations alike, with no `[d, d]` matrix.

  Args:
    env: the `BatchedEnvironment` to observe; it needs a renderer (`register_renderer`).
    size: odd side of the pictures (default 85, as the pixel agents of Park et al. 2025).
    frame_stack: number of consecutive pictures in an observation (default 3).

  Raises:
    ValueError: for an environment without a renderer, an even size, a non-positive
      `frame_stack`, or a renderer whose plane group is not the environment's group.
  """

  def __init__(self, env: BatchedEnvironment, size: int = 85, frame_stack: int = 3):
    if not isinstance(env, BatchedEnvironment):
      raise ValueError(f"pixels expects a BatchedEnvironment, received {type(env).__name__}.")
    self._inner = env
    self._renderer = renderer_for(env)
    self._size = _check_size(size, "pixels")
    if (
      isinstance(frame_stack, bool)
      or not isinstance(frame_stack, (int, np.integer))
      or frame_stack < 1
    ):
      raise ValueError(
        f"pixels: expected a positive integer frame_stack, received frame_stack={frame_stack!r}."
      )
    self._frames = int(frame_stack)
    group = env.symmetry.group
    if not np.array_equal(plane_group(self._renderer.plane_group).table, group.table):
      raise ValueError(
        f"The renderer of {env.name!r} moves pictures by {self._renderer.plane_group}, whose "
        f"Cayley table is not that of the environment's group {group.name}."
      )
    spec = tensor_spec.BoundedTensorSpec(
      [self._size, self._size, 3 * self._frames], tf.float32, 0.0, 1.0, name="observation"
    )
    super().__init__(
      name=f"{env.name}/pixels",
      observation_spec=spec,
      num_actions=env.num_actions,
      physics=self._stack_physics,
      outcome=self._stack_outcome,
      max_episode_steps=env.max_episode_steps,
      batch_size=env.batch_size,
      seed=env.state.key,
    )

  @property
  def inner(self) -> BatchedEnvironment:
    """The wrapped environment."""
    return self._inner

  @property
  def size(self) -> int:
    return self._size

  @property
  def frame_stack(self) -> int:
    return self._frames

  @property
  def symmetry(self) -> MDPSymmetry:
    inner = self._inner.symmetry
    action = PlaneAction(self._renderer.plane_group, size=self._size, channels=3 * self._frames)
    return MDPSymmetry(
      inner.group, action, inner.action_rep, continuous_actions=inner.continuous_actions
    )

  @property
  def symmetries(self) -> Dict[str, Any]:
    """Only the full symmetry: restricting a `PlaneAction` to a subgroup is not offered."""
    return {self.symmetry.group.name: self.symmetry}

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(physics)
    batch, size, frames = shape[0], self._size, self._frames
    flat = tf.reshape(physics, tf.concat([[-1], shape[2:]], 0))  # [B * frames, ...]
    pictures = self._renderer.draw(self._inner, flat, size)
    pictures = tf.reshape(pictures, [batch, frames, size, size, 3])
    pictures = tf.transpose(pictures, [0, 2, 3, 1, 4])
    return tf.reshape(pictures, [batch, size, size, 3 * frames])

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    first = self._inner._initial_physics(key, batch_size)  # pylint: disable=protected-access
    return tf.repeat(first[:, None], self._frames, axis=1)

  def _push(self, stack: tf.Tensor, latest: tf.Tensor) -> tf.Tensor:
    return tf.concat([stack[:, 1:], latest[:, None]], axis=1)

  def _stack_physics(self, stack: tf.Tensor, action: tf.Tensor) -> tf.Tensor:
    return self._push(stack, self._inner.physics(stack[:, -1], action))

  def _stack_outcome(self, stack: tf.Tensor, action: tf.Tensor, next_stack: tf.Tensor):
    return self._inner.outcome(stack[:, -1], action, next_stack[:, -1])

  def _step_physics(self, state: EnvState, action: tf.Tensor) -> tf.Tensor:
    # The wrapped environment's own step, so that its random dynamics (breaking variants) see
    # the same key.
    latest = self._inner._step_physics(  # pylint: disable=protected-access
      state._replace(physics=state.physics[:, -1]), action
    )
    return self._push(state.physics, latest)

  def with_dynamics(self, physics=None, outcome=None) -> "PixelEnvironment":
    """The same pictures of `env.with_dynamics(physics, outcome)`: the replacements act on the
    wrapped environment's states, not on the history."""
    return PixelEnvironment(self._inner.with_dynamics(physics, outcome), self._size, self._frames)


def pixels(env: BatchedEnvironment, size: int = 85, frame_stack: int = 3) -> PixelEnvironment:
  """`env` observed through `size x size` RGB pictures of its last `frame_stack` states; see
  `PixelEnvironment`."""
  return PixelEnvironment(env, size, frame_stack)
