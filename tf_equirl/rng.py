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

Seed-batched draws. `tf.vectorized_map` (pfor) has no vectorised form of TensorFlow's
stateless random ops in TF 2.15: it runs them in a sequential loop, one seed after another.
`batched_uniform(shape, seeds)` and `batched_fold_in(seeds, data)` take seeds `[..., 2]` and
draw for every seed at once with plain integer ops: Philox-4x32-10 (the seed scrambled as
`random_ops_util._philox_scramble_seed` does, then one Philox block per four 32-bit outputs,
as TensorFlow's kernels and XLA lay them out) and TensorFlow's conversion of the bits to the
requested dtype. Each seed's row is bit for bit what `uniform` / `fold_in` give that seed in a
graph; floats follow XLA's conversion (`xla_floats=True`, the high 23 bits) or the CPU
kernel's (the low 23 bits), which differ in TF 2.15 (see `tf_equirl.envs.base`). Inside
`with vectorizable(xla_floats):` the ordinary `uniform` and `fold_in` of a graph use the same
integer ops, so a function vectorised over seeds with `tf.vectorized_map` (an environment's
reset draws, for example) vectorises its draws too. `normal` has no integer form and refuses
to run there.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import tensorflow as tf

__all__ = [
  "ALG",
  "uniform",
  "normal",
  "fold_in",
  "seed_bits",
  "batched_uniform",
  "batched_fold_in",
  "vectorizable",
]

ALG = "philox"
_LOW_32 = 0xFFFFFFFF
# Philox-4x32-10 (Salmon et al. 2011), as tensorflow/core/lib/random/philox_random.h.
_PHILOX_M = (0xD2511F53, 0xCD9E8D57)
_PHILOX_W = (0x9E3779B9, 0xBB67AE85)
_PHILOX_ROUNDS = 10
# The key random_ops_util._philox_scramble_seed hashes a seed with (0x02461E293EC8F720).
_SCRAMBLE_KEY = (0x3EC8F720, 0x02461E29)
_MANTISSA_BITS = 23

_mode = threading.local()


def seed_bits(seed) -> tf.Tensor:
  """The int64 `[2]` seed these functions draw from in a graph: the low 32 bits of each
  element (as XLA reads a stateless seed)."""
  seed = tf.convert_to_tensor(seed)
  if not seed.dtype.is_integer:
    raise ValueError(
      f"tf_equirl.rng: a seed must be an integer tensor of shape [2], received "
      f"dtype {seed.dtype.name}."
    )
  return tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), _LOW_32)


def _seed_and_alg(seed):
  if tf.executing_eagerly():
    return seed, "auto_select"
  return seed_bits(seed), ALG


def _vectorizable_mode():
  """`xla_floats` of the innermost `vectorizable` block in a graph, else None."""
  if tf.executing_eagerly():
    return None
  return getattr(_mode, "xla_floats", None)


@contextlib.contextmanager
def vectorizable(xla_floats: bool = True):
  """Within the block, graph-mode `uniform` and `fold_in` draw with integer ops (the same
  numbers; see the module docstring), so that `tf.vectorized_map` vectorises them.

  Args:
    xla_floats: convert bits to floats as XLA does (True: for graphs compiled with
      `jit_compile=True`) or as TensorFlow's CPU kernels do (False).
  """
  previous = getattr(_mode, "xla_floats", None)
  _mode.xla_floats = bool(xla_floats)
  try:
    yield
  finally:
    _mode.xla_floats = previous


def uniform(shape, seed, minval=0, maxval=None, dtype=tf.float32) -> tf.Tensor:
  """`tf.random.stateless_uniform(shape, seed, minval, maxval, dtype)` (see the module
  docstring)."""
  xla_floats = _vectorizable_mode()
  if xla_floats is not None:
    return batched_uniform(shape, seed, minval, maxval, dtype, xla_floats)
  seed, alg = _seed_and_alg(seed)
  return tf.random.stateless_uniform(
    shape, seed=seed, minval=minval, maxval=maxval, dtype=dtype, alg=alg
  )


def normal(shape, seed, mean=0.0, stddev=1.0, dtype=tf.float32) -> tf.Tensor:
  """`tf.random.stateless_normal(shape, seed, mean, stddev, dtype)` (see the module
  docstring)."""
  if _vectorizable_mode() is not None:
    raise NotImplementedError(
      "tf_equirl.rng.normal has no seed-batched form; draw normals "
      "outside `rng.vectorizable()` blocks."
    )
  seed, alg = _seed_and_alg(seed)
  return tf.random.stateless_normal(
    shape, seed=seed, mean=mean, stddev=stddev, dtype=dtype, alg=alg
  )


