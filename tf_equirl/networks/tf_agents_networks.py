"""tf-agents networks around the Keras actor/critic models of `builders`."""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tf_agents.networks import network
from tf_agents.specs.tensor_spec import BoundedTensorSpec, TensorSpec

from tf_equirl.groups import MDPSymmetry
from tf_equirl.networks import builders


def _flat_dim(spec) -> int:
  return int(np.prod(spec.shape))


class _KerasModelNetwork(network.Network):
  """Flattens observations, runs a Keras model and restores the outer (batch/time) dims.

  tf-agents re-calls the constructor in `copy()` with the recorded keyword arguments, so
  the model is built inside from `kind`/`symmetry`/`width`, never passed in.
  """

  def __init__(self, observation_spec: TensorSpec, model: tf.keras.Model, name: str):
    super().__init__(input_tensor_spec=observation_spec, state_spec=(), name=name)
    self._model = model
    self._obs_rank = len(observation_spec.shape)
    self._obs_dim = _flat_dim(observation_spec)

  @property
  def keras_model(self) -> tf.keras.Model:
    """The underlying Keras model (observation batch -> logits or value)."""
    return self._model

  def _apply(self, observations, training):
    observations = tf.cast(observations, tf.float32)
    outer = tf.shape(observations)[: tf.rank(observations) - self._obs_rank]
    flat = tf.reshape(observations, [-1, self._obs_dim])
    out = self._model(flat, training=training)
    return tf.reshape(out, tf.concat([outer, tf.shape(out)[1:]], axis=0))


class LogitsActorNetwork(_KerasModelNetwork):
  """Categorical policy network around a ready Keras model `observation batch -> logits`.

  Used to turn a loaded model (e.g. from the zoo) into a tf-agents policy. Its `copy()`
  shares the model's weights (the model is a constructor argument).

  Args:
    observation_spec: spec of one observation.
    action_spec: scalar bounded integer spec of the discrete action.
    model: Keras model mapping `[batch, prod(observation_spec.shape)]` to `[batch, |A|]`.
  """

  def __init__(
    self,
    observation_spec: TensorSpec,
    action_spec: BoundedTensorSpec,
    model: tf.keras.Model,
    name: str = "LogitsActorNetwork",
  ):
    num_actions = int(action_spec.maximum) - int(action_spec.minimum) + 1
    inputs = model.inputs[0].shape if getattr(model, "inputs", None) else None
    outputs = model.outputs[0].shape if getattr(model, "outputs", None) else None
    if inputs is not None and (inputs.rank != 2 or inputs[-1] != _flat_dim(observation_spec)):
      raise ValueError(
        f"Model {model.name!r} takes inputs of shape {inputs}; the environment's "
        f"observations flatten to [batch, {_flat_dim(observation_spec)}]."
      )
    if outputs is not None and (outputs.rank != 2 or outputs[-1] != num_actions):
      raise ValueError(
        f"Model {model.name!r} returns shape {outputs}; expected logits "
        f"[batch, {num_actions}] for the environment's {num_actions} actions."
      )
    super().__init__(observation_spec, model, name)
    self._action_dtype = action_spec.dtype

  def call(self, observations, step_type=None, network_state=(), training=False):
    logits = self._apply(observations, training)
    return tfp.distributions.Categorical(logits=logits, dtype=self._action_dtype), network_state


class ActorNetwork(_KerasModelNetwork):
  """Categorical policy network (what `PPOClipAgent` expects: a Network emitting a distribution).

  Args:
    observation_spec: spec of one observation (flattened to a vector for the model).
    action_spec: scalar `BoundedTensorSpec` of the discrete action.
    kind: one of `builders.ACTOR_KINDS` (see `tf_equirl.networks.builders`; "augment" builds
      the MLP, the PPO learner does the augmentation).
    symmetry: the environment's `MDPSymmetry` (required for every kind; the MLP uses only
      its sizes).
    width: hidden width; None matches the 64-64 MLP's parameter count.
    hidden: hidden regular layer of the lifted gcnn ("permutation", "group_conv" or
      "siamese").
    relaxed_parameterization: of the `relaxed` kind's weights ("direct" or "centered").
  """

  def __init__(
    self,
    observation_spec: TensorSpec,
    action_spec: BoundedTensorSpec,
    kind: str,
    symmetry: MDPSymmetry,
    width: Optional[int] = None,
    hidden: str = "permutation",
    name: str = "ActorNetwork",
    relaxed_parameterization: str = "direct",
  ):
    num_actions = int(action_spec.maximum) - int(action_spec.minimum) + 1
    if num_actions != symmetry.num_actions or _flat_dim(observation_spec) != symmetry.state_dim:
      raise ValueError(
        f"ActorNetwork: the symmetry acts on {symmetry.state_dim}-dim states and "
        f"{symmetry.num_actions} actions, but the specs give {_flat_dim(observation_spec)}-dim "
        f"observations and {num_actions} actions."
      )
    super().__init__(
      observation_spec,
      builders.build_actor(kind, symmetry, width, hidden, relaxed_parameterization),
      name,
    )
    self._action_dtype = action_spec.dtype
    self.kind = kind

  call = LogitsActorNetwork.call


class ValueNetwork(_KerasModelNetwork):
  """State-value network `[..., obs] -> [...]` ("mlp" or "invariant" critic)."""

  def __init__(
    self,
    observation_spec: TensorSpec,
    kind: str,
    symmetry: MDPSymmetry,
    width: Optional[int] = None,
    hidden: str = "permutation",
    name: str = "ValueNetwork",
    relaxed_parameterization: str = "direct",
  ):
    super().__init__(
      observation_spec,
      builders.build_critic(kind, symmetry, width, hidden, relaxed_parameterization),
      name,
    )
    self.kind = kind

  def call(self, observations, step_type=None, network_state=(), training=False):
    return tf.squeeze(self._apply(observations, training), -1), network_state
