"""The two transition networks: an MLP baseline and a G-CNN with proximal or mean pooling.

Both are configs (`MLPTransitionModel`, `EquivariantTransitionModel`) whose `build(spec)`
returns a plain functional Keras model with two inputs, `observation` float32 `[B, d]` and
`action` int32 `[B]`, made only of Keras built-ins and registered tf_equirl layers, so
`keras.models.load_model(path)` reloads it in safe mode after `import tf_equirl`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import random
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

# The seed generator `keras.utils.set_random_seed` installs, which unseeded initialisers draw
# from; and TensorFlow's eager context, whose generator hands out op seeds.
from keras.src import backend as _keras_backend
from tensorflow.python.eager import context as _tf_context

from tf_equirl.layers import (
  ActionEncoding,
  EquivariantMeanPool,
  GroupConv,
  GroupLift,
  GroupPool,
  ProximalPool,
  RelaxedGroupConv,
  RelaxedGroupLift,
)
from tf_equirl.models.spec import OUTCOME_DIM, TransitionSpec
from tf_equirl.params import count_params, match_width

from tensorflow import keras

__all__ = [
  "MLPTransitionModel",
  "EquivariantTransitionModel",
  "POOLS",
  "build_transition_model",
  "model_inputs",
]

POOLS = ("proximal", "mean")


def model_inputs(spec: TransitionSpec):
  observation = keras.Input((spec.state_dim,), dtype=tf.float32, name="observation")
  action = keras.Input((), dtype=tf.int32, name="action")
  return observation, action


def _check_spec(spec, who):
  if not isinstance(spec, TransitionSpec):
    raise ValueError(
      f"{who}.build expects a tf_equirl.models.TransitionSpec (see "
      f"TransitionSpec.for_env), received {type(spec).__name__}."
    )


@dataclasses.dataclass(frozen=True)
class MLPTransitionModel:
  """MLP baseline `T(s, a) = MLP([s, code(a)])`; no symmetry.

  Args:
    hidden_units: widths of the hidden layers (thesis: two hidden layers; 64 like the
      thesis' 64-64 actor-critics).
    activation: hidden activation.

  With `spec.outcome`, a linear head on the last hidden layer adds the termination logit
  and the reward.

  Input shape: `[observation [B, d], action [B]]`.
  Output shape: `[B, spec.prediction_dim]` (next observation, or ball/paddle logits; then
  the outcome's two columns with `spec.outcome`).
  """

  hidden_units: Tuple[int, ...] = (64, 64)
  activation: str = "tanh"

  def build(self, spec: TransitionSpec, name: str = "mlp_transition") -> keras.Model:
    _check_spec(spec, "MLPTransitionModel")
    if not self.hidden_units or not all(isinstance(u, int) and u >= 1 for u in self.hidden_units):
      raise ValueError(
        "MLPTransitionModel: hidden_units must be a non-empty tuple of positive "
        f"ints, received {self.hidden_units!r}."
      )
    observation, action = model_inputs(spec)
    x = keras.layers.Concatenate(name="state_action")(
      [observation, ActionEncoding(spec.action_codes, name="action_code")(action)]
    )
    for i, units in enumerate(self.hidden_units):
      x = keras.layers.Dense(units, activation=self.activation, name=f"hidden_{i}")(x)
    out = keras.layers.Dense(spec.output_dim, name="next_state")(x)
    if spec.outcome:
      out = _with_outcome(out, x)
    return keras.Model([observation, action], out, name=name)


@dataclasses.dataclass(frozen=True)
class EquivariantTransitionModel:
  """G-CNN transition model with proximal or exact mean pooling (thesis 4.7.2-4.7.4).

  `[s, code(a)]` is lifted with `GroupLift` over `rho_S + rho_enc`, passes one more hidden
  `GroupConv`, and a linear `GroupConv` produces |G| transition images of the output width.
  Image `h` predicts `rho(h^-1) s'`; the pool maps it back with `rho(h)` and then keeps the
  image closest to `s` (`pool="proximal"`, eq. 4.28, distance `spec.distance`) or averages
  them (`pool="mean"`).

  Equivariance: `T(rho_S(g) s, pi(g) a) = rho_out(g) T(s, a)` (eq. 4.24); exact for
  `"mean"`, for `"proximal"` except where the distance ties. With `spec.outcome`, the hidden
  features pooled over the group (`GroupPool`) feed a linear head onto the termination logit
  and the reward, which are then invariant: `O(rho_S(g) s, pi(g) a) = O(s, a)`.

  Args:
    channels: channels per group element in both hidden layers; None picks the width whose
      parameter count is closest to `MLPTransitionModel()`'s (within 10 %, thesis 4.6.1.2).
    pool: `"proximal"` or `"mean"`.
    activation: hidden activation.
    distance: registered proximal distance; None takes `spec.distance` (L1 for CartPole,
      eq. 4.33 for Catch).
    relaxed: use `RelaxedGroupLift` / `RelaxedGroupConv` (2 kernels each) for the three
      group layers: an approximately equivariant world model (Park et al. 2025), exactly
      equivariant at initialisation, for environments whose symmetry is broken.

  Input shape: `[observation [B, d], action [B]]`.
  Output shape: `[B, spec.prediction_dim]`.
  """

  channels: Optional[int] = None
  pool: str = "proximal"
  activation: str = "tanh"
  distance: Optional[str] = None
  relaxed: bool = False

  def __post_init__(self):
    if self.pool not in POOLS:
      raise ValueError(
        f"EquivariantTransitionModel: pool must be one of {POOLS}, received " f"pool={self.pool!r}."
      )
    if self.channels is not None and (
      isinstance(self.channels, bool) or not isinstance(self.channels, int) or self.channels < 1
    ):
      raise ValueError(
        "EquivariantTransitionModel: channels must be a positive int or None, "
        f"received {self.channels!r}."
      )

  def build(self, spec: TransitionSpec, name: Optional[str] = None) -> keras.Model:
    _check_spec(spec, "EquivariantTransitionModel")
    channels = self.channels or matched_channels(spec, self.activation, self.relaxed)
    group = spec.symmetry.group
    observation, action = model_inputs(spec)
    x = keras.layers.Concatenate(name="state_action")(
      [observation, ActionEncoding(spec.action_codes, name="action_code")(action)]
    )
    lift, conv = (RelaxedGroupLift, RelaxedGroupConv) if self.relaxed else (GroupLift, GroupConv)
    h = lift(channels, spec.input_rep, activation=self.activation, name="lift")(x)
    h = conv(channels, group, activation=self.activation, name="hidden_1")(h)
    images = conv(spec.output_dim, group, name="transition_images")(h)
    if self.pool == "proximal":
      out = ProximalPool(
        spec.output_rep, distance=self.distance or spec.distance, name="proximal_pool"
      )([images, observation])
    else:
      out = EquivariantMeanPool(spec.output_rep, name="mean_pool")(images)
    if spec.outcome:  # invariant: the hidden features pooled over the group
      out = _with_outcome(out, GroupPool("mean", name="outcome_pool")(h))
    prefix = "relaxed" if self.relaxed else "gcnn"
    return keras.Model([observation, action], out, name=name or f"{prefix}_{self.pool}_transition")


def _with_outcome(transition, features):
  """`[transition | termination logit, reward]`: a linear outcome head on `features` (for
  a spec with `outcome`; invariant features give an invariant outcome)."""
  outcome = keras.layers.Dense(OUTCOME_DIM, name="outcome")(features)
  return keras.layers.Concatenate(name="prediction")([transition, outcome])


@contextlib.contextmanager
def _random_state_kept():
  """Leaves every random state Keras initialisers draw from as it found it."""
  generator = getattr(_keras_backend._SEED_GENERATOR, "generator", None)  # pylint: disable=W0212
  eager = _tf_context.context()
  saved = (
    random.getstate(),
    np.random.get_state(),
    None if generator is None else generator.getstate(),
    getattr(eager, "_rng", None) and eager._rng.getstate(),  # pylint: disable=protected-access
  )
  try:
    yield
  finally:
    random.setstate(saved[0])
    np.random.set_state(saved[1])
    if generator is not None:
      generator.setstate(saved[2])
    if saved[3] is not None:
      eager._rng.setstate(saved[3])  # pylint: disable=protected-access


@functools.lru_cache(maxsize=None)
def matched_channels(spec: TransitionSpec, activation: str = "tanh", relaxed: bool = False) -> int:
  """G-CNN width whose parameter count is within 10 % of the default MLP's.

  The models built to count parameters draw no numbers the caller sees (every random state
  is restored), so a model built after `keras.utils.set_random_seed(k)` has the same weights
  whether or not this width was already computed in the process."""
  with _random_state_kept():
    target = count_params(MLPTransitionModel(activation=activation).build(spec))
    width, _ = match_width(
      lambda c: EquivariantTransitionModel(c, "mean", activation, relaxed=relaxed).build(spec),
      target,
      widths=range(1, 257),
    )
  return width


def build_transition_model(model: str, spec: TransitionSpec, pool: str = "proximal") -> keras.Model:
  """`model="mlp"`, `"gcnn"` or `"relaxed"` (with `pool`), at matched parameter counts."""
  if model == "mlp":
    return MLPTransitionModel().build(spec)
  if model in ("gcnn", "relaxed"):
    return EquivariantTransitionModel(pool=pool, relaxed=model == "relaxed").build(spec)
  raise ValueError(
    f"build_transition_model: model must be 'mlp', 'gcnn' or 'relaxed', " f"received {model!r}."
  )