def fold_in(seed, data) -> tf.Tensor:
  """`tf.random.experimental.stateless_fold_in(seed, data)`: a new int64 `[2]` seed (see the
  module docstring)."""
  if _vectorizable_mode() is not None:
    return batched_fold_in(seed, data)
  seed, alg = _seed_and_alg(seed)
  return tf.random.experimental.stateless_fold_in(seed, data, alg=alg)


# ------------------------------------------------------------------ seed-batched draws
def _mul_hi_lo(a: tf.Tensor, multiplier: int):
  """`(low, high)` 32-bit words of `a * multiplier` for uint32 `a`."""
  product = tf.cast(a, tf.uint64) * tf.constant(multiplier, tf.uint64)
  low = tf.cast(tf.bitwise.bitwise_and(product, tf.constant(_LOW_32, tf.uint64)), tf.uint32)
  high = tf.cast(tf.bitwise.right_shift(product, tf.constant(32, tf.uint64)), tf.uint32)
  return low, high


def _philox(counter, key):
  """Philox-4x32-10 on uint32 words: `counter` 4 tensors, `key` 2 (broadcastable)."""
  c0, c1, c2, c3 = counter
  k0, k1 = key
  for r in range(_PHILOX_ROUNDS):
    if r:
      k0 = k0 + tf.constant(_PHILOX_W[0], tf.uint32)
      k1 = k1 + tf.constant(_PHILOX_W[1], tf.uint32)
    lo0, hi0 = _mul_hi_lo(c0, _PHILOX_M[0])
    lo1, hi1 = _mul_hi_lo(c2, _PHILOX_M[1])
    c0, c1, c2, c3 = (
      tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(hi1, c1), k0),
      lo1,
      tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(hi0, c3), k1),
      lo0,
    )
  return c0, c1, c2, c3


def _words(seeds) -> tuple:
  """The four uint32 counter words of a graph seed `[..., 2]` (its low 32 bits, as XLA)."""
  seeds = tf.convert_to_tensor(seeds)
  if (
    not seeds.dtype.is_integer
    or seeds.shape.rank is None
    or seeds.shape.rank < 1
    or seeds.shape[-1] != 2
  ):
    raise ValueError(
      f"tf_equirl.rng: batched seeds must be an integer tensor of shape "
      f"[..., 2], received dtype {seeds.dtype.name} and shape {seeds.shape}."
    )
  low = tf.cast(tf.bitwise.bitwise_and(tf.cast(seeds, tf.int64), _LOW_32), tf.uint32)
  zero = tf.zeros_like(low[..., 0])
  return low[..., 0], zero, low[..., 1], zero


def _bits(seeds, num_words: int) -> tf.Tensor:
  """uint32 `[..., num_words]`: the first `num_words` 32-bit outputs of each seed's stream.

  The seed is scrambled into a key and counter (`_philox_scramble_seed`); output word `i`
  is word `i % 4` of the Philox block at counter `counter + i // 4`.
  """
  mix = _philox(_words(seeds), tuple(tf.constant(k, tf.uint32) for k in _SCRAMBLE_KEY))
  blocks = (num_words + 3) // 4
  index = tf.cast(tf.range(blocks), tf.uint32)
  expand = lambda w: w[..., None]  # noqa: E731
  zero = tf.zeros_like(expand(mix[0]))
  counter = (
    index + zero,
    zero,
    expand(mix[2]) + tf.zeros_like(index),
    expand(mix[3]) + tf.zeros_like(index),
  )
  out = tf.stack(_philox(counter, (expand(mix[0]), expand(mix[1]))), axis=-1)
  flat = tf.reshape(out, tf.concat([tf.shape(out)[:-2], [-1]], 0))
  return flat[..., :num_words]


def _shape_and_count(shape):
  """`(shape, element count)`: Python ints where the shape is known when traced, else
  int32 tensors (XLA needs them constant by compilation, as for TensorFlow's own draws)."""
  shape = tf.convert_to_tensor(shape, tf.int32)
  value = tf.get_static_value(shape)
  if value is not None:
    count = 1
    for d in value.tolist():
      count *= int(d)
    return [int(d) for d in value.tolist()], count
  return shape, tf.reduce_prod(shape)


