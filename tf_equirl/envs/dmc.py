"""dm_control's MuJoCo tasks behind the `BatchedEnvironment` interface, with their symmetries.

`make("dm_control/cartpole-swingup-v0")` (and `acrobot-swingup`, `reacher-hard`,
`ball_in_cup-catch`) runs the seed study's own DeepMind Control tasks through the same
agents, symmetries, pixel wrapper and symmetry-breaking variants as the TensorFlow-op tasks.
It needs the `dmc` extra (`pip install -e .[dmc]`: dm_control 1.0.47, mujoco 3.14.0).

How it fits the pure interface. The physics state of element `b` is MuJoCo's whole
integration state (`mj_getState` with `mjSTATE_INTEGRATION`: time, positions, velocities,
activations, the solver's warm start, controls, applied forces), float64 `[B, n]`, followed
by the task's own per-episode model parameters (Reacher: the target's position). Each pure
function writes a row into one MuJoCo model with `mj_setState`, runs dm_control's own code,
and reads the row back: a step is the task's `before_step`, `Physics.step` with the task's
sub-steps and `after_step`, exactly as `dm_control.rl.control.Environment.step`; a reward is
`task.get_reward`; a reset is `task.initialize_episode` inside `reset_context` with a NumPy
`RandomState` seeded from the environment's stateless key and the element's index. A step
from a state therefore equals dm_control's own step from it, bit for bit
(`tests/test_envs_dmc.py`).

These functions are `tf.numpy_function`s: they run inside `tf.function` graphs, not under
XLA. Agents on these tasks need `jit_compile=False` (`ACConfig.jit_compile`), and the
elements of a batch are stepped one after another on one core.

Observations are dm_control's flat observations (`position`, `velocity`, ...) in their order,
except Reacher's, whose joint angles are given as cosine and sine (dm_control gives the raw
angles) so that its group acts linearly; each task's layout equals that of its TensorFlow-op
twin (`CartPoleSwingup-v0`, `AcrobotSwingup-v0`, `Reacher-v0`), and so does its symmetry.

| name | dm_control task | group | state action of the non-identity elements |
|---|---|---|---|
| `dm_control/cartpole-swingup-v0` | `cartpole.swingup` | D1 | mirror: `x, theta` and their rates negated, force negated |
| `dm_control/acrobot-swingup-v0` | `acrobot.swingup` | D1 | mirror: both angles, rates and the torque negated |
| `dm_control/reacher-hard-v0` | `reacher.hard` | D2 | half turn: `theta1 + pi`, target negated; flip `y -> -y`: angles, rates, target y, torques negated |
| `dm_control/ball_in_cup-catch-v0` | `ball_in_cup.catch` | D1 | mirror: the x positions and rates of cup and ball, the x force negated |

Symmetry-breaking variants, as the TensorFlow-op tasks' (`tf_equirl.envs.breaking`):
"repeat" and "reflect" multiply the actuators' gears by `1 + strength` and `1 - 2 *
strength` for the elements whose state lies in the task's region (the regions of the
TensorFlow-op twins, read from MuJoCo's joint angles before the step; the controls stay in
`[-1, 1]`, so MuJoCo's control range clips nothing); "gravity" tilts the model's gravity
(`(0.2, -0.2, -9.81)` at strength 1 for the cart-pole, `(-2, 2, -9.81)` for the acrobot and
the cup).

Pixels. `make(name, observation="pixels")` draws each state with MuJoCo's renderer (camera
0, as DrQ-v2) through `tf_equirl.envs.render.pixels`, through EGL: importing
`tf_equirl.envs` sets `MUJOCO_GL=egl` where it is unset (dm_control reads it once, when it is
first imported; GLFW, its first choice otherwise, draws only on the main thread, and the
pictures raise a named error then). Mesa's EGL renders on the CPU,
slowly, and an NVIDIA driver's EGL on a GPU. Each state is drawn once: the environment keeps
the pictures of the latest `PICTURE_CACHE` rows, which the stacked frames of the next steps
draw again. EGL binds MuJoCo's context to one thread and TensorFlow calls Python from any of
its threads, so each environment draws on a daemon thread of its own (`close` frees it).
Unlike the TensorFlow-op renderers, MuJoCo's pictures of a mirrored state are the mirrored
pictures only approximately (the skybox's noise and the floor's grid are not symmetric pixel
for pixel): `picture_symmetry_error` counts the pixels that are off by more than that noise.
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import functools
import math
import os
import queue
import threading
import weakref
from concurrent import futures
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tf_equirl.envs import breaking as breaking_lib
from tf_equirl.envs.acrobot_swingup import REPEAT_REGION as ACROBOT_REPEAT_REGION
from tf_equirl.envs.acrobot_swingup import acrobot_swingup_symmetry
from tf_equirl.envs.base import BatchedEnvironment, OutcomeFn, PhysicsFn
from tf_equirl.envs.cartpole_swingup import REFLECT_REGION as CARTPOLE_REFLECT_REGION
from tf_equirl.envs.cartpole_swingup import REPEAT_REGION as CARTPOLE_REPEAT_REGION
from tf_equirl.envs.cartpole_swingup import cartpole_swingup_symmetry
from tf_equirl.envs.control import sign_symmetry, wrap_angle
from tf_equirl.envs.reacher import REFLECT_REGION as REACHER_REFLECT_REGION
from tf_equirl.envs.reacher import REPEAT_REGION as REACHER_REPEAT_REGION
from tf_equirl.envs.reacher import reacher_symmetry
from tf_equirl.groups import MDPSymmetry, cyclic

__all__ = [
  "DMC_TASKS",
  "DMCTask",
  "DMCEnvironment",
  "dmc_available",
  "picture_symmetry_error",
  "render_dmc",
]

# dm_control picks its OpenGL backend once, when it is first imported, from MUJOCO_GL, and
# without it tries GLFW first, which draws only on a process's main thread. Set EGL here, on
# importing tf_equirl.envs, so that a later import of dm_control (by this module or a user)
# renders off the main thread, headless; a MUJOCO_GL the user set stays.
os.environ.setdefault("MUJOCO_GL", "egl")

_TASK_LIMIT: Any = object()  # max_episode_steps default: dm_control's own step limit
# uint8 pictures `DMCEnvironment` keeps (21 KB each at 85x85): a batch of 256 environments
# with 3 stacked frames draws each state once.
PICTURE_CACHE = 1024
_EXTRA = "pip install -e .[dmc]"


def dmc_available() -> bool:
  """Whether dm_control and mujoco can be imported (the `dmc` extra is installed)."""
  try:
    _import_dm_control()
  except ImportError:
    return False
  return True


def _import_dm_control():
  import mujoco  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  from dm_control import suite  # pylint: disable=import-outside-toplevel

  return suite


# ----------------------------------------------------------------------------- the tasks
def _signs(*rows: Sequence[float]) -> np.ndarray:
  return np.asarray(rows, np.float64)


@dataclasses.dataclass(frozen=True)
class DMCTask:
  """One dm_control task and its symmetry.

  Attributes:
    domain, task: the dm_control suite names (`suite.load(domain, task)`).
    symmetry: the `MDPSymmetry` on the flat observation and the action.
    position_signs, velocity_signs: `[|G|, nq]` / `[|G|, nv]` signs by which each group
      element multiplies MuJoCo's `qpos` / `qvel` (the warm start moves as `qvel`).
    action_signs: `[|G|, nu]` signs of the controls.
    regions: variant -> `(joint index, (low, high))`: the variant acts where the wrapped
      angle of that joint lies in `[low, high]`.
    gravity_tilt: the `(x, y)` gravity components at strength 1 of "gravity" (None: the
      task has no gravity variant).
    plane_group, plane_elements: how the pictures move (`tf_equirl.envs.render.Renderer`).
  """

  domain: str
  task: str
  symmetry: Callable[[], MDPSymmetry]
  position_signs: np.ndarray
  velocity_signs: np.ndarray
  action_signs: np.ndarray
  regions: Dict[str, Tuple[int, Tuple[float, float]]]
  gravity_tilt: Optional[Tuple[float, float]]
  plane_group: str = "D1"
  plane_elements: Optional[Tuple[int, ...]] = None


@functools.lru_cache(maxsize=None)
def ball_in_cup_symmetry() -> MDPSymmetry:
  """D1 (`cyclic(2)`): the mirror `x -> -x` negates the x positions and velocities of cup and
  ball and the x force; z is unchanged (a sign representation beside an invariant one)."""
  return sign_symmetry(
    cyclic(2), [[1] * 8, [-1, 1, -1, 1, -1, 1, -1, 1]], [[1, 1], [-1, 1]], name="ball_in_cup"
  )


_MIRROR_2 = _signs([1, 1], [-1, -1])
_REACHER_POSITION = _signs([1, 1], [1, 1], [-1, -1], [-1, -1])  # the half turn adds pi
_REACHER_ACTION = _signs([1, 1], [1, 1], [-1, -1], [-1, -1])
_CUP = _signs([1, 1, 1, 1], [-1, 1, -1, 1])

DMC_TASKS: Dict[str, DMCTask] = {
  "dm_control/cartpole-swingup-v0": DMCTask(
    "cartpole",
    "swingup",
    cartpole_swingup_symmetry,
    _MIRROR_2,
    _MIRROR_2,
    _signs([1], [-1]),
    {"repeat": (1, CARTPOLE_REPEAT_REGION), "reflect": (1, CARTPOLE_REFLECT_REGION)},
    (0.2, -0.2),
  ),
  "dm_control/acrobot-swingup-v0": DMCTask(
    "acrobot",
    "swingup",
    acrobot_swingup_symmetry,
    _MIRROR_2,
    _MIRROR_2,
    _signs([1], [-1]),
    {"repeat": (0, ACROBOT_REPEAT_REGION)},
    (-2.0, 2.0),
  ),
  "dm_control/reacher-hard-v0": DMCTask(
    "reacher",
    "hard",
    reacher_symmetry,
    _REACHER_POSITION,
    _REACHER_POSITION,
    _REACHER_ACTION,
    {"repeat": (0, REACHER_REPEAT_REGION), "reflect": (0, REACHER_REFLECT_REGION)},
    None,
    plane_group="D2",
    # Seen from above, x to the right and y up: the flip y -> -y is the plane's r s.
    plane_elements=(0, 1, 3, 2),
  ),
  "dm_control/ball_in_cup-catch-v0": DMCTask(
    "ball_in_cup",
    "catch",
    ball_in_cup_symmetry,
    _CUP,
    _CUP,
    _signs([1, 1], [-1, 1]),
    {},
    (-2.0, 2.0),
  ),
}


# ------------------------------------------------------------------------- the environment
class DMCEnvironment(BatchedEnvironment):
  """A dm_control task as a `BatchedEnvironment` (module docstring: state, steps, variants).

  Observation float32 `[d]` (dm_control's flat observation; Reacher's angles as cosine and
  sine); action float32 `[k]` in `[-1, 1]`; dm_control's rewards, terminations and step
  limit (1000 steps for these tasks, LAST with discount 1).

  Args:
    task: a key of `DMC_TASKS`, e.g. "dm_control/cartpole-swingup-v0".
    batch_size: number of environments stepped together (one after another).
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    max_episode_steps: truncation limit; default dm_control's own.
    physics: replacement for the MuJoCo step `(state [B, n], action) -> state`.
    outcome: replacement for dm_control's reward `(state, action, next_state) -> (reward,
      terminated)`.
    breaking: None, or a variant the task takes (`tf_equirl.envs.breaking.variants_of(task)`).
    strength: how strongly the symmetry is broken (0: the original task).

  Raises:
    ImportError: if dm_control is not installed (the message names the extra).
    ValueError: for an unknown task, or a variant the task does not take.
  """

  def __init__(
    self,
    task: str,
    batch_size: int = 1,
    seed: Any = 0,
    max_episode_steps: Optional[int] = _TASK_LIMIT,
    physics: Optional[PhysicsFn] = None,
    outcome: Optional[OutcomeFn] = None,
    breaking: Optional[str] = None,
    strength: float = 0.0,
  ):
    if task not in DMC_TASKS:
      raise ValueError(f"Unknown dm_control task {task!r}; available: {sorted(DMC_TASKS)}.")
    try:
      suite = _import_dm_control()
    except ImportError as e:
      raise ImportError(
        f"{task} needs dm_control and mujoco, which are not installed: {_EXTRA}."
      ) from e
    import mujoco  # pylint: disable=import-outside-toplevel

    checked = breaking_lib.check_breaking(task, breaking, strength)
    strength = 0.0 if checked is None else checked
    self._spec = DMC_TASKS[task]
    self._mujoco = mujoco
    self._dm_env = suite.load(self._spec.domain, self._spec.task, task_kwargs={"random": 0})
    self._lock = threading.Lock()
    # The pictures of the latest rows drawn: a stack of frames draws each state again at the
    # next steps, and MuJoCo draws a row the same way every time.
    self._pictures: "collections.OrderedDict[Tuple[int, bytes], np.ndarray]" = (
      collections.OrderedDict()
    )
    self._render_thread: Optional[_RenderThread] = None
    self._closer: Optional[weakref.finalize] = None
    dm_physics = self._dm_env.physics
    model = dm_physics.model
    if breaking == "gravity":
      assert self._spec.gravity_tilt is not None  # check_breaking lists only such tasks
      tilt_x, tilt_y = self._spec.gravity_tilt
      model.opt.gravity[:2] = (tilt_x * strength, tilt_y * strength)
    self._sig = int(mujoco.mjtState.mjSTATE_INTEGRATION)
    self._state_size = int(mujoco.mj_stateSize(model.ptr, self._sig))
    self._nq, self._nv, self._nu = int(model.nq), int(model.nv), int(model.nu)
    self._gear = np.array(model.actuator_gear[:, 0])
    self._extras = 2 if self._spec.domain == "reacher" else 0
    if max_episode_steps is _TASK_LIMIT:
      max_episode_steps = int(self._dm_env._step_limit)  # pylint: disable=protected-access
    self._config = dict(
      task=task,
      batch_size=batch_size,
      seed=seed,
      max_episode_steps=max_episode_steps,
      breaking=breaking,
      strength=strength,
    )
    if physics is None:
      physics = functools.partial(self._mujoco_step, breaking=breaking, strength=strength)
    observation_size = int(self._observe_one(dm_physics).shape[0])
    high = np.full([observation_size], np.finfo(np.float32).max, np.float32)
    super().__init__(
      name=task,
      observation_spec=tensor_spec.BoundedTensorSpec(
        [observation_size], tf.float32, minimum=-high, maximum=high, name="observation"
      ),
      num_actions=None,
      physics=physics,
      outcome=self._mujoco_outcome if outcome is None else outcome,
      max_episode_steps=max_episode_steps,
      batch_size=batch_size,
      seed=seed,
      action_dim=self._nu,
    )

  # -------------------------------------------------------------- properties
  @property
  def symmetry(self) -> MDPSymmetry:
    return self._spec.symmetry()

  @property
  def compiles_with_xla(self) -> bool:
    return False

  @property
  def task(self) -> DMCTask:
    return self._spec

  @property
  def breaking(self) -> Optional[str]:
    return self._config["breaking"]

  @property
  def strength(self) -> float:
    return self._config["strength"]

  @property
  def state_size(self) -> int:
    """Length of a physics row: MuJoCo's integration state plus the task's extras."""
    return self._state_size + self._extras

  # ------------------------------------------------------- rows <-> MuJoCo
  def _load(self, row: np.ndarray):
    """Writes one physics row into the model and brings the derived quantities up to date."""
    physics = self._dm_env.physics
    mujoco = self._mujoco
    mujoco.mj_setState(physics.model.ptr, physics.data.ptr, row[: self._state_size], self._sig)
    if self._extras:
      physics.named.model.geom_pos["target", :2] = row[self._state_size :]
    mujoco.mj_step1(physics.model.ptr, physics.data.ptr)
    return physics

  def _row(self, physics) -> np.ndarray:
    row = np.empty([self.state_size], np.float64)
    self._mujoco.mj_getState(
      physics.model.ptr, physics.data.ptr, row[: self._state_size], self._sig
    )
    if self._extras:
      row[self._state_size :] = physics.named.model.geom_pos["target", :2]
    return row

  def _observe_one(self, physics) -> np.ndarray:
    if self._spec.domain == "reacher":
      q1, q2 = physics.data.qpos
      to_target = (
        physics.named.data.geom_xpos["target", :2] - physics.named.data.geom_xpos["finger", :2]
      )
      return np.array(
        [np.cos(q1), np.sin(q1), np.cos(q2), np.sin(q2), *to_target, *physics.data.qvel]
      )
    observation = self._dm_env.task.get_observation(physics)
    return np.concatenate([np.ravel(v) for v in observation.values()])

  # ------------------------------------------------------------ NumPy bodies
  def _np_step(self, rows: np.ndarray, actions: np.ndarray, factors: np.ndarray) -> np.ndarray:
    with self._lock:
      dm_env = self._dm_env
      model = dm_env.physics.model
      out = np.empty_like(rows)
      n_sub = dm_env._n_sub_steps  # pylint: disable=protected-access
      try:
        for b in range(rows.shape[0]):
          physics = self._load(rows[b])
          model.actuator_gear[:, 0] = self._gear * factors[b]
          dm_env.task.before_step(actions[b].astype(np.float64), physics)
          physics.step(n_sub)
          dm_env.task.after_step(physics)
          out[b] = self._row(physics)
      finally:
        model.actuator_gear[:, 0] = self._gear
      return out

  def _np_outcome(self, rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    with self._lock:
      task = self._dm_env.task
      rewards = np.empty([rows.shape[0]], np.float32)
      terminated = np.zeros([rows.shape[0]], np.bool_)
      for b in range(rows.shape[0]):
        physics = self._load(rows[b])
        rewards[b] = task.get_reward(physics)
        discount = task.get_termination(physics)
        terminated[b] = discount is not None and discount == 0
      return rewards, terminated

  def _np_observe(self, rows: np.ndarray) -> np.ndarray:
    with self._lock:
      size = self.observation_spec().shape[0]
      out = np.empty([rows.shape[0], size], np.float32)
      for b in range(rows.shape[0]):
        out[b] = self._observe_one(self._load(rows[b]))
      return out

  def _np_reset(self, key: np.ndarray, mask: np.ndarray, rows: np.ndarray) -> np.ndarray:
    with self._lock:
      physics = self._dm_env.physics
      task = self._dm_env.task
      out = np.array(rows, np.float64, copy=True)
      words = [int(k) & 0xFFFFFFFFFFFFFFFF for k in np.asarray(key).ravel()]
      for b in np.flatnonzero(mask):
        state = np.random.SeedSequence(words + [int(b)]).generate_state(4)
        task._random = np.random.RandomState(state)  # pylint: disable=protected-access
        with physics.reset_context():
          task.initialize_episode(physics)
        out[b] = self._row(physics)
      return out

  def _np_transform(self, rows: np.ndarray, element: int) -> np.ndarray:
    spec, nq, nv, nu = self._spec, self._nq, self._nv, self._nu
    out = np.array(rows, np.float64, copy=True)
    q0, v0 = 1, 1 + nq  # layout of mjSTATE_INTEGRATION: time, qpos, qvel, act, warm start, ctrl
    w0 = v0 + nv + int(self._dm_env.physics.model.na)
    c0 = w0 + nv
    out[:, q0 : q0 + nq] *= spec.position_signs[element]
    out[:, v0 : v0 + nv] *= spec.velocity_signs[element]
    out[:, w0 : w0 + nv] *= spec.velocity_signs[element]
    out[:, c0 : c0 + nu] *= spec.action_signs[element]
    if spec.domain == "reacher":
      rotate, flip = element in (1, 3), element in (2, 3)
      if flip:
        out[:, -1] *= -1
      if rotate:
        out[:, q0] += math.pi
        out[:, -2:] *= -1
    return out

  def _np_from_coordinates(self, coordinates: np.ndarray) -> np.ndarray:
    with self._lock:
      physics = self._dm_env.physics
      physics.reset()  # MuJoCo's defaults for every other part of the state
      template = self._row(physics)
      nq, nv = self._nq, self._nv
      rows = np.repeat(template[None], coordinates.shape[0], axis=0)
      rows[:, 1 : 1 + nq] = coordinates[:, :nq]
      rows[:, 1 + nq : 1 + nq + nv] = coordinates[:, nq : nq + nv]
      if self._extras:
        rows[:, self._state_size :] = coordinates[:, nq + nv :]
      return rows

  def close(self) -> None:
    """Frees MuJoCo's rendering context on the thread that drew with it, and that thread;
    later pictures make new ones. Runs by itself at exit and when the environment is
    collected."""
    closer, self._closer, self._render_thread = self._closer, None, None
    if closer is not None:
      closer()

  def _draw_rows(self, rows: np.ndarray, size: int) -> np.ndarray:
    """MuJoCo's pictures of `rows`, uint8; runs on the render thread only."""
    return np.stack([self._load(row).render(size, size, camera_id=0) for row in rows])

  def _np_render(self, rows: np.ndarray, size: int) -> np.ndarray:
    with self._lock:
      cache = self._pictures
      keys = [(size, row.tobytes()) for row in rows]
      missing = sorted({i for i, key in enumerate(keys) if key not in cache})
      missing = list({keys[i]: i for i in missing}.values())  # each distinct row once
      if missing:
        # EGL binds MuJoCo's context to the thread that made it current (dm_control renders
        # through EGL on the calling thread), and TensorFlow calls this from any of its
        # threads: every picture is drawn on one thread of this environment's own.
        thread = self._render_thread or _RenderThread()
        drawn = thread.call(self._draw_rows, rows[missing], size)
        if self._render_thread is None:
          # The context now exists. Free it on its thread when this environment is collected,
          # and at exit before dm_control's own handler (registered as the context was made:
          # atexit runs the later one first) would try from the main thread.
          self._render_thread = thread
          self._closer = weakref.finalize(self, _free_render_context, thread, self._dm_env.physics)
          self._closer.atexit = False
          atexit.register(self._closer)
        for i, picture in zip(missing, drawn):
          cache[keys[i]] = picture
      out = np.empty([rows.shape[0], size, size, 3], np.float32)
      for b, key in enumerate(keys):
        cache.move_to_end(key)
        out[b] = cache[key].astype(np.float32) / 255.0
      while len(cache) > PICTURE_CACHE:
        cache.popitem(last=False)
      return out

  # ----------------------------------------------------------- TF faces
  def _batch_call(self, fn, inputs, dtypes, shapes):
    outs = tf.numpy_function(fn, inputs, dtypes, stateful=True)
    if not isinstance(outs, (list, tuple)):
      outs = [outs]
    for out, shape in zip(outs, shapes):
      out.set_shape(shape)
    return outs

  def _mujoco_step(
    self, state: tf.Tensor, action: tf.Tensor, breaking: Optional[str], strength: float
  ) -> tf.Tensor:
    """dm_control's step of every row (module docstring), under the variant if one is set."""
    state = tf.cast(state, tf.float64)
    action = tf.cast(action, tf.float32)
    factor = tf.ones_like(state[:, 0])
    if breaking in ("repeat", "reflect"):
      joint, (low, high) = self._spec.regions[breaking]
      angle = wrap_angle(state[:, 1 + joint])
      inside = tf.logical_and(angle >= low, angle <= high)
      scale = 1.0 + strength if breaking == "repeat" else 1.0 - 2.0 * strength
      factor = tf.where(inside, tf.constant(scale, tf.float64) * factor, factor)
    (out,) = self._batch_call(self._np_step, [state, action, factor], [tf.float64], [state.shape])
    return out

  def _mujoco_outcome(
    self, state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
  ) -> Tuple[tf.Tensor, tf.Tensor]:
    """dm_control's reward and termination of the state after the step."""
    del state, action
    batch = next_state.shape[:1]
    reward, terminated = self._batch_call(
      self._np_outcome, [next_state], [tf.float32, tf.bool], [batch, batch]
    )
    return reward, terminated

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    shape = physics.shape[:1].concatenate(self.observation_spec().shape)
    (out,) = self._batch_call(self._np_observe, [physics], [tf.float32], [shape])
    return out

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    rows = tf.zeros(tf.stack([batch_size, self.state_size]), tf.float64)
    return self._reset_physics(key, tf.ones(tf.stack([batch_size]), tf.bool), rows)

  def _reset_physics(self, key: tf.Tensor, mask: tf.Tensor, physics: tf.Tensor) -> tf.Tensor:
    """Only the elements in `mask` are reset: a MuJoCo reset is Python work per element."""
    (out,) = self._batch_call(
      self._np_reset, [tf.cast(key, tf.int64), mask, physics], [tf.float64], [physics.shape]
    )
    return out

  def transform_physics(self, physics: tf.Tensor, element: int) -> tf.Tensor:
    """The physics rows moved by group element `element` of `symmetry`:
    `observe(transform_physics(s, g)) = observe(s) @ rho(g)^T` (positions, velocities, the
    solver's warm start and the controls move; Reacher's half turn adds pi to the shoulder
    and negates the target)."""
    order = self.symmetry.group.order
    if isinstance(element, bool) or not isinstance(element, (int, np.integer)):
      raise ValueError(f"{self.name}: element must be an integer, received {element!r}.")
    if not 0 <= element < order:
      raise ValueError(f"{self.name}: the group has elements 0..{order - 1}, received {element}.")
    fn = functools.partial(self._np_transform, element=int(element))
    (out,) = self._batch_call(fn, [tf.cast(physics, tf.float64)], [tf.float64], [physics.shape])
    return out

  @property
  def coordinates_size(self) -> int:
    """Length of `physics_from_coordinates`' rows: positions, velocities, the extras."""
    return self._nq + self._nv + self._extras

  def physics_from_coordinates(self, coordinates: Any) -> tf.Tensor:
    """Physics rows `[N, state_size]` from `[N, coordinates_size]` rows of MuJoCo's
    positions and velocities (and Reacher's target `(x, y)`), the rest of the state at
    MuJoCo's defaults (time 0, no warm start, zero controls): the layout of the
    TensorFlow-op twins' states, so that states sampled for one serve the other.

    Raises:
      ValueError: for rows of another length.
    """
    coordinates = tf.cast(coordinates, tf.float64)
    if coordinates.shape.rank != 2 or coordinates.shape[-1] != self.coordinates_size:
      target = ", target" if self._extras else ""
      raise ValueError(
        f"{self.name}: physics_from_coordinates expects [N, {self.coordinates_size}] rows "
        f"(positions, velocities{target}), received shape {coordinates.shape}."
      )
    shape = coordinates.shape[:1].concatenate([self.state_size])
    (out,) = self._batch_call(self._np_from_coordinates, [coordinates], [tf.float64], [shape])
    return out

  def render_pictures(self, physics: tf.Tensor, size: int) -> tf.Tensor:
    """float32 `[B, size, size, 3]` in `[0, 1]`: MuJoCo's pictures of the rows (camera 0)."""
    _check_render_backend()
    fn = functools.partial(self._np_render, size=int(size))
    shape = physics.shape[:1].concatenate([size, size, 3])
    (out,) = self._batch_call(fn, [tf.cast(physics, tf.float64)], [tf.float32], [shape])
    return out


def _check_render_backend() -> None:
  """Raises a named error where dm_control renders through GLFW, which cannot draw from the
  render thread (dm_control chose it when it was imported before tf_equirl without
  MUJOCO_GL, or MUJOCO_GL=glfw)."""
  from dm_control import _render  # pylint: disable=import-outside-toplevel

  if _render.BACKEND == "glfw":
    raise RuntimeError(
      "dm_control renders through GLFW here (MUJOCO_GL=glfw, or dm_control was imported "
      "before tf_equirl without MUJOCO_GL), which draws only on the main thread; the pixel "
      "observations need MUJOCO_GL=egl (or osmesa) set before dm_control is imported."
    )


class _RenderThread:
  """A daemon thread that runs the calls given to `call`, one at a time. Daemon: it still
  runs when the exit handlers do (Python ends the pools of `concurrent.futures` before)."""

  def __init__(self):
    self._jobs: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
    self._thread = threading.Thread(target=self._run, name="dmc-render", daemon=True)
    self._thread.start()

  def _run(self):
    while True:
      job = self._jobs.get()
      if job is None:
        return
      fn, args, done = job
      try:
        done.set_result(fn(*args))
      except BaseException as e:  # pylint: disable=broad-except  # handed to the caller
        done.set_exception(e)

  def call(self, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` on this thread; returns its result or raises its exception."""
    if threading.get_ident() == self._thread.ident:  # a call made from this thread
      return fn(*args)
    done: futures.Future = futures.Future()
    self._jobs.put((fn, args, done))
    return done.result()

  def stop(self) -> None:
    self._jobs.put(None)


def _free_render_context(thread: _RenderThread, physics: Any) -> None:
  """Frees `physics`' rendering contexts on the render thread that made them, then ends it."""

  def free():
    if physics._contexts:  # pylint: disable=protected-access
      physics._free_rendering_contexts()  # pylint: disable=protected-access

  thread.call(free)
  thread.stop()


