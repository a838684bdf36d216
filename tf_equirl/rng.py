"""Stateless random draws that keep compiled graphs small.

TensorFlow's stateless ops (`tf.random.stateless_uniform`, `stateless_normal`,
`tf.random.experimental.stateless_fold_in`) default to `alg="auto_select"`: the `[2]` seed
is scrambled into a Philox key and counter by `StatelessRandomGetKeyCounter`. Under XLA
(TF 2.15) that op reads only the low 32 bits of each seed element and lowers to about 270
HLO instructions per call site. Inside a graph (`tf.function`, compiled or not) these
functions give the same numbers as the default under XLA from about 60 instructions: they
keep the low 32 bits of the seed themselves and ask for `alg="philox"`, whose scrambling is
one Philox draw written as graph ops (`random_ops_util._philox_scramble_seed`, "the same
scrambling procedure as core/kernels/stateless_random_ops.cc"). Executed eagerly they are
TensorFlow's defaults, unchanged (TensorFlow's eager kernel reads all 64 bits of a seed).

So in graphs, compiled with XLA or not, a seed draws what XLA draws; eagerly, what the CPU
kernel draws; the two differ for seeds of 2^32 or more, as they do in TensorFlow itself.
`tests/test_rng.py` checks both against TensorFlow, and `benchmarks/ppo_same_curves.py`
that PPO's curves did not change.

A PPO training call has 7 draw sites; going through here takes its HLO from 5,095 to about
3,500 instructions, so XLA has less to compile. Every stateless draw of the library goes
through this module.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["ALG", "uniform", "normal", "fold_in", "seed_bits"]

ALG = "philox"
_LOW_32 = 0xFFFFFFFF


def seed_bits(seed) -> tf.Tensor:
  """The int64 `[2]` seed these functions draw from in a graph: the low 32 bits of each
  element (as XLA reads a stateless seed)."""
  seed = tf.convert_to_tensor(seed)
  if not seed.dtype.is_integer:
    raise ValueError(f"tf_equirl.rng: a seed must be an integer tensor of shape [2], received "
                     f"dtype {seed.dtype.name}.")
  return tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), _LOW_32)


def _seed_and_alg(seed):
  if tf.executing_eagerly():
    return seed, "auto_select"
  return seed_bits(seed), ALG


def uniform(shape, seed, minval=0, maxval=None, dtype=tf.float32) -> tf.Tensor:
  """`tf.random.stateless_uniform(shape, seed, minval, maxval, dtype)` (see the module
  docstring)."""
  seed, alg = _seed_and_alg(seed)
  return tf.random.stateless_uniform(shape, seed=seed, minval=minval, maxval=maxval,
                                     dtype=dtype, alg=alg)


def normal(shape, seed, mean=0.0, stddev=1.0, dtype=tf.float32) -> tf.Tensor:
  """`tf.random.stateless_normal(shape, seed, mean, stddev, dtype)` (see the module
  docstring)."""
  seed, alg = _seed_and_alg(seed)
  return tf.random.stateless_normal(shape, seed=seed, mean=mean, stddev=stddev, dtype=dtype,
                                    alg=alg)


def fold_in(seed, data) -> tf.Tensor:
  """`tf.random.experimental.stateless_fold_in(seed, data)`: a new int64 `[2]` seed (see the
  module docstring)."""
  seed, alg = _seed_and_alg(seed)
  return tf.random.experimental.stateless_fold_in(seed, data, alg=alg)
