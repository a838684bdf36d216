"""The pixel encoders' kinds and stages, and the picture sizes whose grid those stages keep
centred (`latent_size`); the encoders themselves are `tf_equirl.networks.pixel`.

A module of its own, without TensorFlow: an `ACConfig` checks its pixel fields with it, and an
actor-critic on states (whose code version leaves the pixel encoders out,
`ACConfig.training_modules`) imports nothing else of the pixel side.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["PIXEL_ENCODER_KINDS", "STAGES", "latent_size"]

PIXEL_ENCODER_KINDS = ("cnn", "gcnn", "relaxed", "rpp")
# (kernel, stride) of the encoder's stages: conv, conv, pool, conv.
STAGES = ((5, 2), (5, 2), (3, 2), (3, 1))


def latent_size(image_size: int) -> Optional[int]:
  """The side of the latent grid for `image_size`, or None if a stage would move the centre."""
  n = image_size
  for kernel, stride in STAGES:
    if n < kernel or (n - kernel) % (2 * stride):
      return None
    n = (n - kernel) // stride + 1
  return n
