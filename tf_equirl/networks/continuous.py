"""Deterministic actors and twin critics for continuous actions, built from an `MDPSymmetry`.

The symmetry must have `continuous_actions=True`: `G` acts on states by `rho` and on the action
vector (in `[-1, 1]^k`) by the orthogonal `pi`. Every actor maps an observation batch
`[batch, d]` to a mean action `[batch, k]` in `[-1, 1]^k` (DDPG / DrQ-v2 style: exploration
noise is the agent's business); every critic maps `[observation, action]` to twin Q-values
`[batch, 2]` (two independent trunks in one model, TD3's clipped double Q).

Equivariance of the exact kinds (and of the relaxed and rpp kinds at initialisation):
`actor(rho(g) s) = pi(g) actor(s)` and `Q(rho(g) s, pi(g) a) = Q(s, a)`.

Kinds (`CONTINUOUS_KINDS`):
  mlp               two ReLU hidden layers of `MLP_WIDTH`, a linear output, tanh (actor) /
                    a scalar (critic, on the concatenated state and action).
  gcnn              actor: `GroupLift` of the state, `GroupConv` (ReLU), a `GroupConv` onto
                    `k` channels, then `RegularToAction`: the fixed equivariant map
                    `a = squash(mean_h pi(h) f[h])`. Critic: `GroupLift` of `(s, a)` under
                    `rho + pi` (the direct sum), `GroupConv`, `GroupPool`, a dense scalar.
  relaxed           the gcnn with `RelaxedGroupLift` / `RelaxedGroupConv` (Park et al. 2025,
                    seed 002: `num_kernels` L = 1 by default, L = 2 via the parameter), actor
                    and critic both relaxed; starts exactly equivariant.
  relaxed_centered  the relaxed kind with the centered parameterization of the relaxed
                    weights (`tf_equirl.layers.relaxed`).
  rpp               residual pathway prior (Finzi et al. 2021): `ResidualGroupLift` /
                    `ResidualGroupConv`, the unconstrained path starting at zero.
  augment           the mlp networks; the agent trains them on minibatches moved by a random
                    group element per sample (`ACConfig.augment`).
Widths default to the one whose parameter count is closest to the mlp's
(`tf_equirl.params.match_width`, within 10 %).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional

import numpy as np
from tensorflow import keras

from tf_equirl.groups import MDPSymmetry, Representation
from tf_equirl.groups.representation import direct_sum
from tf_equirl.layers._base import _signed_permutation
from tf_equirl.layers import (
  GroupConv,
  GroupLayerNorm,
  RegularToAction,
  GroupLift,
  GroupPool,
  RelaxedGroupConv,
  RelaxedGroupLift,
  ResidualGroupConv,
  ResidualGroupLift,
)
from tf_equirl.params import count_params, match_width

__all__ = [
  "CONTINUOUS_KINDS",
  "EQUIVARIANT_KINDS",
  "MLP_WIDTH",
  "TRUNK_FEATURES",
  "RegularToAction",
  "GaussianActor",
  "LOG_STD_BOUNDS",
  "abs_representation",
  "build_continuous_actor",
  "build_continuous_critic",
  "build_gaussian_actor",
  "build_feature_actor",
  "build_feature_critic",
  "check_continuous",
  "matched_width",
]

CONTINUOUS_KINDS = ("mlp", "gcnn", "relaxed", "relaxed_centered", "rpp", "augment")
EQUIVARIANT_KINDS = ("gcnn", "relaxed", "relaxed_centered", "rpp")  # equivariant at init
MLP_WIDTH = 256  # TD3 / DrQ-v2 state-based hidden width
RELAXED_KERNELS = 1  # L of the seed's relaxed layers (Park et al. 2025, D.1.1: "L = 1 filters")
RPP_FREE_DECAY = 1e-3  # as the discrete rpp networks (tf_equirl.networks.builders)
_HIDDEN_GAIN = float(np.sqrt(2.0))  # orthogonal init with the ReLU gain, as DrQ-v2
TRUNK_FEATURES = 50  # DrQ-v2's feature_dim: the trunk between encoder and heads
LOG_STD_BOUNDS = (-5.0, 2.0)  # SAC's log standard deviation range (DrQ, pytorch_sac)


def _orth(gain: float = _HIDDEN_GAIN):
  return keras.initializers.Orthogonal(gain=gain)


def check_continuous(symmetry: Any, builder: str) -> MDPSymmetry:
  """`symmetry` if it is an `MDPSymmetry` with continuous actions.

  Raises:
    ValueError: for anything else, naming `builder` and what was expected.
  """
  if not isinstance(symmetry, MDPSymmetry):
    raise ValueError(
      f"{builder}: expected an MDPSymmetry with continuous_actions=True, received "
      f"{type(symmetry).__name__}."
    )
  if not symmetry.continuous_actions:
    raise ValueError(
      f"{builder}: the symmetry has discrete actions ({symmetry.action_rep.name!r} permutes "
      f"{symmetry.num_actions} action indices); these networks need an MDPSymmetry with "
      "continuous_actions=True and an orthogonal action representation. For discrete actions "
      "use tf_equirl.networks.build_actor / build_critic."
    )
  return symmetry


def _lift(kind: str, width: int, rep: Representation, num_kernels: int, name: str):
  """The first layer of an equivariant trunk: `[batch, d] -> [batch, |G|, width]`."""
  args = dict(activation="relu", kernel_initializer=_orth(), name=name)
  if kind == "gcnn":
    return GroupLift(width, rep, **args)
  if kind == "rpp":
    return ResidualGroupLift(width, rep, free_decay=RPP_FREE_DECAY, **args)
  return RelaxedGroupLift(
    width, rep, num_kernels=num_kernels, parameterization=_parameterization(kind), **args
  )


def _conv(kind: str, width: int, symmetry: Any, num_kernels: int, **args):
  """A regular-to-regular layer of the trunk (`args`: activation, initializer, name);
  `symmetry` is an `MDPSymmetry` or its `FiniteGroup`."""
  group = getattr(symmetry, "group", symmetry)
  if kind == "gcnn":
    return GroupConv(width, group, **args)
  if kind == "rpp":
    return ResidualGroupConv(width, group, free_decay=RPP_FREE_DECAY, **args)
  return RelaxedGroupConv(
    width, group, num_kernels=num_kernels, parameterization=_parameterization(kind), **args
  )


def _parameterization(kind: str) -> str:
  return "centered" if kind == "relaxed_centered" else "direct"


def _state_trunk(kind: str, symmetry: MDPSymmetry, width: int, num_kernels: int):
  """The equivariant actors' trunk as a function of the observation tensor: the lift
  (`lift`) and a hidden regular layer (`hidden`, ReLU), `[batch, d] -> [batch, |G|, width]`."""
  lift = _lift(kind, width, symmetry.state_rep, num_kernels, name="lift")
  hidden = _conv(
    kind, width, symmetry, num_kernels, activation="relu", kernel_initializer=_orth(), name="hidden"
  )
  return lambda x: hidden(lift(x))


def mlp_actor(symmetry: MDPSymmetry, width: int, name: str = "mlp_actor") -> keras.Model:
  """`s -> tanh(W3 relu(W2 relu(W1 s)))`, no symmetry."""
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name="dense_1")(inp)
  h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name="dense_2")(h)
  out = keras.layers.Dense(symmetry.action_dim, "tanh", name="action")(h)
  return keras.Model(inp, out, name=name)


def equivariant_actor(
  kind: str, symmetry: MDPSymmetry, width: int, num_kernels: int = RELAXED_KERNELS, name=None
) -> keras.Model:
  """Lift, a hidden regular layer, a regular layer onto `k` channels, `RegularToAction`."""
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = _state_trunk(kind, symmetry, width, num_kernels)(inp)
  h = _conv(
    kind,
    symmetry.action_dim,
    symmetry,
    num_kernels,
    kernel_initializer=_orth(1.0),
    name="output",
  )(h)
  out = RegularToAction(symmetry.action_rep, name="action")(h)
  return keras.Model(inp, out, name=name or f"{kind}_actor")


def _mlp_q(sa, width: int, tag: str):
  h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name=f"{tag}_dense_1")(sa)
  h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name=f"{tag}_dense_2")(h)
  return keras.layers.Dense(1, name=f"{tag}_value")(h)


def _equivariant_q(kind, symmetry: MDPSymmetry, sa_rep, sa, width: int, num_kernels: int, tag):
  h = _lift(kind, width, sa_rep, num_kernels, name=f"{tag}_lift")(sa)
  h = _conv(
    kind,
    width,
    symmetry,
    num_kernels,
    activation="relu",
    kernel_initializer=_orth(),
    name=f"{tag}_conv",
  )(h)
  h = GroupPool("mean", name=f"{tag}_pool")(h)
  return keras.layers.Dense(1, name=f"{tag}_value")(h)


def twin_critic(
  kind: str, symmetry: MDPSymmetry, width: int, num_kernels: int = RELAXED_KERNELS, name=None
) -> keras.Model:
  """`[observation, action] -> [Q1, Q2]` (`[batch, 2]`), two independent trunks on the
  concatenated `(s, a)`; for the equivariant kinds lifted under `rho + pi`."""
  obs = keras.Input((symmetry.state_dim,), name="observation")
  act = keras.Input((symmetry.action_dim,), name="action")
  sa = keras.layers.Concatenate(name="state_action")([obs, act])
  if kind in ("mlp", "augment"):
    heads = [_mlp_q(sa, width, f"q{i}") for i in (1, 2)]
  else:
    sa_rep = direct_sum(symmetry.state_rep, symmetry.action_rep)
    heads = [
      _equivariant_q(kind, symmetry, sa_rep, sa, width, num_kernels, f"q{i}") for i in (1, 2)
    ]
  out = keras.layers.Concatenate(name="twin_q")(heads)
  return keras.Model([obs, act], out, name=name or f"{kind}_critic")


def _check_kind(kind: Any, builder: str) -> str:
  if kind not in CONTINUOUS_KINDS:
    raise ValueError(
      f"{builder}: unknown network kind {kind!r}; expected one of {CONTINUOUS_KINDS}."
    )
  return kind


def _check_width(width: Any, builder: str) -> None:
  if width is not None and (
    isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1
  ):
    raise ValueError(
      f"{builder}: width must be a positive integer or None (match the mlp's parameter "
      f"count), received width={width!r}."
    )


def _check_kernels(num_kernels: Any, builder: str) -> int:
  if (
    isinstance(num_kernels, bool)
    or not isinstance(num_kernels, (int, np.integer))
    or num_kernels < 1
  ):
    raise ValueError(
      f"{builder}: num_kernels (L of the relaxed layers) must be a positive integer, received "
      f"num_kernels={num_kernels!r}."
    )
  return int(num_kernels)


def _actor(kind: str, symmetry: MDPSymmetry, width: int, num_kernels: int) -> keras.Model:
  if kind in ("mlp", "augment"):
    return mlp_actor(symmetry, width, name=f"{kind}_actor")
  return equivariant_actor(kind, symmetry, width, num_kernels)


@functools.lru_cache(maxsize=64)
def matched_width(
  kind: str, role: str, symmetry: MDPSymmetry, num_kernels: int = RELAXED_KERNELS
) -> int:
  """The width of `kind`'s actor or critic (`role`) whose parameter count is closest to the
  mlp's at `MLP_WIDTH` (within 10 %)."""
  if kind in ("mlp", "augment"):
    return MLP_WIDTH
  if role == "actor":
    target = count_params(mlp_actor(symmetry, MLP_WIDTH))
    build = lambda w: equivariant_actor(kind, symmetry, w, num_kernels)  # noqa: E731
  else:
    target = count_params(twin_critic("mlp", symmetry, MLP_WIDTH))
    build = lambda w: twin_critic(kind, symmetry, w, num_kernels)  # noqa: E731
  width, _ = match_width(build, target, tolerance=0.1, widths=range(1, 1025))
  return width