def batched_uniform(
  shape: Any,
  seeds: Any,
  minval: Any = 0,
  maxval: Any = None,
  dtype: Any = tf.float32,
  xla_floats: bool = True,
) -> tf.Tensor:
  """`uniform(shape, seed, minval, maxval, dtype)` in a graph for every seed of `seeds`.

  Args:
    shape: shape of one seed's draw.
    seeds: integer seeds `[..., 2]` (a single `[2]` seed is allowed).
    minval: as `tf.random.stateless_uniform` (floats; int32 / int64 with both bounds;
      uint32 / int32 / int64 / uint64 full range with `minval=maxval=None`).
    maxval: as `tf.random.stateless_uniform`.
    dtype: as `tf.random.stateless_uniform`.
    xla_floats: float conversion of XLA (True) or of TensorFlow's CPU kernels (False).

  Returns:
    `[..., *shape]`: row `s` equals `uniform(shape, seeds[s], ...)` drawn in a graph
    (compiled with XLA for `xla_floats=True`).
  """
  dtype = tf.as_dtype(dtype)
  shape, count = _shape_and_count(shape)
  seeds = tf.convert_to_tensor(seeds)
  lead = tf.shape(seeds)[:-1]
  out_shape = tf.concat([lead, tf.cast(shape, tf.int32)], 0)
  if dtype.is_integer and minval is None:
    if maxval is not None:
      raise ValueError(
        "tf_equirl.rng.batched_uniform: give both minval and maxval for a "
        "bounded integer draw, or neither for the full range."
      )
    if dtype.size == 4:
      values = _bits(seeds, count)
      return tf.reshape(tf.cast(values, dtype), out_shape)
    if dtype.size == 8:
      return tf.reshape(_wide(_bits(seeds, 2 * count), dtype), out_shape)
    raise ValueError(f"tf_equirl.rng.batched_uniform: unsupported integer dtype {dtype.name}.")
  if maxval is None:
    maxval = 1
  if dtype.is_integer:
    if dtype not in (tf.int32, tf.int64):
      raise ValueError(
        f"tf_equirl.rng.batched_uniform: bounded integer draws take int32 or "
        f"int64, received {dtype.name}."
      )
    minval = tf.convert_to_tensor(minval, dtype)
    maxval = tf.convert_to_tensor(maxval, dtype)
    unsigned = tf.uint32 if dtype == tf.int32 else tf.uint64
    bits = _bits(seeds, count) if dtype == tf.int32 else _wide(_bits(seeds, 2 * count), tf.uint64)
    span = tf.cast(maxval, unsigned) - tf.cast(minval, unsigned)
    values = minval + tf.cast(bits % span, dtype)
    return tf.reshape(values, out_shape)
  if dtype != tf.float32:
    raise ValueError(
      f"tf_equirl.rng.batched_uniform: float draws are float32 here, " f"received {dtype.name}."
    )
  bits = _bits(seeds, count)
  # Either way the float is exactly `m * 2^-23` for 23 of the bits `m`: XLA takes the high
  # ones (xla/client/lib/prng.cc, ConvertRandomBitsToUniformFloatingPoint), TensorFlow's CPU
  # kernels the low ones (random_distributions.h, Uint32ToFloat: `1.m - 1`, exact).
  if xla_floats:
    mantissa = tf.bitwise.right_shift(bits, tf.constant(32 - _MANTISSA_BITS, tf.uint32))
  else:
    mantissa = tf.bitwise.bitwise_and(bits, tf.constant(2**_MANTISSA_BITS - 1, tf.uint32))
  unit = tf.cast(mantissa, tf.float32) * tf.constant(2.0**-_MANTISSA_BITS, tf.float32)
  minval = tf.convert_to_tensor(minval, dtype)
  maxval = tf.convert_to_tensor(maxval, dtype)
  return tf.reshape(unit * (maxval - minval) + minval, out_shape)


def _wide(bits: tf.Tensor, dtype) -> tf.Tensor:
  """64-bit values from pairs of 32-bit outputs, the first the low word."""
  pairs = tf.reshape(bits, tf.concat([tf.shape(bits)[:-1], [-1, 2]], 0))
  low = tf.cast(pairs[..., 0], tf.uint64)
  high = tf.bitwise.left_shift(tf.cast(pairs[..., 1], tf.uint64), tf.constant(32, tf.uint64))
  value = tf.bitwise.bitwise_or(low, high)
  return tf.cast(value, dtype)  # a same-width cast keeps the bits


def batched_fold_in(seeds, data) -> tf.Tensor:
  """`fold_in(seed, data)` in a graph for every seed of `seeds` `[..., 2]`: `[..., 2]` of
  `data`'s dtype (int32 or int64); `data` a scalar or `[...]` (one value per seed)."""
  data = tf.convert_to_tensor(data)
  if data.dtype not in (tf.int32, tf.int64):
    raise ValueError(
      f"tf_equirl.rng.batched_fold_in: data must be int32 or int64, received " f"{data.dtype.name}."
    )
  seeds = tf.convert_to_tensor(seeds)
  first = batched_uniform([], seeds, minval=None, maxval=None, dtype=data.dtype)
  return tf.stack([first, data + tf.zeros_like(first)], axis=-1)
