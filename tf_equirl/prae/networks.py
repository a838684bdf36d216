"""The three networks of a PRAE and the model that holds them.

* State encoder `Z: s -> z` (`build_encoder`): "mlp" is the reference's `EncoderMLP`
  (d -> 64 -> 32 -> 50, ReLU); "gcnn" is `GroupLift` -> `GroupConv` -> linear `GroupConv`
  built from the environment's `MDPSymmetry`, whose latent transforms by the regular
  representation on blocks, `Z(rho(g) s) = (P_g (x) I_c) Z(s)` (`latent_representation`);
  "relaxed" is the same with `RelaxedGroupLift` / `RelaxedGroupConv` (exactly equivariant at
  initialisation, free to leave the symmetry where the data asks).
* Latent transition `T(z, a) = z + A(z, a)` (`build_transition`): the reference's
  `ActionEncoder`, `A = Dense(z)(ReLU(Dense(100)([z, onehot(a)])))`, a state-dependent
  latent action added to z.
* Reward model `R(z)` (`build_reward`): the reference's `RewardPredictor`, z -> 64 -> 1.
* State decoder `D: z -> s` (`build_decoder`), for the autoencoder baseline only
  (`PRAEConfig.objective="autoencoder"`): an MLP mirroring the encoder (50 -> 32 -> 64 -> d,
  ReLU, linear output).
* Equivariant PRAE (`build_transition(..., symmetry=)`, `build_reward(..., symmetry=)`), for
  a latent that transforms by `rho(g) = P_g (x) I_c` (`latent_representation`): the latent
  action lifts `[z, onehot(a)]` jointly, `GroupLift` on the direct sum of the latent and the
  action's permutation representation, then a linear `GroupConv` back to `c` channels per
  element, so `A(rho(g) z, pi(g) a) = rho(g) A(z, a)` and `T` is equivariant too; the reward
  reads `z` as regular features `[|G|, c]`, `GroupConv` -> `GroupPool` (mean) -> `Dense(1)`,
  so `R(rho(g) z) = R(z)`.

Initialisation (`init=`, `PRAEConfig.init`): "reference", the default, draws every weight as
PyTorch's `nn.Linear` does by default, which is what the reference trains from: kernel and bias
uniform in `+-1 / sqrt(fan_in)` (`VarianceScaling(1/3, "fan_in", "uniform")` for the kernel).
The group layers (`GroupLift`, `GroupConv`) take the same rule with their own fan-in (the
state width for a lift, `|G| * in_channels` for a group convolution), which keeps them
equivariant: the rule sets the free kernel, not the tied weights. The relaxed layers keep
their own initialisation (exactly equivariant at the start). "keras": Keras' defaults
(Glorot-uniform kernels, zero biases). The two differ in how the plan comes out (see
`PRAEConfig.init`).

All are functional Keras models of Keras built-ins and registered tf_equirl layers;
`PRAEModel` holds them (the decoder where there is one), is registered, and reloads from `.keras` in safe mode after
`import tf_equirl.prae`.

Parameter count on CartPole with the defaults: encoder 4,050 (4*64+64 + 64*32+32 +
32*50+50), latent action 10,350 ((50+2)*100+100 + 100*50+50), reward 3,329 (50*64+64 +
64+1): 17,729, the count the reference prints when training on CartPole.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from tf_equirl.groups import MDPSymmetry, Representation, direct_sum
from tf_equirl.prae.config import INITS
from tf_equirl.layers import (
  ActionEncoding,
  GroupConv,
  GroupLift,
  GroupPool,
  RelaxedGroupConv,
  RelaxedGroupLift,
  one_hot_action_codes,
)

from tensorflow import keras

__all__ = [
  "build_encoder",
  "build_transition",
  "build_reward",
  "build_decoder",
  "latent_representation",
  "layer_init",
  "PRAEModel",
]

RELAXED_KERNELS = 2  # as tf_equirl.networks.builders' relaxed networks


def _check_init(init: str) -> str:
  if init not in INITS:
    raise ValueError(f"PRAE init must be one of {INITS}, received {init!r}.")
  return init


def layer_init(init: str, fan_in: int) -> Dict[str, Any]:
  """Initialiser arguments of a layer with `fan_in` inputs: for "reference", PyTorch's
  `nn.Linear` default (kernel and bias uniform in `+-1 / sqrt(fan_in)`); for "keras", none
  (Keras' defaults). Fresh initialiser objects on every call (unseeded Keras initialisers
  repeat their values when reused).

  Raises:
    ValueError: an unknown `init`.
  """
  if _check_init(init) == "keras":
    return {}
  bound = 1.0 / float(np.sqrt(fan_in))
  return {
    "kernel_initializer": keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
    "bias_initializer": keras.initializers.RandomUniform(-bound, bound),
  }


def _dense(units: int, fan_in: int, init: str, activation: Optional[str] = None, **kwargs):
  return keras.layers.Dense(units, activation, **layer_init(init, fan_in), **kwargs)


def _group_channels(width: int, order: int, what: str) -> int:
  if width % order:
    raise ValueError(
      f"PRAE group encoder: {what}={width} must be a multiple of the group order {order} "
      f"(it is split into {order} blocks, one per group element)."
    )
  return width // order


def latent_representation(symmetry: MDPSymmetry, latent_dim: int) -> Representation:
  """How the latent of a "gcnn" / "relaxed" encoder transforms: `P_g (x) I_c` on the
  flattened regular features `[|G|, c]` (c = latent_dim / |G|, group-major)."""
  order = symmetry.group.order
  channels = _group_channels(latent_dim, order, "latent_dim")
  regular = Representation.regular(symmetry.group).matrices
  matrices = np.stack([np.kron(regular[g], np.eye(channels)) for g in range(order)])
  return Representation(symmetry.group, matrices, name="prae_latent")


def build_encoder(
  kind: str,
  state_dim: int,
  latent_dim: int,
  hidden: Sequence[int] = (64, 32),
  symmetry: Optional[MDPSymmetry] = None,
  name: str = "encoder",
  init: str = "reference",
) -> keras.Model:
  """State encoder `[B, state_dim] -> [B, latent_dim]`.

  Args:
    kind: "mlp", "gcnn" or "relaxed" (see the module docstring).
    state_dim: observation width.
    latent_dim: latent width (a multiple of |G| for the group encoders).
    hidden: hidden widths; the group encoders use `width / |G|` channels per element.
    symmetry: the environment's symmetry (needed by "gcnn" and "relaxed").
    name: the model's name.
    init: "reference" or "keras" (see the module docstring).

  Raises:
    ValueError: an unknown kind or init, a group kind without a symmetry (or one acting on
      another state width), or widths that are not multiples of |G|.
  """
  _check_init(init)
  inp = keras.Input((state_dim,), name="observation")
  if kind == "mlp":
    h, fan_in = inp, state_dim
    for i, width in enumerate(hidden):
      h = _dense(width, fan_in, init, "relu", name=f"hidden_{i}")(h)
      fan_in = width
    out = _dense(latent_dim, fan_in, init, name="latent")(h)
    return keras.Model(inp, out, name=name)
  if kind not in ("gcnn", "relaxed"):
    raise ValueError(f"PRAE encoder must be 'mlp', 'gcnn' or 'relaxed', received {kind!r}.")
  if symmetry is None or symmetry.state_dim != state_dim:
    raise ValueError(
      f"PRAE encoder {kind!r} needs the environment's MDPSymmetry acting on states of width "
      f"{state_dim}, received {symmetry!r}."
    )
  order = symmetry.group.order
  channels = [_group_channels(w, order, "encoder_hidden width") for w in hidden]
  out_channels = _group_channels(latent_dim, order, "latent_dim")
  lift: Any = GroupLift if kind == "gcnn" else RelaxedGroupLift
  conv: Any = GroupConv if kind == "gcnn" else RelaxedGroupConv
  relaxed = kind == "relaxed"
  extra: Dict[str, Any] = {"num_kernels": RELAXED_KERNELS} if relaxed else {}

  def init_of(fan_in):
    return {} if relaxed else layer_init(init, fan_in)

  h = lift(
    channels[0], symmetry.state_rep, activation="relu", name="lift", **extra, **init_of(state_dim)
  )(inp)
  for i, c in enumerate(channels[1:], 1):
    h = conv(
      c,
      symmetry.group,
      activation="relu",
      name=f"hidden_{i}",
      **extra,
      **init_of(order * channels[i - 1]),
    )(h)
  h = conv(
    out_channels,
    symmetry.group,
    name="latent_features",
    **extra,
    **init_of(order * channels[-1]),
  )(h)
  out = keras.layers.Flatten(name="latent")(h)
  return keras.Model(inp, out, name=name)


def _check_symmetry(symmetry: MDPSymmetry, latent_dim: int, what: str) -> int:
  if not isinstance(symmetry, MDPSymmetry):
    raise ValueError(f"PRAE {what}: symmetry must be an MDPSymmetry, received {symmetry!r}.")
  return _group_channels(latent_dim, symmetry.group.order, "latent_dim")


def build_transition(
  latent_dim: int,
  num_actions: int,
  hidden: int = 100,
  name: str = "transition",
  symmetry: Optional[MDPSymmetry] = None,
  init: str = "reference",
) -> keras.Model:
  """`[z [B, latent_dim], action int32 [B]] -> z + A(z, a)`, A from `[z, onehot(a)]`.

  Args:
    latent_dim: latent width (a multiple of |G| with a symmetry).
    num_actions: number of discrete actions.
    hidden: hidden width of A (with a symmetry: `hidden / |G|` channels per element).
    name: the model's name.
    symmetry: None (the reference's MLP) or the environment's `MDPSymmetry`: then
      `A(rho(g) z, pi(g) a) = rho(g) A(z, a)` with `rho = latent_representation(symmetry,
      latent_dim)` (see the module docstring).
    init: "reference" or "keras" (see the module docstring).

  Raises:
    ValueError: widths that are not multiples of |G|, a symmetry with another number of
      actions, or an unknown init.
  """
  _check_init(init)
  z = keras.Input((latent_dim,), name="latent")
  action = keras.Input((), dtype=tf.int32, name="action")
  code = ActionEncoding(one_hot_action_codes(num_actions), name="action_code")(action)
  h = keras.layers.Concatenate(name="latent_action_input")([z, code])
  if symmetry is None:
    h = _dense(hidden, latent_dim + num_actions, init, "relu", name="action_hidden")(h)
    delta = _dense(latent_dim, hidden, init, name="latent_action")(h)
  else:
    channels = _check_symmetry(symmetry, latent_dim, "transition")
    if symmetry.continuous_actions or symmetry.num_actions != num_actions:
      raise ValueError(
        f"PRAE transition: the symmetry permutes {symmetry.num_actions} discrete actions; the "
        f"environment has {num_actions}."
      )
    order = symmetry.group.order
    joint = direct_sum(latent_representation(symmetry, latent_dim), symmetry.action_rep)
    hidden_channels = _group_channels(hidden, order, "action_hidden")
    h = GroupLift(
      hidden_channels,
      joint,
      activation="relu",
      name="action_hidden",
      **layer_init(init, latent_dim + num_actions),
    )(h)
    h = GroupConv(
      channels,
      symmetry.group,
      name="latent_action_features",
      **layer_init(init, order * hidden_channels),
    )(h)
    delta = keras.layers.Flatten(name="latent_action")(h)
  out = keras.layers.Add(name="next_latent")([z, delta])
  return keras.Model([z, action], out, name=name)


def build_reward(
  latent_dim: int,
  hidden: int = 64,
  name: str = "reward",
  symmetry: Optional[MDPSymmetry] = None,
  init: str = "reference",
) -> keras.Model:
  """`[B, latent_dim] -> [B, 1]`, one ReLU hidden layer.

  With `symmetry`, the latent is read as regular features `[|G|, latent_dim / |G|]` and the
  reward is invariant, `R(rho(g) z) = R(z)`: `GroupConv(hidden / |G|)` -> `GroupPool` (mean)
  -> `Dense(1)`. `init`: "reference" or "keras" (see the module docstring).

  Raises:
    ValueError: widths that are not multiples of |G|, or an unknown init.
  """
  _check_init(init)
  z = keras.Input((latent_dim,), name="latent")
  if symmetry is None:
    h = _dense(hidden, latent_dim, init, "relu", name="reward_hidden")(z)
    fan_in = hidden
  else:
    channels = _check_symmetry(symmetry, latent_dim, "reward")
    order = symmetry.group.order
    h = keras.layers.Reshape((order, channels), name="regular_latent")(z)
    fan_in = _group_channels(hidden, order, "reward_hidden")
    h = GroupConv(
      fan_in,
      symmetry.group,
      activation="relu",
      name="reward_hidden",
      **layer_init(init, latent_dim),
    )(h)
    h = GroupPool("mean", name="reward_pool")(h)
  out = _dense(1, fan_in, init, name="reward")(h)
  return keras.Model(z, out, name=name)


def build_decoder(
  latent_dim: int,
  state_dim: int,
  hidden: Sequence[int] = (32, 64),
  name: str = "decoder",
  init: str = "reference",
) -> keras.Model:
  """State decoder `[B, latent_dim] -> [B, state_dim]` of the autoencoder baseline: ReLU
  hidden layers of widths `hidden` and a linear output (the default mirrors the reference
  encoder's 64, 32). `init`: "reference" or "keras" (see the module docstring).

  Raises:
    ValueError: widths that are not positive integers, or an unknown init.
  """
  _check_init(init)
  for width in (latent_dim, state_dim, *hidden):
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
      raise ValueError(
        f"PRAE decoder: widths must be positive integers, received latent_dim={latent_dim!r}, "
        f"state_dim={state_dim!r}, hidden={tuple(hidden)!r}."
      )
  z = keras.Input((latent_dim,), name="latent")
  h, fan_in = z, latent_dim
  for i, width in enumerate(hidden):
    h = _dense(width, fan_in, init, "relu", name=f"hidden_{i}")(h)
    fan_in = width
  out = _dense(state_dim, fan_in, init, name="reconstruction")(h)
  return keras.Model(z, out, name=name)


@keras.saving.register_keras_serializable(package="tf_equirl")
class PRAEModel(keras.Model):
  """Encoder, latent transition and reward model of a PRAE, saved and loaded together.

  Args:
    encoder: `[B, d] -> [B, k]` (`build_encoder`).
    transition: `[z [B, k], action [B]] -> [B, k]` (`build_transition`).
    reward: `[B, k] -> [B, 1]` (`build_reward`).
    decoder: None, or `[B, k] -> [B, d]` (`build_decoder`, the autoencoder baseline).
    **kwargs: the base `keras.Model` arguments.

  Input shape: `[observation [B, d] float32, action [B] int32]`.
  Output shape: `(z [B, k], predicted next latent [B, k], reward of that latent [B, 1])`.

  Raises:
    ValueError: (at construction) sub-models whose widths do not fit together; (at call)
      observations that are not `[B, d]`.
  """

  def __init__(
    self,
    encoder: keras.Model,
    transition: keras.Model,
    reward: keras.Model,
    decoder: Optional[keras.Model] = None,
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.encoder, self.transition, self.reward = encoder, transition, reward
    self.decoder = decoder
    latent = int(encoder.output_shape[-1])
    if int(transition.output_shape[-1]) != latent or int(reward.input_shape[-1]) != latent:
      raise ValueError(
        f"PRAEModel: the encoder's latent width {latent} must be the transition's "
        f"({transition.output_shape[-1]}) and the reward model's input width "
        f"({reward.input_shape[-1]})."
      )
    if decoder is not None and (
      int(decoder.input_shape[-1]) != latent or decoder.output_shape[-1] != encoder.input_shape[-1]
    ):
      raise ValueError(
        f"PRAEModel: the decoder must map latents of width {latent} to states of width "
        f"{encoder.input_shape[-1]}, received {decoder.input_shape} -> {decoder.output_shape}."
      )
    self.built = True  # the sub-models are built: the weights exist before any call

  @property
  def state_dim(self) -> int:
    return int(self.encoder.input_shape[-1])

  @property
  def latent_dim(self) -> int:
    return int(self.encoder.output_shape[-1])

  @property
  def num_actions(self) -> int:
    return int(self.transition.get_layer("action_code").num_actions)

  def check_observation(self, observation: Any) -> tf.Tensor:
    """`observation` as float32 `[B, d]`; raises `ValueError` naming the shape otherwise."""
    observation = tf.convert_to_tensor(observation)
    shape = observation.shape
    if shape.rank != 2 or (shape[-1] is not None and shape[-1] != self.state_dim):
      raise ValueError(
        f"PRAE: observations must have shape [batch, {self.state_dim}], received shape " f"{shape}."
      )
    if not (observation.dtype.is_floating or observation.dtype.is_integer):
      raise ValueError(
        f"PRAE: observations must be numbers, received dtype {observation.dtype.name}."
      )
    return tf.cast(observation, tf.float32)

  def encode(self, observation: Any, training: bool = False) -> tf.Tensor:
    """Latent states `[B, k]` of observations `[B, d]`."""
    return self.encoder(self.check_observation(observation), training=training)

  def decode(self, z: Any, training: bool = False) -> tf.Tensor:
    """Reconstructed observations `[B, d]` of latents `[B, k]` (autoencoder models only).

    Raises:
      ValueError: a model without a decoder.
    """
    if self.decoder is None:
      raise ValueError(
        "PRAEModel.decode: this model has no decoder (PRAEConfig.objective='autoencoder' "
        "builds one)."
      )
    return self.decoder(tf.convert_to_tensor(z, tf.float32), training=training)

  def call(self, inputs, training=None):
    observation, action = inputs
    z = self.encode(observation, training=training)
    z_next = self.transition([z, action], training=training)
    return z, z_next, self.reward(z_next, training=training)

  def get_config(self) -> Dict[str, Any]:
    config = {"name": self.name, "trainable": self.trainable}
    for part in ("encoder", "transition", "reward"):
      config[part] = keras.saving.serialize_keras_object(getattr(self, part))
    if self.decoder is not None:
      config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
    return config

  @classmethod
  def from_config(cls, config: Dict[str, Any]) -> "PRAEModel":
    config = dict(config)
    parts = {
      part: keras.saving.deserialize_keras_object(config.pop(part))
      for part in ("encoder", "transition", "reward", "decoder")
      if part in config
    }
    return cls(**parts, **config)