def build_continuous_actor(
  kind: str,
  symmetry: MDPSymmetry,
  width: Optional[int] = None,
  num_kernels: int = RELAXED_KERNELS,
) -> keras.Model:
  """Deterministic actor `observation [batch, d] -> action [batch, k]` in `[-1, 1]^k`.

  Args:
    kind: one of `CONTINUOUS_KINDS`.
    symmetry: an `MDPSymmetry` with `continuous_actions=True`.
    width: hidden channels (per group element for the equivariant kinds); None matches the
      mlp's parameter count.
    num_kernels: L of the relaxed layers (relaxed kinds only).

  Returns:
    A `keras.Model`, serialisable as `.keras` in safe mode.

  Raises:
    ValueError: an unknown kind, a symmetry with discrete actions, a bad width or L.
  """
  builder = "build_continuous_actor"
  _check_kind(kind, builder)
  check_continuous(symmetry, builder)
  _check_width(width, builder)
  num_kernels = _check_kernels(num_kernels, builder)
  width = width or matched_width(kind, "actor", symmetry, num_kernels)
  return _actor(kind, symmetry, int(width), num_kernels)


def build_continuous_critic(
  kind: str,
  symmetry: MDPSymmetry,
  width: Optional[int] = None,
  num_kernels: int = RELAXED_KERNELS,
) -> keras.Model:
  """Twin critic `[observation [batch, d], action [batch, k]] -> [batch, 2]`.

  Arguments, return and errors as `build_continuous_actor`; the equivariant kinds are
  invariant, `Q(rho(g) s, pi(g) a) = Q(s, a)`.
  """
  builder = "build_continuous_critic"
  _check_kind(kind, builder)
  check_continuous(symmetry, builder)
  _check_width(width, builder)
  num_kernels = _check_kernels(num_kernels, builder)
  width = width or matched_width(kind, "critic", symmetry, num_kernels)
  return twin_critic(kind, symmetry, int(width), num_kernels)


