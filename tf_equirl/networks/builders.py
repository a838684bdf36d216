"""Keras actor and critic models for discrete-action agents, built from an `MDPSymmetry`.

Every builder returns a plain `keras.Model` mapping an observation batch `[batch, d]` to
action logits `[batch, |A|]` (actors) or values `[batch, 1]` (critics). These models are
what the zoo saves; `tf_equirl.networks.ActorNetwork` / `ValueNetwork` wrap them for
tf-agents.

Kinds (thesis 4.6 and Table 5.4):
  mlp          64-64 tanh baseline of PureJaxRL (orthogonal init: sqrt 2 hidden, 0.01 actor
               head, 1.0 critic head).
  gcnn         equivariant actor. If every `rho(g)` is `+-I` and some is `-I` (CartPole's
               mirror), the thesis' odd network: a tanh MLP without biases, then
               `EquivariantLogits` on the sign features (eq. 4.8-4.10). Otherwise a
               `GroupLift`, a hidden regular layer (`hidden=`: "permutation",
               `PermutationEquivariantDense`, thesis 4.6.2.1; "group_conv", `GroupConv`;
               "siamese", one `Dense` shared by every group element, no mixing between
               them, which eq. 4.15 allows as well) and
               `EquivariantLogits` (eq. 4.12-4.20). With "siamese" the trunk is an MLP run
               on every `rho(g) s` (Catch: the 64-64 MLP's trunk, 7,618 parameters).
  symmetrizer  MDP homomorphic network: `SymmetrizerDense` layers state -> regular ->
               regular -> actions (thesis 3.1.1).
  invariant    (critics) `GroupLift`, a hidden regular layer, `GroupPool`, a dense output:
               `V(rho(g) s) = V(s)`.
  relaxed      approximately equivariant (Park et al. 2025, 3.3): `RelaxedGroupLift`,
               `RelaxedGroupConv` (2 kernels each), then `EquivariantLogits` (actors) or
               `GroupPool` and a dense output (critics). Starts exactly equivariant; the
               relaxed weights let it learn how much symmetry the environment has.
  rpp          residual pathway prior (Finzi et al. 2021): `ResidualGroupLift`,
               `ResidualGroupConv` (exact + unconstrained paths, the unconstrained ones
               decayed by `RPP_FREE_DECAY` per step), then the same heads.
  encoder      (actors) equivariant encoder, unconstrained head (Mondal et al. 2020, thesis
               3.1.2): the lifted gcnn's `GroupLift` and hidden regular layer, the regular
               features flattened (an equivariant latent), a dense layer onto the logits.
               Only the encoder is equivariant; the policy as a whole is not.
  augment      (actors) the `mlp` actor, trained by the PPO learner on the batch extended by
               its transformed copies (symmetry data augmentation, see
               `tf_equirl.agents.ppo.augmentation`); the network itself is the MLP.
  steerable    hidden features in irreducible coordinates (the regular Fourier basis), kept
               there between layers: `IrrepLift`, `IrrepDense` (norm nonlinearity: tanh
               on the trivial and one-dimensional coordinates, `x tanh|x|/|x|` on the others;
               the norms feed the invariants), then `IrrepLogits` (actors) or
               `IrrepInvariants` and a dense output (critics). The linear maps of the
               gcnn with `hidden="group_conv"` plus norms -> invariants, no change of
               basis; any state representation (CartPole's `-I` included).
  steerable_lean  the steerable network with free multiplicities per irreducible type
               (`IsotypicLift`, `IsotypicDense`, then `IsotypicLogits` or
               `IsotypicInvariants` and a dense output), chosen by `lean_multiplicities`
               (default rule "action": the copies go to the types the actions contain).
Widths default to the one that keeps the model within 10 % of the 64-64 MLP's parameters
(the closest count), except the odd network, which keeps the thesis' width 64 (`ODD_WIDTH`).
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from tf_equirl.groups import MDPSymmetry, Representation
from tf_equirl.layers import (
  EquivariantLogits,
  GroupConv,
  GroupLift,
  GroupPool,
  IrrepDense,
  IrrepInvariants,
  IrrepLift,
  IrrepLogits,
  IsotypicDense,
  IsotypicInvariants,
  IsotypicLift,
  IsotypicLogits,
  PermutationEquivariantDense,
  RelaxedGroupConv,
  RelaxedGroupLift,
  ResidualGroupConv,
  ResidualGroupLift,
  SymmetrizerDense,
)
from tf_equirl.layers import _isotypic
from tf_equirl.params import count_params, match_width

from tensorflow import keras

ACTOR_KINDS = (
  "mlp",
  "gcnn",
  "symmetrizer",
  "relaxed",
  "rpp",
  "encoder",
  "augment",
  "steerable",
  "steerable_lean",
)
CRITIC_KINDS = ("mlp", "invariant", "relaxed", "rpp", "steerable", "steerable_lean")
APPROXIMATE_KINDS = ("relaxed", "rpp")
AUGMENTED_KINDS = ("augment",)  # kinds the learner trains on symmetry-augmented batches
RELAXED_KERNELS = 2  # L of the relaxed layers (seed 002 / Wang et al. 2022 use a few)
RPP_FREE_DECAY = 1e-3  # per-step decay of the unconstrained path (a stronger prior)
HIDDEN_KINDS = ("permutation", "group_conv", "siamese")
MLP_WIDTH = 64  # PureJaxRL / thesis Table 5.4 baseline
# The odd network's width: the thesis' (Table 5.4: its equivariant actor-critic has 8,961
# parameters = the MLP critic's 4,545 + a 4-64-64 odd network's 4,416). 4,481 parameters here,
# within the 10 % rule of the MLP's 4,610; the closest count (width 65) trains about 13 %
# slower under XLA, whose code for widths off a multiple of 16 is markedly slower
# (docs/notes/ppo_throughput.md).
ODD_WIDTH = 64

_HIDDEN_GAIN = float(np.sqrt(2.0))  # PureJaxRL orthogonal init gains
_ACTOR_HEAD_GAIN = 0.01
_CRITIC_HEAD_GAIN = 1.0


def _orth(gain: float):
  return keras.initializers.Orthogonal(gain=gain)


def sign_character(rep: Representation) -> Optional[np.ndarray]:
  """`chi` with `rho(g) = chi(g) I` and `chi(g) = -1` for some g (CartPole's mirror: the
  odd network applies), else None. A representation with `chi = 1` everywhere (a trivial
  group's, or one that fixes every state) gets None: an odd network would impose
  `f(-s) = -f(s)`, a symmetry the group does not have."""
  chi = rep.scalar_character()
  return chi if chi is not None and np.any(chi < 0) else None


def _hidden_layer(kind: str, width: int, symmetry: MDPSymmetry):
  if kind == "permutation":
    return PermutationEquivariantDense(
      width, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN)
    )
  if kind == "group_conv":
    return GroupConv(
      width, symmetry.group, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN)
    )
  if kind == "siamese":  # one Dense shared by every group element: f'[h] = act(f[h] W + b)
    return keras.layers.Dense(width, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN))
  raise ValueError(f"hidden must be one of {HIDDEN_KINDS}, received hidden={kind!r}.")


def mlp_actor(
  state_dim: int, num_actions: int, width: int = MLP_WIDTH, name: str = "mlp_actor"
) -> keras.Model:
  inp = keras.Input((state_dim,), name="observation")
  h = keras.layers.Dense(width, "tanh", kernel_initializer=_orth(_HIDDEN_GAIN))(inp)
  h = keras.layers.Dense(width, "tanh", kernel_initializer=_orth(_HIDDEN_GAIN))(h)
  out = keras.layers.Dense(num_actions, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits")(
    h
  )
  return keras.Model(inp, out, name=name)


def mlp_critic(state_dim: int, width: int = MLP_WIDTH, name: str = "mlp_critic") -> keras.Model:
  inp = keras.Input((state_dim,), name="observation")
  h = keras.layers.Dense(width, "tanh", kernel_initializer=_orth(_HIDDEN_GAIN))(inp)
  h = keras.layers.Dense(width, "tanh", kernel_initializer=_orth(_HIDDEN_GAIN))(h)
  out = keras.layers.Dense(1, kernel_initializer=_orth(_CRITIC_HEAD_GAIN), name="value")(h)
  return keras.Model(inp, out, name=name)


def gcnn_actor(
  symmetry: MDPSymmetry, width: int, hidden: str = "permutation", name: str = "gcnn_actor"
) -> keras.Model:
  inp = keras.Input((symmetry.state_dim,), name="observation")
  chi = sign_character(symmetry.state_rep)
  if chi is not None:
    # Odd network: tanh is odd and there are no biases, so f(chi(g) s) = chi(g) f(s).
    h = keras.layers.Dense(width, "tanh", use_bias=False, kernel_initializer=_orth(_HIDDEN_GAIN))(
      inp
    )
    h = keras.layers.Dense(width, "tanh", use_bias=False, kernel_initializer=_orth(_HIDDEN_GAIN))(h)
    sign = Representation(symmetry.group, chi[:, None, None] * np.eye(width), name="sign")
    out = EquivariantLogits(
      symmetry.action_rep, input_rep=sign, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits"
    )(h)
  else:
    h = GroupLift(
      width, symmetry.state_rep, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN)
    )(inp)
    h = _hidden_layer(hidden, width, symmetry)(h)
    out = EquivariantLogits(
      symmetry.action_rep, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits"
    )(h)
  return keras.Model(inp, out, name=name)


def symmetrizer_actor(
  symmetry: MDPSymmetry, width: int, name: str = "symmetrizer_actor"
) -> keras.Model:
  regular = Representation.regular(symmetry.group)
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = SymmetrizerDense(
    width, symmetry.state_rep, regular, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN)
  )(inp)
  h = SymmetrizerDense(
    width, regular, regular, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN)
  )(h)
  out = SymmetrizerDense(
    1, regular, symmetry.action_rep, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits"
  )(h)
  return keras.Model(inp, out, name=name)


def encoder_actor(
  symmetry: MDPSymmetry, width: int, hidden: str = "permutation", name: str = "encoder_actor"
) -> keras.Model:
  """Equivariant encoder with an unconstrained head (Mondal et al. 2020, thesis 3.1.2).

  The encoder is the lifted gcnn's trunk, `f(s) = hidden(GroupLift(s))` with
  `f(rho(g) s) = L_g f(s)` (regular features `[batch, |G|, width]`, group axis 1). The head
  is a dense layer on the flattened features (the layer named "latent"), like the Q-head
  Mondal et al. put on their equivariant latent. The features are flattened, not
  group-pooled: pooled features are invariant, and an invariant policy could not tell a
  state from its mirror image, where the actions must differ (Catch: a ball on the left
  against one on the right). The head is free, so `pi(pi(g) a | rho(g) s) != pi(a | s)` in
  general (the thesis, 4.6.1.1, contrasts its end-to-end equivariant actor with this).
  """
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = GroupLift(
    width, symmetry.state_rep, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN)
  )(inp)
  h = _hidden_layer(hidden, width, symmetry)(h)
  h = keras.layers.Flatten(name="latent")(h)
  out = keras.layers.Dense(
    symmetry.num_actions, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits"
  )(h)
  return keras.Model(inp, out, name=name)


def invariant_critic(
  symmetry: MDPSymmetry, width: int, hidden: str = "permutation", name: str = "invariant_critic"
) -> keras.Model:
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = GroupLift(
    width, symmetry.state_rep, activation="tanh", kernel_initializer=_orth(_HIDDEN_GAIN)
  )(inp)
  h = _hidden_layer(hidden, width, symmetry)(h)
  h = GroupPool("mean")(h)
  out = keras.layers.Dense(1, kernel_initializer=_orth(_CRITIC_HEAD_GAIN), name="value")(h)
  return keras.Model(inp, out, name=name)


def _steerable_trunk(symmetry: MDPSymmetry, width: int, inp):
  """`IrrepLift` and `IrrepDense`: `[batch, |G|, width]` in irreducible coordinates."""
  h = IrrepLift(width, symmetry.state_rep, kernel_initializer=_orth(_HIDDEN_GAIN))(inp)
  return IrrepDense(width, symmetry.group, kernel_initializer=_orth(_HIDDEN_GAIN))(h)


def steerable_actor(
  symmetry: MDPSymmetry, width: int, name: str = "steerable_actor"
) -> keras.Model:
  """Steerable actor: `pi(pi(g) a | rho(g) s) = pi(a | s)` with features in irreducible
  coordinates (see `tf_equirl.layers._irreps`)."""
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = _steerable_trunk(symmetry, width, inp)
  out = IrrepLogits(symmetry.action_rep, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits")(
    h
  )
  return keras.Model(inp, out, name=name)


def steerable_critic(
  symmetry: MDPSymmetry, width: int, name: str = "steerable_critic"
) -> keras.Model:
  """Invariant critic on the steerable trunk: `IrrepInvariants` (trivial coordinates and
  norms), a dense output: `V(rho(g) s) = V(s)`."""
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = IrrepInvariants(symmetry.group)(_steerable_trunk(symmetry, width, inp))
  out = keras.layers.Dense(1, kernel_initializer=_orth(_CRITIC_HEAD_GAIN), name="value")(h)
  return keras.Model(inp, out, name=name)


LEAN_RULES = ("uniform", "trivial", "action")
LEAN_RULE = "action"  # learned best of the three on the grid world (see lean_multiplicities)


def lean_multiplicities(
  symmetry: MDPSymmetry, width: int, rule: str = LEAN_RULE, role: str = "actor"
) -> tuple:
  """Hidden multiplicities of the `steerable_lean` networks, one per type of
  `_isotypic.irrep_types(group)` (trivial first), from one `width`.

  Only the types the state representation contains get channels (the others would stay
  zero: equivariant maps keep types apart), the trivial type always (it receives the norms).
  Rules (`m_t = max(1, round(width * share_t))`):
    uniform  share 1 for every type: the same number of copies of each.
    trivial  share 1 for the trivial type, 1/4 for the others: most parameters in the
             invariant channels, whose weights cost one multiply-add each.
    action   (actors) share `d` (as in the regular layout) for the non-trivial types the
             action representation contains, 1/4 for the trivial type and the others: with
             the norm nonlinearity only copies of the action's types carry the direction of
             a move to the logits; the rest only shift the invariant logits. Critics use
             "trivial".
  On the grid world over D4 (32 seeds, mean return over the run, PPO defaults, MLP critic)
  "action" learned best, 0.743 +- 0.007, as well as the regular steerable actor (0.733 +-
  0.011); "uniform" reached 0.670 +- 0.012 and "trivial" 0.508 +- 0.026 (exploratory runs,
  not kept; results/ppo_grid/README.md has the "action" arm). The cheap rules are cheap because
  they hold few copies of the two-dimensional type, and those are what the actor needs.
  """
  if rule not in LEAN_RULES:
    raise ValueError(
      f"lean_multiplicities: rule must be one of {LEAN_RULES}, received " f"rule={rule!r}."
    )
  state = [b.shape[0] > 0 for b in _isotypic.bases_from(symmetry.state_rep)]
  action = [b.shape[0] > 0 for b in _isotypic.bases_onto(symmetry.action_rep)]
  if rule == "action" and role != "actor":
    rule = "trivial"
  types = _isotypic.irrep_types(symmetry.group)
  counts = []
  for i, (t, in_state, in_action) in enumerate(zip(types, state, action)):
    if i and not in_state:
      counts.append(0)
      continue
    if rule == "uniform":
      share = 1.0
    elif rule == "trivial":
      share = 1.0 if i == 0 else 0.25
    else:  # "action": the regular layout's d copies for the action's non-trivial types
      share = float(t.dim) if (i and in_action) else 0.25
    counts.append(max(1, int(round(width * share))))
  return tuple(counts)


def _lean_trunk(symmetry: MDPSymmetry, counts: tuple, inp):
  """`IsotypicLift` (types the state lacks left out) and `IsotypicDense`: `[batch, D]`."""
  lifted = tuple(
    m if b.shape[0] else 0 for b, m in zip(_isotypic.bases_from(symmetry.state_rep), counts)
  )
  h = IsotypicLift(lifted, symmetry.state_rep, kernel_initializer=_orth(_HIDDEN_GAIN))(inp)
  return IsotypicDense(counts, symmetry.group, lifted, kernel_initializer=_orth(_HIDDEN_GAIN))(h)


def steerable_lean_actor(
  symmetry: MDPSymmetry, width: int, rule: str = LEAN_RULE, name: str = "steerable_lean_actor"
) -> keras.Model:
  """Steerable actor with free multiplicities (`lean_multiplicities(width, rule)`):
  `pi(pi(g) a | rho(g) s) = pi(a | s)`."""
  counts = lean_multiplicities(symmetry, width, rule, "actor")
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = _lean_trunk(symmetry, counts, inp)
  out = IsotypicLogits(
    symmetry.action_rep, counts, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits"
  )(h)
  return keras.Model(inp, out, name=name)


def steerable_lean_critic(
  symmetry: MDPSymmetry, width: int, rule: str = LEAN_RULE, name: str = "steerable_lean_critic"
) -> keras.Model:
  """Invariant critic on the lean trunk: `IsotypicInvariants`, a dense output."""
  counts = lean_multiplicities(symmetry, width, rule, "critic")
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = IsotypicInvariants(symmetry.group, counts)(_lean_trunk(symmetry, counts, inp))
  out = keras.layers.Dense(1, kernel_initializer=_orth(_CRITIC_HEAD_GAIN), name="value")(h)
  return keras.Model(inp, out, name=name)


def _approximate_trunk(
  kind: str, symmetry: MDPSymmetry, width: int, inp, parameterization: str = "direct"
):
  """Lift and hidden layer of the `relaxed` / `rpp` networks, `[batch, |G|, width]`;
  `parameterization` of the relaxed weights (`tf_equirl.layers.relaxed`)."""
  if kind == "relaxed":
    h = RelaxedGroupLift(
      width,
      symmetry.state_rep,
      num_kernels=RELAXED_KERNELS,
      parameterization=parameterization,
      activation="tanh",
      kernel_initializer=_orth(_HIDDEN_GAIN),
    )(inp)
    return RelaxedGroupConv(
      width,
      symmetry.group,
      num_kernels=RELAXED_KERNELS,
      parameterization=parameterization,
      activation="tanh",
      kernel_initializer=_orth(_HIDDEN_GAIN),
    )(h)
  h = ResidualGroupLift(
    width,
    symmetry.state_rep,
    free_decay=RPP_FREE_DECAY,
    activation="tanh",
    kernel_initializer=_orth(_HIDDEN_GAIN),
  )(inp)
  return ResidualGroupConv(
    width,
    symmetry.group,
    free_decay=RPP_FREE_DECAY,
    activation="tanh",
    kernel_initializer=_orth(_HIDDEN_GAIN),
  )(h)


def approximate_actor(
  kind: str,
  symmetry: MDPSymmetry,
  width: int,
  name: Optional[str] = None,
  parameterization: str = "direct",
) -> keras.Model:
  """`relaxed` or `rpp` actor: approximately equivariant trunk, `EquivariantLogits` head."""
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = _approximate_trunk(kind, symmetry, width, inp, parameterization)
  out = EquivariantLogits(
    symmetry.action_rep, kernel_initializer=_orth(_ACTOR_HEAD_GAIN), name="logits"
  )(h)
  return keras.Model(inp, out, name=name or f"{kind}_actor")


def approximate_critic(
  kind: str,
  symmetry: MDPSymmetry,
  width: int,
  name: Optional[str] = None,
  parameterization: str = "direct",
) -> keras.Model:
  """`relaxed` or `rpp` critic: approximately invariant trunk, `GroupPool`, dense output."""
  inp = keras.Input((symmetry.state_dim,), name="observation")
  h = GroupPool("mean")(_approximate_trunk(kind, symmetry, width, inp, parameterization))
  out = keras.layers.Dense(1, kernel_initializer=_orth(_CRITIC_HEAD_GAIN), name="value")(h)
  return keras.Model(inp, out, name=name or f"{kind}_critic")


@functools.lru_cache(maxsize=64)
def _matched_width(kind: str, role: str, symmetry: MDPSymmetry, hidden: str) -> int:
  if kind == "gcnn" and role == "actor" and sign_character(symmetry.state_rep) is not None:
    return ODD_WIDTH
  if role == "actor":
    target = count_params(mlp_actor(symmetry.state_dim, symmetry.num_actions))
    build = {
      "gcnn": lambda w: gcnn_actor(symmetry, w, hidden),
      "symmetrizer": lambda w: symmetrizer_actor(symmetry, w),
      "relaxed": lambda w: approximate_actor("relaxed", symmetry, w),
      "rpp": lambda w: approximate_actor("rpp", symmetry, w),
      "encoder": lambda w: encoder_actor(symmetry, w, hidden),
      "steerable": lambda w: steerable_actor(symmetry, w),
      "steerable_lean": lambda w: steerable_lean_actor(symmetry, w),
    }[kind]
  elif kind in ("steerable", "steerable_lean"):
    target = count_params(mlp_critic(symmetry.state_dim))
    build = lambda w: (
      steerable_critic
      if kind == "steerable"  # noqa: E731
      else steerable_lean_critic
    )(symmetry, w)
  else:
    target = count_params(mlp_critic(symmetry.state_dim))
    build = (
      functools.partial(approximate_critic, kind, symmetry)
      if kind in APPROXIMATE_KINDS
      else lambda w: invariant_critic(symmetry, w, hidden)
    )
  width, _ = match_width(build, target, tolerance=0.1, widths=range(1, 513))
  return width


def _check_discrete(symmetry: MDPSymmetry, builder: str) -> None:
  """The discrete-action builders need a symmetry that permutes action indices."""
  if getattr(symmetry, "continuous_actions", False):
    raise ValueError(
      f"{builder}: the symmetry has continuous actions (an orthogonal representation "
      f"{symmetry.action_rep.name!r} on a {symmetry.action_dim}-vector); these builders make "
      "logits over discrete actions. Use tf_equirl.networks.continuous."
      "build_continuous_actor / build_continuous_critic."
    )


def _check_width(width, role: str) -> None:
  """A width is None (match the MLP's parameter count) or a positive integer: 0 must not
  quietly mean None."""
  if width is not None and (
    isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1
  ):
    raise ValueError(
      f"The {role}'s width must be a positive integer or None (match the "
      f"MLP's parameter count), received {width!r}."
    )


def build_actor(
  kind: str,
  symmetry: MDPSymmetry,
  width: Optional[int] = None,
  hidden: str = "permutation",
  relaxed_parameterization: str = "direct",
) -> keras.Model:
  """Actor logits model of `kind`; `width=None` matches the 64-64 MLP's parameter count.
  `relaxed_parameterization` ("direct" or "centered") applies to the `relaxed` kind."""
  if kind not in ACTOR_KINDS:
    raise ValueError(f"Unknown actor network {kind!r}; expected one of {ACTOR_KINDS}.")
  _check_discrete(symmetry, "build_actor")
  _check_width(width, "actor")
  if kind == "mlp":
    return mlp_actor(symmetry.state_dim, symmetry.num_actions, width or MLP_WIDTH)
  if kind == "augment":
    return mlp_actor(
      symmetry.state_dim, symmetry.num_actions, width or MLP_WIDTH, name="augment_actor"
    )
  width = width or _matched_width(kind, "actor", symmetry, hidden)
  if kind == "gcnn":
    return gcnn_actor(symmetry, width, hidden)
  if kind in APPROXIMATE_KINDS:
    return approximate_actor(kind, symmetry, width, parameterization=relaxed_parameterization)
  if kind == "encoder":
    return encoder_actor(symmetry, width, hidden)
  if kind == "steerable":
    return steerable_actor(symmetry, width)
  if kind == "steerable_lean":
    return steerable_lean_actor(symmetry, width)
  return symmetrizer_actor(symmetry, width)


def build_critic(
  kind: str,
  symmetry: MDPSymmetry,
  width: Optional[int] = None,
  hidden: str = "permutation",
  relaxed_parameterization: str = "direct",
) -> keras.Model:
  """Critic value model of `kind` (`mlp`, `invariant`, `relaxed` or `rpp`)."""
  if kind not in CRITIC_KINDS:
    raise ValueError(f"Unknown critic network {kind!r}; expected one of {CRITIC_KINDS}.")
  _check_discrete(symmetry, "build_critic")
  _check_width(width, "critic")
  if kind == "mlp":
    return mlp_critic(symmetry.state_dim, width or MLP_WIDTH)
  if kind in APPROXIMATE_KINDS:
    return approximate_critic(
      kind,
      symmetry,
      width or _matched_width(kind, "critic", symmetry, hidden),
      parameterization=relaxed_parameterization,
    )
  if kind == "steerable":
    return steerable_critic(symmetry, width or _matched_width(kind, "critic", symmetry, hidden))
  if kind == "steerable_lean":
    return steerable_lean_critic(
      symmetry, width or _matched_width(kind, "critic", symmetry, hidden)
    )
  return invariant_critic(
    symmetry, width or _matched_width("invariant", "critic", symmetry, hidden), hidden
  )