def render_dmc(env: BatchedEnvironment, physics: tf.Tensor, size: int) -> tf.Tensor:
  """The renderer of every `DMC_TASKS` environment (`tf_equirl.envs.render` registers it):
  MuJoCo's pictures of `env` (a `DMCEnvironment`) at `physics`, `[B, size, size, 3]`."""
  if not isinstance(env, DMCEnvironment):
    raise ValueError(f"The dm_control renderer draws DMCEnvironments, received {env!r}.")
  return env.render_pictures(physics, size)


def picture_symmetry_error(
  env: DMCEnvironment, physics: Any, size: int = 85, threshold: float = 0.2
) -> np.ndarray:
  """How far MuJoCo's pictures are from moving with the state, per group element.

  For each element `g`, compares the picture of `g s` with the picture of `s` moved by the
  plane group, and counts the pixels whose largest channel difference exceeds `threshold`
  (pixel values in `[0, 1]`). The noise of the skybox and the floor's grid, which are not
  symmetric pixel for pixel, stays below 0.2; a body drawn in the wrong place does not.

  Args:
    env: a `DMCEnvironment`.
    physics: rows `[B, env.state_size]`.
    size: side of the pictures.
    threshold: the difference a pixel must exceed to count.

  Returns:
    float64 `[|G|]`: the fraction of such pixels over the rows (0 for an exact renderer;
    element 0 is always 0).
  """
  from tf_equirl.groups import PlaneAction  # pylint: disable=import-outside-toplevel

  physics = tf.convert_to_tensor(physics, tf.float64)
  spec = env.task
  action = PlaneAction(spec.plane_group, size=size, channels=3, elements=spec.plane_elements)
  pictures = env.render_pictures(physics, size)
  errors = []
  for g in range(env.symmetry.group.order):
    moved = env.render_pictures(env.transform_physics(physics, g), size)
    difference = tf.reduce_max(tf.abs(moved - action.transform(pictures, g)), axis=-1)
    errors.append(float(tf.reduce_mean(tf.cast(difference > threshold, tf.float64))))
  return np.asarray(errors)


def register_dmc_envs() -> None:
  """Registers each `DMC_TASKS` name with `make` with its variants (`tf_equirl.envs.render`
  registers its renderer). The factories import dm_control only when called, so registering
  needs no extra."""
  from tf_equirl.envs.registry import list_envs, register  # pylint: disable=import-outside-toplevel

  for name in DMC_TASKS:
    if name not in list_envs():
      register(name, functools.partial(DMCEnvironment, name))