# ------------------------------------------------------------------- Gaussian actors (SAC)
class GaussianActor(NamedTuple):
  """A squashed Gaussian policy as two Keras models that share their layers.

  `policy`: `observation [batch, d] -> [mean [batch, k], log_std [batch, k]]`, the Gaussian
  before the tanh (`log_std` within the builder's bounds). `actor`: `observation -> tanh(mean)`,
  the deterministic action the policy is evaluated and saved with (a model of its own, so
  that it loads and acts like a `build_continuous_actor` model).
  """

  policy: keras.Model
  actor: keras.Model


def abs_representation(rep: Representation) -> Representation:
  """`|pi|`: the permutation part of a signed-permutation representation, under which a
  diagonal Gaussian's standard deviations move when its mean moves by `pi`.

  Raises:
    ValueError: a representation with a `pi(g)` that is not a signed permutation matrix (a
      diagonal Gaussian squashed by tanh cannot then be equivariant).
  """
  m = np.asarray(rep.matrices, np.float64)
  # Entries within 1e-6 of 0 or +-1 (a rotation by a quarter turn built with cos and sin).
  snapped = np.where(np.abs(m) < 1e-6, 0.0, np.sign(m))
  if not np.allclose(snapped, m, atol=1e-6) or _signed_permutation(snapped)[0] is None:
    raise ValueError(
      f"abs_representation: the action representation {rep.name!r} has a pi(g) that is not a "
      "signed permutation matrix; a tanh-squashed diagonal Gaussian policy is equivariant "
      "only under signed permutations (sign flips and permutations of the action's entries)."
    )
  return Representation(rep.group, np.abs(snapped), name=f"abs_{rep.name or 'action'}")


