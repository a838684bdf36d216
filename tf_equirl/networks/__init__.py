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
from tf_equirl.networks.pixel_layout import PIXEL_ENCODER_KINDS
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


def __getattr__(name):
  # The pixel encoders load on first use: an actor-critic on states trains without them
  # (`tf_equirl.agents.ac.ACConfig.training_modules`).
  if name == "build_pixel_encoder":
    import importlib  # pylint: disable=import-outside-toplevel

    return importlib.import_module("tf_equirl.networks.pixel").build_pixel_encoder
  raise AttributeError(f"module 'tf_equirl.networks' has no attribute {name!r}")
