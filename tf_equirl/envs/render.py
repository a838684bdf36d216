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
the columns of the board is the mirror of the picture. The continuous-control tasks:

| environment | plane group | environment element -> plane element |
|---|---|---|
| Pendulum-v1 | D1 | 1 (`theta -> -theta`) -> 1, the mirror `u -> -u` |
| CartPoleSwingup-v0 | D1 | 1 (`x -> -x`) -> 1, the mirror |
| AcrobotSwingup-v0 | D1 | 1 (`x -> -x`) -> 1, the mirror |
| Reacher-v0 | D2 | 1 (half turn) -> 1 (`r`, the half turn) |
| | | 2 (flip `y -> -y`) -> 3 (`r s`, rows reversed) |
| | | 3 (flip `x -> -x`) -> 2 (`s`, columns reversed) |

Reacher is seen from above with the world's `x` to the right and `y` up, so its flip `y ->
-y` is the plane's `r s` (mirror the columns, then turn by a half turn) and its flip `x ->
-x` the plane's `s`: the renderer is registered with `elements=(0, 1, 3, 2)`, and the pixel
environment's `PlaneAction` applies `T_{elements[g]}` for the environment's element `g`.

Reacher's half turn adds a rounded `pi` to `theta1`, so `sin` and `cos` of the turned angle
are not bit for bit the negated ones. Its renderer therefore reads the joint angles to the
nearest half degree (`ANGLE_STEPS = 720` per turn) and looks `sin` and `cos` up in tables
built with the exact symmetries `t[k + 360] = -t[k]`, `sin[-k] = -sin[k]`, `cos[-k] =
cos[k]`: the picture of the turned state is the turned picture bit for bit unless `theta1`
lies within about `1e-6` rad of a half-degree rounding boundary (where the two roundings
can disagree by one step, 0.5 degrees).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tf_equirl import checks
from tf_equirl.envs.base import BatchedEnvironment, EnvState
from tf_equirl.envs.acrobot_swingup import LINK_LENGTH as ACROBOT_LINK_LENGTH
from tf_equirl.envs.acrobot_swingup import TARGET_HEIGHT as ACROBOT_TARGET_HEIGHT
from tf_equirl.envs.acrobot_swingup import TARGET_RADIUS as ACROBOT_TARGET_RADIUS
from tf_equirl.envs.cartpole import LENGTH, X_THRESHOLD
from tf_equirl.envs.cartpole_swingup import HALF_LENGTH as SWINGUP_HALF_LENGTH
from tf_equirl.envs.cartpole_swingup import SLIDER_RANGE
from tf_equirl.envs.dmc import DMC_TASKS, render_dmc
from tf_equirl.envs.pendulum import LENGTH as PENDULUM_LENGTH
from tf_equirl.envs.reacher import ARM_LENGTH as REACHER_ARM_LENGTH
from tf_equirl.envs.reacher import FINGER_DISTANCE as REACHER_FINGER_DISTANCE
from tf_equirl.envs.reacher import RADIUS as REACHER_RADIUS
from tf_equirl.envs.reacher import TARGET_SIZE as REACHER_TARGET_SIZE
from tf_equirl.groups import MDPSymmetry, PlaneAction
from tf_equirl.groups.plane import plane_group, plane_group_name

__all__ = [
  "Renderer",
  "register_renderer",
  "renderer_for",
  "render",
  "render_cartpole",
  "render_catch",
  "render_pendulum",
  "render_cartpole_swingup",
  "render_acrobot_swingup",
  "render_reacher",
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
      have the same Cayley table.
    elements: the plane-group element that moves the picture as each element of the
      environment's symmetry moves the state (an automorphism of the table); None for the
      identity (element `g` of the environment is element `g` of the plane group).
  """

  draw: DrawFn
  plane_group: str
  elements: Optional[Tuple[int, ...]] = None


_RENDERERS: Dict[str, Renderer] = {}


def register_renderer(
  env_name: str,
  draw: DrawFn,
  plane_group: str,
  overwrite: bool = False,
  elements: Optional[Sequence[int]] = None,
):
  """Registers `draw` for environments named `env_name` (their `env.name`).

  Args:
    env_name: the environment's `name`.
    draw: `(env, physics [B, ...], size) -> float32 [B, size, size, 3]`.
    plane_group: the plane group that moves the pictures ("D1", "D2", ...).
    overwrite: replace a renderer already registered for `env_name`.
    elements: the plane-group element for each element of the environment's symmetry group
      (`Renderer.elements`); default None, the identity.

  Raises:
    ValueError: for a non-callable `draw`, an unknown plane group, `elements` that are not
      an automorphism of its Cayley table, or a name already taken (unless `overwrite`).
  """
  if not callable(draw):
    raise ValueError(f"register_renderer: draw must be callable, received {draw!r}.")
  plane = plane_group_name(plane_group, "plane_group")
  if env_name in _RENDERERS and not overwrite:
    raise ValueError(
      f"A renderer for {env_name!r} is already registered; pass overwrite=True to replace it."
    )
  if elements is not None:
    elements = PlaneAction(plane, elements=elements).elements
  _RENDERERS[env_name] = Renderer(draw, plane, elements)


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


def _column(physics: tf.Tensor, index: int) -> tf.Tensor:
  """Column `index` of `physics [B, K]` as `[B, 1, 1]`, to broadcast against the pixel grid.

  Sliced, then reshaped: one strided slice that also adds axes (`physics[:, i, None, None]`)
  loses them in a TensorFlow graph when `physics` is a `tf.stack` of the same graph, since
  Grappler replaces the slice of a stack by the stacked tensor (TensorFlow 2.15)."""
  return tf.reshape(physics[:, index], [-1, 1, 1])


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
  cart_x = _column(physics, 0) * scale
  sin, cos = _odd_sin_cos(_column(physics, 2))
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


def _segment(du, dv, direction_u, direction_v, length: float, radius: float) -> tf.Tensor:
  """Pixels within `radius` of the segment from the origin of `(du, dv)` (pixel offsets) along
  the unit vector `(direction_u, direction_v)` for `length` pixels. Sign-symmetric: negating
  `du` with `direction_u` (or `dv` with `direction_v`) gives exactly the same mask."""
  along = tf.clip_by_value(du * direction_u + dv * direction_v, 0.0, length)
  off_u, off_v = du - along * direction_u, dv - along * direction_v
  return off_u * off_u + off_v * off_v <= radius * radius


def _disc(du, dv, radius: float) -> tf.Tensor:
  return du * du + dv * dv <= radius * radius


def _blank(physics: tf.Tensor, size: int) -> tf.Tensor:
  return tf.zeros(tf.concat([tf.shape(physics)[:1], [size, size, 3]], 0), tf.float32)


_ROD, _PIVOT, _TARGET = (0.8, 0.3, 0.3), (0.6, 0.6, 0.6), (0.9, 0.2, 0.2)
_PENDULUM_SPAN = 2.4  # world units across the picture: the rod (length 1) and a margin


def render_pendulum(env: Optional[BatchedEnvironment], physics: tf.Tensor, size: int) -> tf.Tensor:
  """Pendulum states `[B, 2]` (`theta, theta_dot`) drawn as `[B, size, size, 3]`: a rod of
  length `pendulum.LENGTH` from the centre, upright at `theta = 0` and turned
  counter-clockwise by `theta` (as gymnasium draws it), and the pivot.

  The mirror `theta -> -theta` of the state is exactly the left-right mirror of the picture.
  """
  del env
  scale = size / _PENDULUM_SPAN
  u, v = _centred_grid(size)
  physics = tf.cast(physics, tf.float32)
  sin, cos = _odd_sin_cos(_column(physics, 0))
  rod = _segment(u, v, -sin, cos, PENDULUM_LENGTH * scale, max(0.1 * scale, 0.5))
  image = _paint(_blank(physics, size), rod, _ROD)
  return _paint(image, tf.broadcast_to(_disc(u, v, max(0.05 * scale, 0.5)), tf.shape(rod)), _PIVOT)


# The cart's whole range and the pole (length 1) on either side of it, with a margin.
_SWINGUP_SPAN = 2.0 * (SLIDER_RANGE + 2 * SWINGUP_HALF_LENGTH) + 0.2


def render_cartpole_swingup(
  env: Optional[BatchedEnvironment], physics: tf.Tensor, size: int
) -> tf.Tensor:
  """CartPoleSwingup states `[B, 4]` (`x, theta, x_dot, theta_dot`) drawn as `[B, size, size,
  3]`: the track, the cart at `x` (the centre of the picture is `x = 0`) and the pole of
  length 1 from the cart, upright at `theta = 0` and tipped towards `+x` for positive
  `theta`; the slider's whole range and the hanging or upright pole fit in the picture.

  The mirror `s -> -s` of the state is exactly the left-right mirror of the picture.
  """
  del env
  scale = size / _SWINGUP_SPAN
  u, v = _centred_grid(size)
  physics = tf.cast(physics, tf.float32)
  du = u - _column(physics, 0) * scale
  sin, cos = _odd_sin_cos(_column(physics, 1))
  track = tf.abs(v + _CART_HALF_HEIGHT * scale) <= 0.5
  cart = tf.logical_and(tf.abs(du) <= 0.2 * scale, tf.abs(v) <= max(0.1 * scale, 0.5))
  pole = _segment(du, v, sin, cos, 2 * SWINGUP_HALF_LENGTH * scale, max(0.045 * scale, 0.5))
  image = _paint(_blank(physics, size), tf.broadcast_to(track, tf.shape(cart)), _TRACK)
  image = _paint(image, cart, _CART)
  return _paint(image, pole, _POLE)


_ACROBOT_SPAN = 2.0 * (2 * ACROBOT_LINK_LENGTH + 0.3)  # both links, upright or hanging


def render_acrobot_swingup(
  env: Optional[BatchedEnvironment], physics: tf.Tensor, size: int
) -> tf.Tensor:
  """AcrobotSwingup states `[B, 4]` (`theta1, theta2, theta1_dot, theta2_dot`) drawn as `[B,
  size, size, 3]`: the shoulder at the centre, the upper link at `theta1` from upright and
  the lower at `theta1 + theta2` (positive angles towards `+x`), and the target disc
  `TARGET_HEIGHT` above the shoulder.

  The mirror `s -> -s` of the state is exactly the left-right mirror of the picture.
  """
  del env
  scale = size / _ACROBOT_SPAN
  u, v = _centred_grid(size)
  physics = tf.cast(physics, tf.float32)
  theta1 = _column(physics, 0)
  sin1, cos1 = _odd_sin_cos(theta1)
  sin12, cos12 = _odd_sin_cos(theta1 + _column(physics, 1))
  length, radius = ACROBOT_LINK_LENGTH * scale, max(0.05 * scale, 0.5)
  upper = _segment(u, v, sin1, cos1, length, radius)
  lower = _segment(u - length * sin1, v - length * cos1, sin12, cos12, length, radius)
  target = _disc(u, v - ACROBOT_TARGET_HEIGHT * scale, max(ACROBOT_TARGET_RADIUS * scale, 0.75))
  image = _paint(_blank(physics, size), tf.broadcast_to(target, tf.shape(upper)), _TARGET)
  image = _paint(image, upper, _POLE)
  return _paint(image, lower, _CART)


ANGLE_STEPS = 720  # Reacher's renderer reads angles to the nearest half degree


def _angle_tables(steps: int):
  """`(sin, cos)` float32 `[steps]` of `2 pi k / steps`, with `t[k + steps / 2] = -t[k]`,
  `sin[-k] = -sin[k]` and `cos[-k] = cos[k]` exactly (built from the first quadrant)."""
  quarter = steps // 4
  first = np.sin(2 * np.pi * np.arange(quarter + 1) / steps).astype(np.float32)  # [0, pi/2]
  first[quarter] = 1.0
  k = np.arange(steps)
  half = k % (steps // 2)  # the angle less a half turn, if more than one
  sign = np.where(k < steps // 2, 1.0, -1.0)
  rising = half <= quarter
  falling = first[np.clip(steps // 2 - half, 0, quarter)]  # sin(pi - t) = sin(t)
  sin = np.where(rising, first[np.minimum(half, quarter)], falling)
  cos = np.where(
    rising, first[quarter - np.minimum(half, quarter)], -first[np.clip(half - quarter, 0, quarter)]
  )
  sin, cos = sign * sin, sign * cos
  return sin.astype(np.float32), cos.astype(np.float32)


def _angle_index(theta: tf.Tensor) -> tf.Tensor:
  """The angle in steps of `2 pi / ANGLE_STEPS`, rounded half to even (so that `-theta` gives
  exactly minus the index), int32."""
  steps = tf.round(tf.cast(theta, tf.float64) * (ANGLE_STEPS / (2 * np.pi)))
  return tf.cast(tf.math.floormod(steps, ANGLE_STEPS), tf.int32)


_REACHER_SPAN = 0.6  # world units across the picture (the arena's +-0.3)
_ARM, _FINGER = (0.7, 0.5, 0.3), (0.2, 0.8, 0.8)


def render_reacher(env: Optional[BatchedEnvironment], physics: tf.Tensor, size: int) -> tf.Tensor:
  """Reacher states `[B, 6]` (`theta1, theta2, theta1_dot, theta2_dot, target_x, target_y`)
  seen from above as `[B, size, size, 3]`, world `x` to the right and `y` up: the target
  disc, the arm (shoulder at the centre, elbow at `theta1`, finger at `theta1 + theta2`,
  read to the nearest half degree, module docstring) and the finger.

  The flips of the state are the plane's mirrors (`y -> -y` is `r s`, `x -> -x` is `s`) and
  its half turn is the picture's half turn; see the module docstring for the exactness.
  """
  del env
  scale = size / _REACHER_SPAN
  u, v = _centred_grid(size)
  physics = tf.cast(physics, tf.float32)
  sin_table, cos_table = (tf.constant(t) for t in _REACHER_TABLES)
  n1 = _angle_index(physics[:, 0])
  n12 = tf.math.floormod(n1 + _angle_index(physics[:, 1]), ANGLE_STEPS)
  sin1, cos1 = [tf.gather(t, n1)[:, None, None] for t in (sin_table, cos_table)]
  sin12, cos12 = [tf.gather(t, n12)[:, None, None] for t in (sin_table, cos_table)]
  arm, finger = REACHER_ARM_LENGTH * scale, REACHER_FINGER_DISTANCE * scale
  elbow_u, elbow_v = arm * cos1, arm * sin1
  finger_u, finger_v = elbow_u + finger * cos12, elbow_v + finger * sin12
  radius = max(REACHER_RADIUS * scale, 0.5)
  upper = _segment(u, v, cos1, sin1, arm, radius)
  lower = _segment(u - elbow_u, v - elbow_v, cos12, sin12, finger, radius)
  tip = _disc(u - finger_u, v - finger_v, max(REACHER_RADIUS * scale, 0.75))
  target = _disc(
    u - _column(physics, 4) * scale,
    v - _column(physics, 5) * scale,
    max(REACHER_TARGET_SIZE * scale, 0.75),
  )
  image = _paint(_blank(physics, size), target, _TARGET)
  image = _paint(image, tf.logical_or(upper, lower), _ARM)
  return _paint(image, tip, _FINGER)


# NumPy at import: a tensor made while importing would start TensorFlow's runtime before
# `tf_equirl.compilation` sets XLA's flags (its persistent cache among them).
_REACHER_TABLES = _angle_tables(ANGLE_STEPS)


register_renderer("CartPole-v1", render_cartpole, "D1")
register_renderer("Catch", render_catch, "D1")
register_renderer("Pendulum-v1", render_pendulum, "D1")
register_renderer("CartPoleSwingup-v0", render_cartpole_swingup, "D1")
register_renderer("AcrobotSwingup-v0", render_acrobot_swingup, "D1")
# Reacher's flip y -> -y (element 2) is the plane's r s (3), its flip x -> -x (3) the plane's s.
register_renderer("Reacher-v0", render_reacher, "D2", elements=(0, 1, 3, 2))
for _name, _task in DMC_TASKS.items():  # dm_control's own tasks: MuJoCo draws them
  register_renderer(_name, render_dmc, _task.plane_group, elements=_task.plane_elements)


class PixelEnvironment(BatchedEnvironment):
  """An environment observed through pictures of its last `frame_stack` states, taken
  `frame_spacing` env steps apart.

  The physics state is the history of the wrapped environment's states, `[B,
  history_length, ...]` with `history_length = (frame_stack - 1) * frame_spacing + 1` (oldest
  first; a reset fills it with copies of the first state), and the observation draws every
  `frame_spacing`-th of them, ending with the latest, with the environment's renderer and
  stacks the pictures on the channel axis: float32 `[B, size, size, 3 * frame_stack]`,
  channels `(frame, rgb)` with the oldest frame first. An agent that holds each action for
  `action_repeat` env steps sees, with `frame_spacing = action_repeat`, one frame per agent
  step, as DrQ-v2 stacks them (its frame stack wraps its action repeat). Rewards,
  terminations, time limits, actions and the random resets are the wrapped environment's,
  step for step.

  `symmetry` has the wrapped environment's group and action representation, and as state
  representation the `PlaneAction` of its renderer's plane group on `[size, size, 3 *
  frame_stack]` images: the permutation of the pixels that mirrors (or turns) the picture,
  the same for every channel. `PlaneAction.transform` applies it to images and to flattened
  observations alike, with no `[d, d]` matrix.

  Args:
    env: the `BatchedEnvironment` to observe; it needs a renderer (`register_renderer`).
    size: odd side of the pictures (default 85, as the pixel agents of Park et al. 2025).
    frame_stack: number of pictures in an observation (default 3).
    frame_spacing: env steps between two stacked pictures (default 1: consecutive states).

  Raises:
    ValueError: for an environment without a renderer, an even size, a non-positive
      `frame_stack` or `frame_spacing`, or a renderer whose plane group is not the
      environment's group.
  """

  def __init__(
    self, env: BatchedEnvironment, size: int = 85, frame_stack: int = 3, frame_spacing: int = 1
  ):
    if not isinstance(env, BatchedEnvironment):
      raise ValueError(f"pixels expects a BatchedEnvironment, received {type(env).__name__}.")
    self._inner = env
    self._renderer = renderer_for(env)
    self._size = _check_size(size, "pixels")
    checks.positive_int("pixels", "frame_stack", frame_stack)
    checks.positive_int("pixels", "frame_spacing", frame_spacing)
    self._frames, self._spacing = int(frame_stack), int(frame_spacing)
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
      action_dim=env.action_dim,
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
  def frame_spacing(self) -> int:
    return self._spacing

  @property
  def history_length(self) -> int:
    """States the physics keeps per environment: `(frame_stack - 1) * frame_spacing + 1`."""
    return (self._frames - 1) * self._spacing + 1

  @property
  def compiles_with_xla(self) -> bool:
    return self._inner.compiles_with_xla

  @property
  def symmetry(self) -> MDPSymmetry:
    inner = self._inner.symmetry
    action = PlaneAction(
      self._renderer.plane_group,
      size=self._size,
      channels=3 * self._frames,
      elements=self._renderer.elements,
    )
    return MDPSymmetry(
      inner.group,
      action,  # type: ignore[arg-type]  # a pixel permutation, too large as matrices
      inner.action_rep,
      continuous_actions=inner.continuous_actions,
    )

  @property
  def symmetries(self) -> Dict[str, Any]:
    """Only the full symmetry: restricting a `PlaneAction` to a subgroup is not offered."""
    return {self.symmetry.group.name: self.symmetry}

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    if physics.shape[1] is not None and physics.shape[1] != self.history_length:
      raise ValueError(
        f"observe: expected a history of {self.history_length} states per environment "
        f"(frame_stack={self._frames}, frame_spacing={self._spacing}), received "
        f"{physics.shape[1]}."
      )
    if self._spacing > 1:
      physics = physics[:, :: self._spacing]  # the drawn states, the latest last
    shape = tf.shape(physics)
    batch, size, frames = shape[0], self._size, self._frames
    flat = tf.reshape(physics, tf.concat([[-1], shape[2:]], 0))  # [B * frames, ...]
    pictures = self._renderer.draw(self._inner, flat, size)
    pictures = tf.reshape(pictures, [batch, frames, size, size, 3])
    pictures = tf.transpose(pictures, [0, 2, 3, 1, 4])
    return tf.reshape(pictures, [batch, size, size, 3 * frames])

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    first = self._inner._initial_physics(key, batch_size)  # pylint: disable=protected-access
    return tf.repeat(first[:, None], self.history_length, axis=1)

  def _reset_physics(self, key: tf.Tensor, mask: tf.Tensor, physics: tf.Tensor) -> tf.Tensor:
    # The wrapped environment resets its latest states (only where `mask`, for environments
    # whose resets are costly); a reset history holds copies of the first state.
    latest = self._inner._reset_physics(  # pylint: disable=protected-access
      key, mask, physics[:, -1]
    )
    fresh = tf.repeat(latest[:, None], self.history_length, axis=1)
    return tf.where(tf.reshape(mask, [-1] + [1] * (physics.shape.rank - 1)), fresh, physics)

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
    return PixelEnvironment(
      self._inner.with_dynamics(physics, outcome), self._size, self._frames, self._spacing
    )


def pixels(
  env: BatchedEnvironment, size: int = 85, frame_stack: int = 3, frame_spacing: int = 1
) -> PixelEnvironment:
  """`env` observed through `size x size` RGB pictures of its last `frame_stack` states,
  `frame_spacing` env steps apart; see `PixelEnvironment`."""
  return PixelEnvironment(env, size, frame_stack, frame_spacing)