def _bounded_log_std(raw, bounds, name: str):
  """`low + (high - low) (tanh(raw) + 1) / 2`, elementwise (so it commutes with `|pi|`)."""
  low, high = (float(b) for b in bounds)
  half = 0.5 * (high - low)
  squashed = keras.layers.Activation("tanh", name=f"{name}_tanh")(raw)
  return keras.layers.Rescaling(half, offset=low + half, name=name)(squashed)


def build_gaussian_actor(
  kind: str,
  symmetry: MDPSymmetry,
  width: Optional[int] = None,
  num_kernels: int = RELAXED_KERNELS,
  log_std_bounds: Any = LOG_STD_BOUNDS,
) -> GaussianActor:
  """Squashed Gaussian policy (SAC) with the trunk of `build_continuous_actor`'s `kind`.

  The mean head is the deterministic actor's output layer without its tanh; the log standard
  deviation head is a second output layer of the same trunk, bounded elementwise to
  `log_std_bounds`. For the equivariant kinds both heads end in `RegularToAction`, the mean's
  under `pi` and the log standard deviation's under `|pi|` (`abs_representation`), so that
  `mean(rho(g) s) = pi(g) mean(s)` and `log_std(rho(g) s) = |pi(g)| log_std(s)`: the law of
  `tanh(mean + std * eps)` at `rho(g) s` is that at `s` moved by `pi(g)` (exactly for "gcnn",
  at initialisation for the relaxed kinds and "rpp"). The width defaults to the deterministic
  actor's matched width.

  Args:
    kind: one of `CONTINUOUS_KINDS`.
    symmetry: an `MDPSymmetry` with `continuous_actions=True` whose action representation is
      made of signed permutation matrices.
    width: hidden width; None matches the mlp's parameter count (as the deterministic actor).
    num_kernels: L of the relaxed layers.
    log_std_bounds: `(low, high)` of the log standard deviation.

  Returns:
    A `GaussianActor` (`policy`, `actor`).

  Raises:
    ValueError: an unknown kind, a symmetry with discrete actions or with an action
      representation that is not made of signed permutations, a bad width, L or bounds.
  """
  builder = "build_gaussian_actor"
  _check_kind(kind, builder)
  check_continuous(symmetry, builder)
  _check_width(width, builder)
  num_kernels = _check_kernels(num_kernels, builder)
  bounds = tuple(log_std_bounds) if isinstance(log_std_bounds, (tuple, list)) else ()
  if len(bounds) != 2 or not all(np.isfinite(float(b)) for b in bounds) or bounds[0] >= bounds[1]:
    raise ValueError(
      f"{builder}: log_std_bounds must be two finite numbers (low, high) with low < high, "
      f"received {log_std_bounds!r}."
    )
  width = int(width or matched_width(kind, "actor", symmetry, num_kernels))
  k = symmetry.action_dim
  inp = keras.Input((symmetry.state_dim,), name="observation")
  if kind in ("mlp", "augment"):
    h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name="dense_1")(inp)
    h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name="dense_2")(h)
    mean = keras.layers.Dense(k, name="mean")(h)
    raw = keras.layers.Dense(k, name="log_std_raw")(h)
  else:
    abs_rep = abs_representation(symmetry.action_rep)
    h = _state_trunk(kind, symmetry, width, num_kernels)(inp)
    m = _conv(kind, k, symmetry, num_kernels, kernel_initializer=_orth(1.0), name="mean_conv")(h)
    mean = RegularToAction(symmetry.action_rep, squash="none", name="mean")(m)
    r = _conv(kind, k, symmetry, num_kernels, kernel_initializer=_orth(1.0), name="log_std_conv")(h)
    raw = RegularToAction(abs_rep, squash="none", name="log_std_raw")(r)
  log_std = _bounded_log_std(raw, bounds, "log_std")
  action = keras.layers.Activation("tanh", name="action")(mean)
  policy = keras.Model(inp, [mean, log_std], name=f"{kind}_gaussian_policy")
  actor = keras.Model(inp, action, name=f"{kind}_actor")
  return GaussianActor(policy, actor)


