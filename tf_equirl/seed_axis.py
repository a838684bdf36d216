"""A seed axis through Keras models: the pieces every seed-vectorised trainer shares.

A seed-vectorised trainer keeps one variable `[N, ...]` per weight of a template Keras model,
runs the ordinary model for each seed under `tf.vectorized_map` with its weights rebound to
the seed's slice (`WeightSwap`), takes each seed's gradient inside the vectorised function,
clips it by that seed's own global norm (`clip_per_seed`) and steps one Keras Adam over the
stacked variables (N Adams in lockstep: Adam is elementwise). Random draws inside go through
`tf_equirl.rng`'s vectorizable Philox (`vmap` opens `rng.vectorizable`), so each seed draws
what its lone run draws. `tf_equirl.agents.ppo.seed_batch.SeedBatchPPO` (PPO) and
`tf_equirl.models.seed_batch.SeedBatchTransitionTrainer` (transition models) are built on it.

Why the gradient is taken inside the vectorised function: a tape around `tf.vectorized_map`
would differentiate the function call pfor makes, whose gradient needs some forward values
(the reduction axes of pfor's sums) as compile-time constants; XLA's constant analysis then
marks every input of the call constant, weights included, and recompiles on every call.

Products (`split_products`): pfor turns a product of a per-seed activation and a per-seed
weight into a batched matrix product, which XLA's CPU backend runs through a slow Eigen
contraction. Inside `with split_products():` such a product over a known number of seeds is
written as one plain matrix product per seed, the products each lone run computes;
matrix-vector products keep the batched form, which is faster.

TF 2.15 also lacks a pfor converter for `TopKV2` (the grid world's reset draws use
`tf.math.top_k`); importing this module registers one.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

# TF 2.15 exposes no public way to register a pfor converter.
from tensorflow.python.ops.parallel_for import pfor as _pfor

from tf_equirl import rng

from tensorflow import keras

__all__ = [
  "PYTHON_STATE",
  "WeightSwap",
  "split_products",
  "vmap",
  "stacked_variables",
  "clip_per_seed",
  "apply_constraints",
  "split",
  "check_seeds",
  "Named",
]


def _register_top_k() -> None:
  """A pfor converter for `TopKV2`: top-k works on the last axis, which vectorising never
  touches, so the stacked input goes through the op as it is."""
  if "TopKV2" in _pfor._pfor_converter_registry:  # pylint: disable=protected-access
    return

  @_pfor.RegisterPFor("TopKV2")
  def _convert_top_k(pfor_input):  # pylint: disable=unused-variable
    values = pfor_input.stacked_input(0)
    k = pfor_input.unstacked_input(1)
    values, indices = tf.math.top_k(values, k, sorted=pfor_input.get_attr("sorted"))
    return [_pfor.wrap(values, True), _pfor.wrap(indices, True)]


_register_top_k()


# Keras' global random state (`keras.utils.set_random_seed` before building a seed's initial
# weights) and the template models' weight attributes (rebound by `WeightSwap` while a
# program is traced) are process-wide Python state. Every seed-vectorised trainer seeds,
# builds and traces under this lock, so that seed groups can train in several threads at once
# (`tf_equirl.runner.run_experiment`'s `concurrent_groups`), each thread running its own
# compiled program outside the lock.
PYTHON_STATE = threading.RLock()


_ORIGINAL_CONVERTERS: Dict[str, Callable] = {}
_SPLIT = {"on": False}


class split_products:  # pylint: disable=invalid-name
  """Context: pfor writes products of two stacked operands as one product per seed.

  Args:
    enabled: False leaves pfor's batched products (the context then does nothing).
  """

  def __init__(self, enabled: bool = True):
    self.enabled, self._previous = enabled, False

  def __enter__(self):
    self._previous, _SPLIT["on"] = _SPLIT["on"], self.enabled
    return self

  def __exit__(self, *exc):
    _SPLIT["on"] = self._previous


def _seed_count(pfor_input) -> Optional[int]:
  """The static number of vectorised iterations, or None."""
  value = tf.get_static_value(pfor_input.pfor.loop_len_vector)
  return None if value is None else int(np.reshape(value, [-1])[0])


def _split_worthwhile(a: tf.Tensor, b: tf.Tensor, n: Optional[int]) -> bool:
  """Whether to write a stacked product as `n` products: static `n` and shapes, no vector."""
  if not _SPLIT["on"] or n is None or n < 2:
    return False
  shapes = (a.shape, b.shape)
  return (
    all(s.is_fully_defined() for s in shapes)
    and a.shape[0] == n == b.shape[0]
    and min(a.shape[-2:] + b.shape[-2:]) > 1
  )


def _register_split_products() -> None:
  """Wraps pfor's `MatMul` and `BatchMatMulV2` converters (see `split_products`)."""
  registry = _pfor._pfor_converter_registry  # pylint: disable=protected-access
  if _ORIGINAL_CONVERTERS:
    return
  for name in ("MatMul", "BatchMatMulV2"):
    _ORIGINAL_CONVERTERS[name] = registry[name]

  def convert_matmul(pfor_input):
    a, a_stacked, _ = pfor_input.input(0)
    b, b_stacked, _ = pfor_input.input(1)
    n = _seed_count(pfor_input)
    if not (a_stacked and b_stacked and _split_worthwhile(a, b, n)):
      return _ORIGINAL_CONVERTERS["MatMul"](pfor_input)
    tr_a, tr_b = pfor_input.get_attr("transpose_a"), pfor_input.get_attr("transpose_b")
    return _pfor.wrap(
      tf.stack(
        [
          tf.matmul(x, y, transpose_a=tr_a, transpose_b=tr_b)
          for x, y in zip(tf.unstack(a, n), tf.unstack(b, n))
        ]
      ),
      True,
    )

  def convert_batch_matmul(pfor_input):
    a, a_stacked, _ = pfor_input.input(0)
    b, b_stacked, _ = pfor_input.input(1)
    n = _seed_count(pfor_input)
    if not (a_stacked and b_stacked and _split_worthwhile(a, b, n)):
      return _ORIGINAL_CONVERTERS["BatchMatMulV2"](pfor_input)
    adj_x, adj_y = pfor_input.get_attr("adj_x"), pfor_input.get_attr("adj_y")
    return _pfor.wrap(
      tf.stack(
        [
          tf.matmul(x, y, adjoint_a=adj_x, adjoint_b=adj_y)
          for x, y in zip(tf.unstack(a, n), tf.unstack(b, n))
        ]
      ),
      True,
    )

  registry["MatMul"] = convert_matmul
  registry["BatchMatMulV2"] = convert_batch_matmul


