"""Batched environments written in TensorFlow ops: a pure step function plus a TFEnvironment.

Every environment here has two faces that share one implementation:

* A pure, functional API for compiled training loops:
  `state, time_step = env.pure_reset(seed_or_key)` and
  `state, time_step = env.pure_step(state, action)`. `state` is an `EnvState` of
  tensors, so it can be carried through `tf.while_loop` under
  `tf.function(jit_compile=True)`; nothing here creates variables or has Python
  side effects. `env.pure_step_and_reset(state, action)` also returns the next
  episode's first observation where one ended (one step's work, for training loops
  that should not spend a step on each reset).
* A tf-agents `TFEnvironment` (`reset()`, `step(action)`, specs, `batch_size`) that
  keeps an `EnvState` in `tf.Variable`s and calls the pure functions.

The dynamics are split from the bookkeeping so that a learned transition model can
replace them: `physics(state, action) -> next_state` moves the environment's own
state and `outcome(state, action, next_state) -> (reward, terminated)` applies the
task's rules. `pure_step` adds everything else (episode counter, truncation,
auto-reset, time steps, RNG). Pass replacements to the constructor or use
`env.with_dynamics(physics=..., outcome=...)`.

Auto-reset follows tf-agents: the step after a LAST time step returns a FIRST time
step with a fresh initial observation, reward 0 and discount 1, and ignores the
action given on that step. Termination gives discount 0, truncation (the episode
step limit) gives discount 1, so an agent bootstraps through a time limit.

Invalid actions. Dtype and shape are checked in Python when the step is traced and
raise `ValueError`. Values are checked in Python when running eagerly (`ValueError`)
and with `tf.debugging.Assert` in graphs (`tf.errors.InvalidArgumentError` at run
time). Under `tf.function(jit_compile=True)` TF 2.15 compiles `Assert` to a no-op
(verified in tests/test_envs_pure.py), so no error can be raised there; instead the
time step of an element with an out-of-range action carries NaN in its observation
and reward, which makes the mistake visible rather than silently clipping the
action. Inside `with value_assertions(False):` the graph assertion is left out (the NaN
marking stays): a seed axis under XLA needs this, since pfor turns the assertion's guard into
a `DynamicStitch` that XLA cannot compile, and XLA would drop the assertion anyway.

Continuous actions. An environment built with `action_dim=k` (instead of `num_actions`)
takes float32 actions `[B, k]` in `[-1, 1]` (its action spec is a `BoundedTensorSpec`
`[k]` with those bounds). A non-float dtype or a wrong shape raises `ValueError` when the
step is traced; an element outside `[-1, 1]` or not finite is an invalid action, handled as
above (eager `ValueError`, graph assertion, NaN observation and reward under XLA). The
action is never clipped: an invalid element's physics is advanced with the zero action so
its state stays finite, and its time step carries NaN.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.environments import tf_environment
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

from tf_equirl import rng
from tf_equirl.groups import MDPSymmetry

__all__ = ["EnvState", "BatchedEnvironment", "as_key", "stateless_symmetric_uniform"]

PhysicsFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
OutcomeFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], Tuple[tf.Tensor, tf.Tensor]]

# Adding this to the key gives the next step's seed. Philox hashes the whole seed
# before drawing (tensorflow stateless_random_ops.cc, GenerateKey), so neighbouring
# seeds give independent draws; a counter is one add per step where
# `tf.random.experimental.stateless_split` would be a Philox call of its own.
_KEY_INCREMENT = np.array([0, 1], dtype=np.int64)
_ASSERTIONS = threading.local()


@contextlib.contextmanager
def value_assertions(enabled: bool):
  """Whether steps traced inside the block assert their actions' values in graphs (the
  module docstring: left out only where XLA compiles the graph, which drops them anyway)."""
  previous = getattr(_ASSERTIONS, "enabled", True)
  _ASSERTIONS.enabled = bool(enabled)
  try:
    yield
  finally:
    _ASSERTIONS.enabled = previous


class EnvState(NamedTuple):
  """Everything a batched environment needs to continue, as tensors.

  Attributes:
    physics: the environment's own state, batch-major (CartPole: float32 `[B, 4]`,
      Catch: int32 `[B, 3]`). This is what `physics` and `outcome` operate on.
    step_count: int32 `[B]`, transitions taken in the current episode (0 right
      after a reset).
    done: bool `[B]`, True when the last time step returned was LAST; the next step
      of that element resets it and ignores its action.
    key: int64 `[2]`, stateless RNG seed used for the reset draws of the next step.
      One key serves the whole batch and is advanced by a counter each step.
  """

  physics: tf.Tensor
  step_count: tf.Tensor
  done: tf.Tensor
  key: tf.Tensor


def as_key(seed_or_key: Any) -> tf.Tensor:
  """Returns an int64 `[2]` stateless seed from an integer seed or an existing key.

  A scalar seed `s` becomes `[s, 0]`; per-step keys then run `[s, 0], [s, 1], ...`,
  so distinct seeds never share a key. A `[2]` integer tensor (for example a row of
  `tf.random.experimental.stateless_split`) is used as given.
  """
  if isinstance(seed_or_key, (bool, np.bool_)):
    raise ValueError(
      f"Expected an integer seed or an integer key of shape [2], received "
      f"the bool {seed_or_key!r}."
    )
  if isinstance(seed_or_key, (int, np.integer)):
    if not -(2**63) <= int(seed_or_key) < 2**63:
      raise ValueError(f"Seed {seed_or_key} does not fit in int64.")
    return tf.constant([int(seed_or_key), 0], dtype=tf.int64)
  key = tf.convert_to_tensor(seed_or_key)
  if not key.dtype.is_integer:
    raise ValueError(
      "Expected an integer seed or an integer key of shape [2], received a "
      f"tensor of dtype {key.dtype.name} and shape {key.shape}."
    )
  key = tf.cast(key, tf.int64)
  if key.shape.rank == 0:
    return tf.stack([key, tf.zeros([], tf.int64)])
  if key.shape.rank != 1 or key.shape[0] != 2:
    raise ValueError(
      "Expected an integer seed (scalar) or a key of shape [2], received " f"shape {key.shape}."
    )
  return key


def stateless_symmetric_uniform(key: tf.Tensor, shape: Any, half_width: float) -> tf.Tensor:
  """Float32 draws uniform on a 2^24-point grid inside the open `(-half_width, half_width)`.

  The same bits come out of XLA and the CPU kernels, but in TF 2.15
  `tf.random.stateless_uniform` turns them into floats differently under
  `jit_compile=True`, so a compiled loop would reset to other states than eager
  code with the same seed. Converting the integer bits here keeps both identical:
  `(k - 2^23 + 0.5)` is exact in float32 and is scaled by one multiplication, which
  leaves XLA nothing to fuse into a differently rounded FMA.
  """
  bits = rng.uniform(shape, seed=key, minval=None, maxval=None, dtype=tf.uint32)
  k = tf.cast(tf.bitwise.right_shift(bits, 8), tf.int32)  # 24 uniform bits
  centered = tf.cast(k - 2**23, tf.float32) + 0.5
  return centered * tf.constant(half_width / 2**23, tf.float32)


class BatchedEnvironment(tf_environment.TFEnvironment, metaclass=abc.ABCMeta):
  """Base class: pure batched step functions plus the tf-agents `TFEnvironment` API.

  Subclasses implement `_initial_physics(key, batch_size)` (the reset
  distribution), `observe(physics)` and `symmetry`, and pass default `physics` /
  `outcome` functions. `symmetries` names the groups an agent may use instead of the
  full one (override it to add subgroups); `get_symmetry(name)` looks one up.

  Args:
    name: environment name, used in error messages.
    observation_spec: `BoundedTensorSpec` of one observation.
    num_actions: number of discrete actions; actions are int in `[0, num_actions)`.
      None for an environment with continuous actions.
    physics: `(physics_state [B, ...], action) -> next physics_state`, where `action` is
      int32 `[B]` (discrete) or float32 `[B, action_dim]` (continuous).
    outcome: `(physics_state, action, next_physics_state) -> (reward float32 [B],
      terminated bool [B])`.
    max_episode_steps: truncation limit (LAST with discount 1), or None.
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) of the `TFEnvironment` state. The pure API
      takes its own seed in `pure_reset`.
    action_dim: length `k` of a continuous action: actions are float32 `[B, k]` in
      `[-1, 1]`. Give exactly one of `num_actions` and `action_dim`.

  Raises:
    ValueError: for a bad `batch_size`, `max_episode_steps`, `num_actions` or `action_dim`
      (or both or neither of the last two), or `physics` / `outcome` that are not callable.
  """

  def __init__(
    self,
    name: str,
    observation_spec: tensor_spec.BoundedTensorSpec,
    num_actions: Optional[int],
    physics: PhysicsFn,
    outcome: OutcomeFn,
    max_episode_steps: Optional[int],
    batch_size: int,
    seed: Any,
    action_dim: Optional[int] = None,
  ):
    if (
      not isinstance(batch_size, (int, np.integer))
      or isinstance(batch_size, bool)
      or batch_size < 1
    ):
      raise ValueError(
        f"{name}: batch_size must be a positive integer, received " f"{batch_size!r}."
      )
    if max_episode_steps is not None and (
      not isinstance(max_episode_steps, (int, np.integer)) or max_episode_steps < 1
    ):
      raise ValueError(
        f"{name}: max_episode_steps must be a positive integer or None, "
        f"received {max_episode_steps!r}."
      )
    for fn_name, fn in (("physics", physics), ("outcome", outcome)):
      if not callable(fn):
        raise ValueError(f"{name}: {fn_name} must be callable, received {fn!r}.")
    if (num_actions is None) == (action_dim is None):
      raise ValueError(
        f"{name}: give exactly one of num_actions (discrete actions) and action_dim "
        f"(continuous actions), received num_actions={num_actions!r}, "
        f"action_dim={action_dim!r}."
      )
    for arg, value, low in (("num_actions", num_actions, 1), ("action_dim", action_dim, 1)):
      if value is not None and (
        not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low
      ):
        raise ValueError(f"{name}: {arg} must be a positive integer, received {value!r}.")
    self._name = name
    self._num_actions = None if num_actions is None else int(num_actions)
    self._action_dim = None if action_dim is None else int(action_dim)
    self._physics = physics
    self._outcome = outcome
    self._max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
    if self._action_dim is None:
      assert self._num_actions is not None  # checked above: one of the two is given
      action_spec = tensor_spec.BoundedTensorSpec(
        [], tf.int32, minimum=0, maximum=self._num_actions - 1, name="action"
      )
    else:
      action_spec = tensor_spec.BoundedTensorSpec(
        [self._action_dim], tf.float32, minimum=-1.0, maximum=1.0, name="action"
      )
    super().__init__(ts.time_step_spec(observation_spec), action_spec, int(batch_size))
    # Only the TFEnvironment face owns variables; the pure API never touches them.
    state, time_step = self.pure_reset(seed)
    self._state_vars = EnvState(*[tf.Variable(t, trainable=False) for t in state])
    self._time_step_vars = ts.TimeStep(*[tf.Variable(t, trainable=False) for t in time_step])

  # ------------------------------------------------------------------ properties
  @property
  def name(self) -> str:
    return self._name

  @property
  def num_actions(self) -> Optional[int]:
    """The number of discrete actions (None for continuous actions)."""
    return self._num_actions

  @property
  def continuous_actions(self) -> bool:
    """Whether actions are float vectors in `[-1, 1]^action_dim`."""
    return self._action_dim is not None

  @property
  def action_dim(self) -> Optional[int]:
    """The length of a continuous action (None for discrete actions)."""
    return self._action_dim

  @property
  def max_episode_steps(self) -> Optional[int]:
    return self._max_episode_steps

  @property
  def compiles_with_xla(self) -> bool:
    """Whether the pure functions compile under `tf.function(jit_compile=True)`. True for
    the TensorFlow-op environments; False where a step calls Python (`tf.numpy_function`,
    as `tf_equirl.envs.dmc` does): such an environment runs in graphs without XLA."""
    return True

  @property
  def physics(self) -> PhysicsFn:
    """The dynamics `(state, action) -> next_state` used by `pure_step`."""
    return self._physics

  @property
  def outcome(self) -> OutcomeFn:
    """The task rule `(state, action, next_state) -> (reward, terminated)`."""
    return self._outcome

  @property
  def state(self) -> EnvState:
    """Current state of the `TFEnvironment` face (a snapshot of its variables)."""
    return EnvState(*[tf.identity(v) for v in self._state_vars])

  @property
  @abc.abstractmethod
  def symmetry(self) -> MDPSymmetry:
    """The `tf_equirl.groups.MDPSymmetry` of this environment."""

  @property
  def symmetries(self) -> Dict[str, Any]:
    """The symmetries an agent may be built with, by name: `symmetry` under its group's name
    ("C2" for CartPole and Catch) and its restriction to the identity as "trivial".
    Environments with larger groups add their subgroups (GridWorld: "D4", "C4", "C2")."""
    full = self.symmetry
    return {full.group.name: full, "trivial": full.restrict([full.group.identity], name="trivial")}

  def get_symmetry(self, group: Optional[str] = None) -> MDPSymmetry:
    """`symmetries[group]`, or `symmetry` for None.

    Raises:
      ValueError: for a name that is not in `symmetries` (the message lists them).
    """
    if group is None:
      return self.symmetry
    available = self.symmetries
    if group not in available:
      raise ValueError(
        f"{self._name} has no symmetry group named {group!r}; available: "
        f"{sorted(available)} (None: the full {self.symmetry.group.name})."
      )
    return available[group]

  @abc.abstractmethod
  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    """Observation `[B, *observation_spec.shape]` of a batch of physics states."""

  @abc.abstractmethod
  def _initial_physics(self, key: tf.Tensor, batch_size: int) -> tf.Tensor:
    """A batch of initial physics states drawn with the stateless seed `key`."""

  def with_dynamics(
    self, physics: Optional[PhysicsFn] = None, outcome: Optional[OutcomeFn] = None
  ) -> "BatchedEnvironment":
    """A copy of this environment (same configuration) with replaced dynamics.

    The default rebuilds `type(self)` from `self._config`, the constructor's keyword
    arguments other than `physics` and `outcome`, which a subclass keeps there. A replaced
    `physics` stands for the whole dynamics: where the configuration names a
    symmetry-breaking variant (`breaking`), the copy has none (strength 0).

    Raises:
      NotImplementedError: a subclass that keeps no `_config` and does not override this.
    """
    config = getattr(self, "_config", None)
    if not isinstance(config, dict):
      raise NotImplementedError(
        f"{type(self).__name__}.with_dynamics: keep the constructor's keyword arguments "
        "(other than physics and outcome) in self._config, or override with_dynamics."
      )
    config = dict(config)
    if physics is not None and "breaking" in config:
      config.update(breaking=None, strength=0.0)
    return type(self)(
      **config,
      physics=self._physics if physics is None else physics,
      outcome=self._outcome if outcome is None else outcome,
    )

  # -------------------------------------------------------------------- pure API
  def pure_reset(
    self, seed_or_key: Any, batch_size: Optional[int] = None
  ) -> Tuple[EnvState, ts.TimeStep]:
    """Starts `batch_size` (default `self.batch_size`) fresh episodes.

    Args:
      seed_or_key: integer seed, scalar integer tensor, or an integer `[2]` key.
      batch_size: static batch size; defaults to the environment's.

    Returns:
      `(state, time_step)` with a FIRST time step (reward 0, discount 1).
    """
    b = self.batch_size if batch_size is None else batch_size
    key = as_key(seed_or_key)
    physics = self._initial_physics(key, b)
    state = EnvState(
      physics=physics,
      step_count=tf.zeros([b], tf.int32),
      done=tf.zeros([b], tf.bool),
      key=key + _KEY_INCREMENT,
    )
    time_step = ts.TimeStep(
      step_type=tf.fill([b], ts.StepType.FIRST),
      reward=tf.zeros([b], tf.float32),
      discount=tf.ones([b], tf.float32),
      observation=self.observe(physics),
    )
    return state, time_step

  def pure_step(self, state: EnvState, action: Any) -> Tuple[EnvState, ts.TimeStep]:
    """Advances every element by one step, auto-resetting finished episodes.

    Args:
      state: an `EnvState` from `pure_reset` or a previous `pure_step`.
      action: integer tensor `[B]` with values in `[0, num_actions)`, or for continuous
        actions a float tensor `[B, action_dim]` with values in `[-1, 1]`.

    Returns:
      `(next_state, time_step)`.
    """
    if not isinstance(state, EnvState):
      raise ValueError(
        f"{self._name}: pure_step expects an EnvState as `state`, received "
        f"{type(state).__name__}."
      )
    batch = state.step_count.shape[0]
    action, valid = self._check_action(action, batch)

    next_physics = self._step_physics(state, action)
    reward, terminated = self._outcome(state.physics, action, next_physics)
    reward = tf.cast(reward, tf.float32)
    terminated = tf.cast(terminated, tf.bool)
    count = state.step_count + 1
    ended = terminated
    if self._max_episode_steps is not None:
      ended = tf.logical_or(terminated, count >= self._max_episode_steps)

    reset = state.done
    physics = self._reset_physics(state.key, reset, next_physics)
    step_type = tf.where(
      reset, ts.StepType.FIRST, tf.where(ended, ts.StepType.LAST, ts.StepType.MID)
    )
    reward = tf.where(reset, tf.zeros_like(reward), reward)
    discount = tf.where(
      tf.logical_and(terminated, tf.logical_not(reset)), tf.zeros_like(reward), tf.ones_like(reward)
    )
    observation = self.observe(physics)
    # Under XLA the value assertion is a no-op; NaN marks the bad elements instead.
    nan_obs = tf.constant(np.nan, observation.dtype)
    observation = tf.where(_expand_like(valid, observation), observation, nan_obs)
    reward = tf.where(valid, reward, tf.constant(np.nan, reward.dtype))

    next_state = EnvState(
      physics=physics,
      step_count=tf.where(reset, tf.zeros_like(count), count),
      done=tf.logical_and(ended, tf.logical_not(reset)),
      key=state.key + _KEY_INCREMENT,
    )
    return next_state, ts.TimeStep(
      step_type=step_type, reward=reward, discount=discount, observation=observation
    )

  def pure_step_and_reset(
    self, state: EnvState, action: Any
  ) -> Tuple[EnvState, ts.TimeStep, tf.Tensor]:
    """Steps every element and starts the next episode at once where one ended (gymnax style).

    Equal, element for element and bit for bit, to `pure_step` followed by a second
    `pure_step` for the elements whose time step was LAST (the step that would reset them
    and ignore its action), but with one step's work instead of two: the reset draws
    `_initial_physics` with the key that second step would use, and the key advances by
    two increments, as it would over the two steps. A training loop then stores only real
    transitions and never spends a step on a reset.

    Args:
      state: an `EnvState`; `state.done` is normally False everywhere (states returned by
        this method never have it set), otherwise those elements reset as in `pure_step`.
      action: as in `pure_step`.

    Returns:
      `(next_state, time_step, next_observation)`: `time_step` is `pure_step`'s (a LAST
      time step carries the episode's last observation, so a truncated episode can be
      bootstrapped), `next_state` is already reset where the episode ended, and
      `next_observation` is the observation the next action is taken in (the new
      episode's first one where the episode ended, else `time_step.observation`).
    """
    stepped, time_step = self.pure_step(state, action)
    ended = stepped.done  # exactly the elements whose time step is LAST
    next_physics = self._reset_physics(stepped.key, ended, stepped.physics)
    next_state = EnvState(
      physics=next_physics,
      step_count=tf.where(ended, tf.zeros_like(stepped.step_count), stepped.step_count),
      done=tf.zeros_like(ended),
      key=stepped.key + _KEY_INCREMENT,
    )
    observation = tf.where(
      _expand_like(ended, time_step.observation), self.observe(next_physics), time_step.observation
    )
    return next_state, time_step, observation

  def _reset_physics(self, key: tf.Tensor, mask: tf.Tensor, physics: tf.Tensor) -> tf.Tensor:
    """`physics` with the elements in `mask` (bool `[B]`) replaced by initial states drawn
    with `key`: element `b` gets row `b` of `_initial_physics(key, B)`. Environments whose
    resets are costly per element (`tf_equirl.envs.dmc`) override this to reset only those."""
    batch = physics.shape[0]
    batch = batch if batch is not None else tf.shape(physics)[0]
    initial = self._initial_physics(key, batch)
    return tf.where(_expand_like(mask, physics), initial, physics)

  def _step_physics(self, state: EnvState, action: tf.Tensor) -> tf.Tensor:
    """`physics(state.physics, action)`. Environments whose own dynamics are random (the
    symmetry-breaking Catch variants, `tf_equirl.envs.breaking`) override this to draw from
    `state.key`, so that compiled and eager runs with one seed agree."""
    return self._physics(state.physics, action)

  def _check_action(self, action: Any, batch: Optional[int]):
    """Static checks in Python, value checks eagerly or as a graph assertion."""
    if self._action_dim is not None:
      return self._check_continuous_action(action, batch)
    assert self._num_actions is not None  # a discrete environment
    expected = (
      f"integer actions of shape [{batch if batch is not None else 'B'}] with "
      f"values in [0, {self._num_actions - 1}]"
    )
    if isinstance(action, (float, bool, np.floating, np.bool_)):
      raise ValueError(f"{self._name}: invalid action {action!r}; expected {expected}.")
    try:
      action = tf.convert_to_tensor(action)
    except (TypeError, ValueError) as e:
      raise ValueError(f"{self._name}: invalid action {action!r}; expected {expected}.") from e
    if not action.dtype.is_integer:
      raise ValueError(
        f"{self._name}: invalid action of dtype {action.dtype.name} "
        f"({_describe(action)}); expected {expected}."
      )
    if action.shape.rank != 1 or (
      batch is not None and action.shape[0] is not None and action.shape[0] != batch
    ):
      raise ValueError(
        f"{self._name}: invalid action of shape {action.shape} "
        f"({_describe(action)}); expected {expected}."
      )
    # The range is checked before narrowing to int32, where 2**32 would wrap to 0.
    valid = tf.logical_and(action >= 0, action < self._num_actions)
    # Constants are checked in Python even while tracing, so XLA cannot drop the check.
    values = tf.get_static_value(action)
    raw, action = action, tf.cast(action, tf.int32)
    if values is not None:
      bad = np.flatnonzero((values < 0) | (values >= self._num_actions))
      if bad.size:
        raise ValueError(
          f"{self._name}: invalid action {values[bad[:8]].tolist()} at batch index "
          f"{bad[:8].tolist()}{' ...' if bad.size > 8 else ''}; valid actions are "
          f"integers in [0, {self._num_actions - 1}]."
        )
      return action, valid
    if not getattr(_ASSERTIONS, "enabled", True):
      return action, valid
    check = tf.debugging.Assert(
      tf.reduce_all(valid),
      [
        f"{self._name}: invalid action; valid actions are integers in "
        f"[0, {self._num_actions - 1}], received action =",
        raw,
      ],
      summarize=16,
    )
    with tf.control_dependencies([check]):
      return tf.identity(action), valid

  def _check_continuous_action(self, action: Any, batch: Optional[int]):
    """`_check_action` for float actions `[B, action_dim]` in `[-1, 1]`.

    Returns the action as float32 with invalid elements (a component outside `[-1, 1]` or
    not finite) replaced by zeros, so the physics state stays finite, and the `[B]` mask of
    valid elements that `pure_step` turns into NaN time steps."""
    k = self._action_dim
    expected = (
      f"float32 actions of shape [{batch if batch is not None else 'B'}, {k}] with "
      "values in [-1, 1]"
    )
    if isinstance(action, (int, float, bool, np.number, np.bool_)):
      raise ValueError(f"{self._name}: invalid action {action!r}; expected {expected}.")
    try:
      action = tf.convert_to_tensor(action)
    except (TypeError, ValueError) as e:
      raise ValueError(f"{self._name}: invalid action {action!r}; expected {expected}.") from e
    if not action.dtype.is_floating:
      raise ValueError(
        f"{self._name}: invalid action of dtype {action.dtype.name} "
        f"({_describe(action)}); expected {expected}."
      )
    if (
      action.shape.rank != 2
      or (action.shape[1] is not None and action.shape[1] != k)
      or (batch is not None and action.shape[0] is not None and action.shape[0] != batch)
    ):
      raise ValueError(
        f"{self._name}: invalid action of shape {action.shape} "
        f"({_describe(action)}); expected {expected}."
      )
    raw = action
    action = tf.cast(action, tf.float32)
    # Compared in the given dtype, so a float64 1.0000001 is not rounded into range.
    one = tf.constant(1.0, raw.dtype)
    in_range = tf.logical_and(raw >= -one, raw <= one)  # False for NaN
    valid = tf.reduce_all(in_range, axis=1)
    safe = tf.where(valid[:, None], action, tf.zeros_like(action))
    values = tf.get_static_value(raw)
    if values is not None:
      bad = np.flatnonzero(~np.all((values >= -1) & (values <= 1), axis=1))
      if bad.size:
        raise ValueError(
          f"{self._name}: invalid action {values[bad[:8]].tolist()} at batch index "
          f"{bad[:8].tolist()}{' ...' if bad.size > 8 else ''}; valid actions are "
          f"finite floats in [-1, 1] of shape [{k}]."
        )
      return safe, valid
    if not getattr(_ASSERTIONS, "enabled", True):
      return safe, valid
    check = tf.debugging.Assert(
      tf.reduce_all(valid),
      [
        f"{self._name}: invalid action; valid actions are finite floats in [-1, 1] of "
        f"shape [{k}], received action =",
        raw,
      ],
      summarize=16,
    )
    with tf.control_dependencies([check]):
      return tf.identity(safe), valid

  # ----------------------------------------------------------- TFEnvironment API
  def _current_time_step(self) -> ts.TimeStep:
    return ts.TimeStep(*[tf.identity(v) for v in self._time_step_vars])

  def _reset(self) -> ts.TimeStep:
    state, time_step = self.pure_reset(self._state_vars.key.read_value())
    return self._assign(state, time_step)

  def _step(self, action) -> ts.TimeStep:
    state, time_step = self.pure_step(self.state, action)
    return self._assign(state, time_step)

  def _assign(self, state: EnvState, time_step: ts.TimeStep) -> ts.TimeStep:
    for var, value in zip(self._state_vars, state):
      var.assign(value)
    for var, value in zip(self._time_step_vars, time_step):
      var.assign(value)
    return time_step

  def __repr__(self) -> str:
    return f"{type(self).__name__}(name={self._name!r}, batch_size={self.batch_size})"


def _expand_like(mask: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """Reshapes a `[B]` mask to broadcast against `x` of shape `[B, ...]`."""
  return tf.reshape(mask, [-1] + [1] * (x.shape.rank - 1))


def _describe(action: tf.Tensor) -> str:
  if tf.executing_eagerly():
    return f"action={action.numpy().tolist()!r}"
  return f"action tensor {action!r}"
