"""Actor-critic networks built from tf_equirl layers: Keras models and tf-agents wrappers."""

from tf_equirl.networks.builders import (
  ACTOR_KINDS,
  CRITIC_KINDS,
  build_actor,
  build_critic,
  encoder_actor,
  gcnn_actor,
  invariant_critic,
  mlp_actor,
  mlp_critic,
  sign_character,
  symmetrizer_actor,
)
from tf_equirl.networks.pixel import PIXEL_ENCODER_KINDS, build_pixel_encoder
from tf_equirl.networks.tf_agents_networks import ActorNetwork, LogitsActorNetwork, ValueNetwork

__all__ = [
  "ACTOR_KINDS",
  "CRITIC_KINDS",
  "build_actor",
  "build_critic",
  "mlp_actor",
  "mlp_critic",
  "gcnn_actor",
  "symmetrizer_actor",
  "encoder_actor",
  "invariant_critic",
  "sign_character",
  "PIXEL_ENCODER_KINDS",
  "build_pixel_encoder",
  "ActorNetwork",
  "LogitsActorNetwork",
  "ValueNetwork",
]