_register_split_products()


def vmap(fn: Callable, elems: Any, xla_floats: bool = True, split: bool = False) -> Any:
  """`fn` on each seed's slice of `elems` (leading axis N), vectorised with
  `tf.vectorized_map` (no fallback loop: an op pfor cannot vectorise is an error).

  Args:
    fn: the per-seed function of one structure of tensors.
    elems: a structure of tensors with leading seed axis N.
    xla_floats: draws through `tf_equirl.rng` inside convert bits to floats as XLA does
      (for a graph compiled with `jit_compile=True`) or as TensorFlow's CPU kernels do.
    split: write products of two per-seed operands as one product per seed
      (`split_products`).

  Returns:
    `fn`'s outputs with a leading seed axis.
  """

  def body(args):
    with rng.vectorizable(xla_floats=xla_floats):
      return fn(args)

  with split_products(split):
    return tf.vectorized_map(body, elems, fallback_to_while_loop=False)


class WeightSwap:
  """Rebinds a Keras model's trainable weights to tensors for the duration of a `with`.

  Every layer of the library reads its weights from attributes at call time (`self.kernel`,
  or a list such as the isotypic layers' kernels), so replacing those attributes with the
  per-seed slices makes the ordinary model compute seed `k`'s function. The attributes are
  found once, by identity of the variables; a weight read from anywhere else is an error at
  construction, not a silent use of the template's values.

  Args:
    model: the template Keras model (built).
    owner: who asks, for the error message.

  Raises:
    ValueError: a trainable weight of `model` is not an attribute of one of its layers (nor
      an item of a list attribute).
  """

  def __init__(self, model: keras.Model, owner: str = "WeightSwap"):
    self.model = model
    self.variables = list(model.trainable_variables)
    position = {id(v): i for i, v in enumerate(self.variables)}
    # (layer, attribute, index in a list or None, variable position)
    self._slots: List[Tuple[Any, str, Optional[int], int]] = []
    found = set()
    layers = model._flatten_layers(include_self=False, recursive=True)  # pylint: disable=W0212
    for layer in layers:
      for name, value in list(vars(layer).items()):
        if isinstance(value, tf.Variable) and id(value) in position:
          self._slots.append((layer, name, None, position[id(value)]))
          found.add(id(value))
        elif isinstance(value, (list, tuple)) and not name.startswith("_"):
          for i, item in enumerate(value):
            if isinstance(item, tf.Variable) and id(item) in position:
              self._slots.append((layer, name, i, position[id(item)]))
              found.add(id(item))
    missing = [v.name for v in self.variables if id(v) not in found]
    if missing:
      raise ValueError(
        f"{owner}: the weights {missing} of model {model.name!r} are not "
        "attributes of its layers (nor items of a list attribute), so they "
        "cannot be replaced per seed."
      )
    self._saved = None

  def __call__(self, tensors: Sequence[tf.Tensor]) -> "WeightSwap":
    self._tensors = list(tensors)
    return self

  def __enter__(self):
    self._saved = []
    lists = {}
    for layer, name, index, pos in self._slots:
      if index is None:
        self._saved.append((layer, name, getattr(layer, name)))
        object.__setattr__(layer, name, self._tensors[pos])
      else:
        if (id(layer), name) not in lists:
          original = getattr(layer, name)
          self._saved.append((layer, name, original))
          lists[(id(layer), name)] = list(original)
          object.__setattr__(layer, name, lists[(id(layer), name)])
        lists[(id(layer), name)][index] = self._tensors[pos]
    return self

  def __exit__(self, *exc):
    for layer, name, original in reversed(self._saved):
      object.__setattr__(layer, name, original)
    self._saved = None
    return False