# ---------------------------------------------------------------- heads on encoder features
def _check_features(kind: Any, action_rep: Any, feature_shape: Any, builder: str):
  """`(kind, feature_shape)` checked: `[F]` for "mlp", `[|G|, F]` regular for the group kinds."""
  heads = ("mlp",) + EQUIVARIANT_KINDS
  if kind not in heads:
    raise ValueError(f"{builder}: unknown head kind {kind!r}; expected one of {heads}.")
  if not isinstance(action_rep, Representation):
    raise ValueError(
      f"{builder}: action_rep must be the orthogonal Representation of the group on the "
      f"action vector, received {type(action_rep).__name__}."
    )
  shape = tuple(int(n) for n in feature_shape)
  want = 1 if kind == "mlp" else 2
  if len(shape) != want or min(shape) < 1:
    layout = "[F] (flat features)" if kind == "mlp" else "[|G|, F] (regular features)"
    raise ValueError(
      f"{builder}: kind={kind!r} takes features of shape {layout}, received feature_shape="
      f"{shape}."
    )
  if kind != "mlp" and shape[0] != action_rep.group.order:
    raise ValueError(
      f"{builder}: the regular features have a group axis of {shape[0]}, but the action "
      f"representation's group {action_rep.group.name} has order {action_rep.group.order}."
    )
  return shape


