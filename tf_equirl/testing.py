"""Equivariance checks for any function, layer, network or model of the project.

`equivariance_error(fn, x, input_rep, output_rep)` is the maximum over group elements
(and over the batch) of `|fn(rho_in(g) x) - rho_out(g) fn(x)|`, the equivariance error of
Definition 1 in Wang et al., "Approximately equivariant networks" (shared/seeds/002).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import numpy as np
import tensorflow as tf

from tf_equirl.groups import FiniteGroup, Representation

__all__ = ["equivariance_error", "equivariance_errors", "assert_equivariant",
           "invariant", "RepLike"]

# A representation acting on the last axis, a FiniteGroup (its regular representation on
# the group axis 1 of `[batch, |G|, c]` features), or `invariant(group)`.
RepLike = Union[Representation, FiniteGroup, None]


def invariant(group: FiniteGroup) -> Representation:
  """The trivial action: use as `output_rep` to check invariance (critics, pooled features)."""
  return Representation.trivial(group, dim=1)


def _resolve(rep: RepLike, axis: int | None, what: str):
  if isinstance(rep, FiniteGroup):
    return Representation.regular(rep), (1 if axis is None else axis)
  if isinstance(rep, Representation):
    return rep, (-1 if axis is None else axis)
  raise TypeError(f"{what} must be a Representation or a FiniteGroup (regular features on "
                  f"the group axis), received {type(rep).__name__}.")


def _apply(rep: Representation, axis: int, x: tf.Tensor, g: int) -> tf.Tensor:
  if rep.dim == 1 and rep.matrices[:, 0, 0].tolist() == [1.0] * rep.group.order:
    return x  # the trivial action leaves any tensor unchanged
  return rep.transform(x, g, axis=axis)


def _as_list(value, n, what):
  if isinstance(value, (list, tuple)):
    if len(value) != n:
      raise ValueError(f"{what} has {len(value)} entries for {n} inputs.")
    return list(value)
  return [value] * n


def equivariance_errors(fn: Callable[..., Any], x: Any, input_rep, output_rep,
                        input_axis=None, output_axis=None) -> np.ndarray:
  """Per-sample errors `[batch]`: `max_g max_i |fn(rho_in(g) x) - rho_out(g) fn(x)|`.

  Args:
    fn: a callable (Keras layer, model, function). It receives `x` as given: a tensor, or a
      list/tuple of tensors for multi-input models (then `input_rep`/`input_axis` may be
      lists with one entry per input).
    x: input batch (leading axis is the batch).
    input_rep, output_rep: `Representation` (acts on `axis`, default last), a `FiniteGroup`
      (regular action on the group axis, default axis 1) or `invariant(group)`.
      Integer inputs (action indices) are permuted by a permutation representation.
    input_axis, output_axis: override the axis each representation acts on.
  """
  multi = isinstance(x, (list, tuple))
  xs = [tf.convert_to_tensor(v) for v in (x if multi else [x])]
  in_reps = _as_list(input_rep, len(xs), "input_rep")
  in_axes = _as_list(input_axis, len(xs), "input_axis")
  resolved_in = [_resolve(r, a, "input_rep") for r, a in zip(in_reps, in_axes)]
  out_rep, out_axis = _resolve(output_rep, output_axis, "output_rep")
  group = out_rep.group
  for r, _ in resolved_in:
    if r.group != group:
      raise ValueError(f"input_rep is a representation of {r.group.name}, output_rep of "
                       f"{group.name}: they must share the group.")
  call = lambda args: fn(list(args)) if multi else fn(args[0])
  y = tf.convert_to_tensor(call(xs))
  worst = None
  for g in group.elements():
    gx = [_apply(r, a, v, g) for (r, a), v in zip(resolved_in, xs)]
    diff = tf.abs(tf.cast(tf.convert_to_tensor(call(gx)), tf.float64)
                  - tf.cast(_apply(out_rep, out_axis, y, g), tf.float64))
    per_sample = tf.reduce_max(tf.reshape(diff, [tf.shape(diff)[0], -1]), axis=1).numpy()
    worst = per_sample if worst is None else np.maximum(worst, per_sample)
  return worst


def equivariance_error(fn: Callable[..., Any], x: Any, input_rep, output_rep,
                       input_axis=None, output_axis=None) -> float:
  """Maximum over the batch and over group elements; see `equivariance_errors`."""
  return float(np.max(equivariance_errors(fn, x, input_rep, output_rep, input_axis, output_axis)))


def assert_equivariant(fn: Callable[..., Any], x: Any, input_rep, output_rep, atol: float = 1e-5,
                       input_axis=None, output_axis=None) -> float:
  """Raises `AssertionError` (with the error and the worst sample) unless error <= atol."""
  errors = equivariance_errors(fn, x, input_rep, output_rep, input_axis, output_axis)
  worst = float(np.max(errors))
  if not worst <= atol:
    raise AssertionError(
        f"{getattr(fn, 'name', getattr(fn, '__name__', type(fn).__name__))} is not equivariant: "
        f"max error {worst:.3g} > atol={atol:g} (sample {int(np.argmax(errors))} of "
        f"{errors.size}; {int(np.sum(errors > atol))} samples exceed atol).")
  return worst