def stacked_variables(template: Sequence[tf.Variable], n: int) -> List[tf.Variable]:
  """One trainable variable `[n, ...]` (zeros) per template variable, named after it."""
  return [
    tf.Variable(
      tf.zeros([n] + v.shape.as_list(), v.dtype),
      trainable=True,
      name="seeds_" + v.name.split(":")[0].replace("/", "_"),
    )
    for v in template
  ]


def clip_per_seed(grads: Sequence[Any], max_norm: float) -> Tuple[List[tf.Tensor], tf.Tensor]:
  """`tf.clip_by_global_norm` of each seed's gradients (leading axis N of every tensor): each
  seed's norm over all of its gradients, so one seed's gradient never rescales another's.

  Returns:
    `(clipped, norms [N])`.
  """
  dense = [tf.convert_to_tensor(g) for g in grads]
  squares = [
    tf.reduce_sum(tf.square(g), axis=list(range(1, g.shape.rank)))
    if g.shape.rank > 1
    else tf.square(g)
    for g in dense
  ]
  norm = tf.sqrt(tf.add_n(squares))
  max_norm = tf.constant(max_norm, tf.float32)
  # tf.clip_by_global_norm's scale: max_norm * min(1 / norm, 1 / max_norm), nan if not finite.
  scale = max_norm * tf.minimum(1.0 / norm, 1.0 / max_norm)
  scale = tf.where(tf.math.is_finite(norm), scale, np.nan)
  return [g * tf.reshape(scale, [-1] + [1] * (g.shape.rank - 1)) for g in dense], norm


def apply_constraints(variables: Sequence[tf.Variable], constraints: Sequence[Any]) -> None:
  """Applies each Keras constraint to every seed's slice of its stacked variable, as the
  optimiser applies it to a lone run's weight after a step."""
  for variable, constraint in zip(variables, constraints):
    if constraint is not None:
      variable.assign(tf.vectorized_map(constraint, variable))


def split(tensors: Sequence[Any], sizes: Sequence[int]) -> List[List[Any]]:
  """`tensors` cut into consecutive lists of `sizes` items (one list per model)."""
  out, start = [], 0
  for n in sizes:
    out.append(list(tensors[start : start + n]))
    start += n
  return out


def check_seeds(owner: str, seeds: Sequence[int], seed_batch: Optional[int]) -> List[int]:
  """The seeds as ints, after checking them and `seed_batch`.

  Raises:
    ValueError: empty or negative seeds, or a seed batch that is not a positive integer.
  """
  seeds = list(seeds)
  if not seeds or any(
    isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds
  ):
    raise ValueError(
      f"{owner}: seeds must be a non-empty list of non-negative integers, received {seeds!r}."
    )
  if seed_batch is not None and (
    isinstance(seed_batch, bool) or not isinstance(seed_batch, (int, np.integer)) or seed_batch < 1
  ):
    raise ValueError(
      f"{owner}: seed_batch must be a positive integer or None (all seeds at once), "
      f"received {seed_batch!r}."
    )
  return [int(s) for s in seeds]


class Named:
  """A value with a variable's name, for `tf_equirl.runs.check_finite`."""

  def __init__(self, name, value):
    self.name, self._value = name, value

  def numpy(self):
    return self._value