def _feature_width(kind: str, width: Optional[int], group_order: int, builder: str) -> int:
  """`width`, or `MLP_WIDTH` for "mlp" and `MLP_WIDTH // |G|` channels per group element for
  the group kinds (the seed divides the channels by `|G|`, Park et al. 2025 D.1.1)."""
  _check_width(width, builder)
  if width is not None:
    return int(width)
  return MLP_WIDTH if kind == "mlp" else max(MLP_WIDTH // group_order, 1)


def _check_trunk(trunk: Any, builder: str) -> Optional[int]:
  if trunk is not None and (
    isinstance(trunk, bool) or not isinstance(trunk, (int, np.integer)) or trunk < 1
  ):
    raise ValueError(
      f"{builder}: trunk must be a positive number of features or None (no trunk), received "
      f"trunk={trunk!r}."
    )
  return None if trunk is None else int(trunk)


def _trunk(kind: str, features, trunk: Optional[int], group, num_kernels: int):
  """DrQ-v2's trunk on encoder features, or the features themselves when `trunk` is None: a
  linear layer onto `trunk` features ("mlp"; `max(trunk // |G|, 1)` channels per group
  element for the group kinds, with the kind's regular layer), a layer normalisation
  (`LayerNormalization`; `GroupLayerNorm` for the group kinds, which commutes with `L_g`)
  and tanh: features of a fixed scale in `(-1, 1)` whatever the encoder's scale."""
  if trunk is None:
    return features
  if kind == "mlp":
    h = keras.layers.Dense(trunk, kernel_initializer=_orth(1.0), name="trunk_linear")(features)
    h = keras.layers.LayerNormalization(epsilon=1e-5, name="trunk_norm")(h)
  else:
    channels = max(trunk // group.order, 1)
    h = _conv(
      kind, channels, group, num_kernels, kernel_initializer=_orth(1.0), name="trunk_linear"
    )(features)
    h = GroupLayerNorm(name="trunk_norm")(h)
  return keras.layers.Activation("tanh", name="trunk_tanh")(h)


def build_feature_actor(
  kind: str,
  action_rep: Representation,
  feature_shape: Any,
  width: Optional[int] = None,
  num_kernels: int = RELAXED_KERNELS,
  name: Optional[str] = None,
  trunk: Optional[int] = TRUNK_FEATURES,
) -> keras.Model:
  """Deterministic actor on encoder features: `features -> action [batch, k]` in `[-1, 1]^k`.

  The features first pass DrQ-v2's trunk (`trunk` features, layer normalisation, tanh; the
  actor has its own, as in DrQ-v2). "mlp" takes flat features `[batch, F]` (then two ReLU
  layers, tanh). The group kinds take regular features `[batch, |G|, F]`
  (`build_pixel_encoder(output="regular")`): an equivariant trunk, a hidden regular layer
  (ReLU), a regular layer onto `k` channels and `RegularToAction`, so that
  `actor(L_g f) = pi(g) actor(f)` with `(L_g f)[h] = f[g^-1 h]` (exactly for "gcnn", at
  initialisation for the relaxed kinds and "rpp").

  Args:
    kind: "mlp" or one of `EQUIVARIANT_KINDS`.
    action_rep: the group's orthogonal representation `pi` on the action vector.
    feature_shape: `[F]` ("mlp") or `[|G|, F]` (the group kinds).
    width: hidden width (channels per group element for the group kinds); None is
      `MLP_WIDTH`, divided by `|G|` for the group kinds.
    num_kernels: L of the relaxed layers.
    name: the model's name.
    trunk: features out of the trunk (`TRUNK_FEATURES`, DrQ-v2's 50; divided by `|G|` into
      channels per element for the group kinds), or None for no trunk.

  Returns:
    A `keras.Model`.

  Raises:
    ValueError: an unknown kind, a feature shape of the wrong rank or group axis, a bad
      width, L or trunk.
  """
  builder = "build_feature_actor"
  shape = _check_features(kind, action_rep, feature_shape, builder)
  num_kernels = _check_kernels(num_kernels, builder)
  width = _feature_width(kind, width, action_rep.group.order, builder)
  trunk = _check_trunk(trunk, builder)
  inp = keras.Input(shape, name="features")
  k = action_rep.dim
  h = _trunk(kind, inp, trunk, action_rep.group, num_kernels)
  if kind == "mlp":
    h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name="dense_1")(h)
    h = keras.layers.Dense(width, "relu", kernel_initializer=_orth(), name="dense_2")(h)
    out = keras.layers.Dense(k, "tanh", name="action")(h)
  else:
    group = action_rep.group
    h = _conv(
      kind, width, group, num_kernels, activation="relu", kernel_initializer=_orth(), name="hidden"
    )(h)
    h = _conv(kind, k, group, num_kernels, kernel_initializer=_orth(1.0), name="output")(h)
    out = RegularToAction(action_rep, name="action")(h)
  return keras.Model(inp, out, name=name or f"{kind}_feature_actor")


def build_feature_critic(
  kind: str,
  action_rep: Representation,
  feature_shape: Any,
  width: Optional[int] = None,
  num_kernels: int = RELAXED_KERNELS,
  name: Optional[str] = None,
  trunk: Optional[int] = TRUNK_FEATURES,
) -> keras.Model:
  """Twin critic on encoder features: `[features, action [batch, k]] -> [batch, 2]`.

  The features pass one trunk that both Q-heads share (as DrQ-v2's critic), then
  "mlp": two heads on the concatenated trunk features and action. The group kinds: in each
  head the action is lifted to regular features under `pi` (a lift layer, ReLU), joined to
  the trunk's regular features on the channel axis, then a regular layer (ReLU), `GroupPool`
  and a dense scalar: `Q(L_g f, pi(g) a) = Q(f, a)`. Arguments, return and errors as
  `build_feature_actor`.
  """
  builder = "build_feature_critic"
  shape = _check_features(kind, action_rep, feature_shape, builder)
  num_kernels = _check_kernels(num_kernels, builder)
  width = _feature_width(kind, width, action_rep.group.order, builder)
  trunk = _check_trunk(trunk, builder)
  inputs = keras.Input(shape, name="features")
  action = keras.Input((action_rep.dim,), name="action")
  features = _trunk(kind, inputs, trunk, action_rep.group, num_kernels)
  heads = []
  for tag in ("q1", "q2"):
    if kind == "mlp":
      sa = keras.layers.Concatenate(name=f"{tag}_state_action")([features, action])
      heads.append(_mlp_q(sa, width, tag))
      continue
    lifted = _lift(kind, width, action_rep, num_kernels, name=f"{tag}_action_lift")(action)
    h = keras.layers.Concatenate(axis=-1, name=f"{tag}_state_action")([features, lifted])
    h = _conv(
      kind,
      width,
      action_rep.group,
      num_kernels,
      activation="relu",
      kernel_initializer=_orth(),
      name=f"{tag}_conv",
    )(h)
    h = GroupPool("mean", name=f"{tag}_pool")(h)
    heads.append(keras.layers.Dense(1, name=f"{tag}_value")(h))
  out = keras.layers.Concatenate(name="twin_q")(heads)
  return keras.Model([inputs, action], out, name=name or f"{kind}_feature_critic")
