"""Distances for `ProximalPool`, looked up by name so that layers stay serialisable.

A distance is `fn(reference [batch, d_ref], candidates [batch, |G|, d]) -> [batch, |G|]`.
Proximal pooling is equivariant (away from ties) when the distance is invariant,
`d(rho_ref(g) s, rho(g) y) = d(s, y)`: L1 is invariant under signed permutations (CartPole's
`-I`, Catch's column flip), L2 under every orthogonal representation.
"""

from __future__ import annotations

from typing import Callable, Dict

import tensorflow as tf

DistanceFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]

_REGISTRY: Dict[str, DistanceFn] = {}


def register_distance(name: str, fn: DistanceFn, overwrite: bool = False) -> DistanceFn:
  """Registers `fn` under `name` for `ProximalPool(distance=name)`."""
  if not isinstance(name, str) or not name:
    raise ValueError(f"register_distance: name must be a non-empty string, received {name!r}.")
  if not callable(fn):
    raise ValueError(f"register_distance: fn must be callable, received {fn!r}.")
  if name in _REGISTRY and not overwrite and _REGISTRY[name] is not fn:
    raise ValueError(f"A distance named {name!r} is already registered; pass overwrite=True.")
  _REGISTRY[name] = fn
  return fn


def get_distance(name: str) -> DistanceFn:
  if name not in _REGISTRY:
    raise ValueError(f"Unknown distance {name!r}; registered distances: {sorted(_REGISTRY)}. "
                     "Register your own with tf_equirl.layers.register_distance.")
  return _REGISTRY[name]


def available_distances():
  return sorted(_REGISTRY)


def l1_distance(reference: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
  return tf.reduce_sum(tf.abs(candidates - reference[:, None, :]), axis=-1)


def l2_distance(reference: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
  return tf.reduce_sum(tf.square(candidates - reference[:, None, :]), axis=-1)


register_distance("l1", l1_distance)
register_distance("l2", l2_distance)
