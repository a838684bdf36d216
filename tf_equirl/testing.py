"""Equivariance checks for any function, layer, network or model of the project.

`equivariance_error(fn, x, input_rep, output_rep)` is the maximum over group elements
(and over the batch) of `|fn(rho_in(g) x) - rho_out(g) fn(x)|`, the equivariance error of
Definition 1 in Park et al., "Approximate equivariance in reinforcement learning"
(AISTATS 2025).
`equivariance_error_by_element` reports it per group element, and `relaxed_weight_spread`
how far a trained relaxed (or residual-pathway) network has moved away from exact
equivariance in its weights.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl.groups import FiniteGroup, PlaneAction, Representation

__all__ = [
  "equivariance_error",
  "equivariance_errors",
  "assert_equivariant",
  "equivariance_error_by_element",
  "relaxed_weight_spread",
  "invariant",
  "RepLike",
  "InputReps",
  "InputAxes",
]

# A representation acting on the last axis, a FiniteGroup (its regular representation on
# the group axis 1 of `[batch, |G|, c]` features), `invariant(group)`, or a `PlaneAction`
# (rotations and flips of images `[batch, H, W, C]` or of features `[batch, H, W, |G|, C]`).
RepLike = Union[Representation, FiniteGroup, PlaneAction, None]
# `RepLike`, or one per input of a multi-input function.
InputReps = Union[RepLike, Sequence[RepLike]]
InputAxes = Union[int, None, Sequence[Optional[int]]]


def invariant(group: FiniteGroup) -> Representation:
  """The trivial action: use as `output_rep` to check invariance (critics, pooled features)."""
  return Representation.trivial(group, dim=1)


def _resolve(rep: RepLike, axis: int | None, what: str):
  if isinstance(rep, FiniteGroup):
    return Representation.regular(rep), (1 if axis is None else axis)
  if isinstance(rep, Representation):
    return rep, (-1 if axis is None else axis)
  if isinstance(rep, PlaneAction):
    return rep, axis  # its layout fixes the axes
  raise TypeError(
    f"{what} must be a Representation, a FiniteGroup (regular features on "
    f"the group axis) or a PlaneAction (images), received {type(rep).__name__}."
  )


def _apply(rep: Union[Representation, PlaneAction], axis: int, x: tf.Tensor, g: int) -> tf.Tensor:
  if (
    isinstance(rep, Representation)
    and rep.dim == 1
    and rep.matrices[:, 0, 0].tolist() == [1.0] * rep.group.order
  ):
    return x  # the trivial action leaves any tensor unchanged
  return rep.transform(x, g, axis=axis)


def _as_list(value, n, what):
  if isinstance(value, (list, tuple)):
    if len(value) != n:
      raise ValueError(f"{what} has {len(value)} entries for {n} inputs.")
    return list(value)
  return [value] * n


def equivariance_errors(
  fn: Callable[..., Any],
  x: Any,
  input_rep: InputReps,
  output_rep: RepLike,
  input_axis: InputAxes = None,
  output_axis: Optional[int] = None,
) -> np.ndarray:
  """Per-sample errors `[batch]`: `max_g max_i |fn(rho_in(g) x) - rho_out(g) fn(x)|`.

  Args:
    fn: a callable (Keras layer, model, function). It receives `x` as given: a tensor, or a
      list/tuple of tensors for multi-input models (then `input_rep`/`input_axis` may be
      lists with one entry per input).
    x: input batch (leading axis is the batch).
    input_rep: a `Representation` (acts on `input_axis`, default last), a `FiniteGroup`
      (regular action on the group axis, default axis 1), `invariant(group)` or a
      `PlaneAction` (rotations and flips of images or of features over the plane); a list with
      one entry per input for a multi-input `fn`. Integer inputs (action indices) are
      permuted by a permutation representation.
    output_rep: as `input_rep`, on the output (one entry).
    input_axis: overrides the axis `input_rep` acts on (a list for a multi-input `fn`).
    output_axis: overrides the axis `output_rep` acts on.
  """
  return np.max(_errors_by_element(fn, x, input_rep, output_rep, input_axis, output_axis), axis=0)


def equivariance_error_by_element(
  fn: Callable[..., Any],
  x: Any,
  input_rep: InputReps,
  output_rep: RepLike,
  input_axis: InputAxes = None,
  output_axis: Optional[int] = None,
  reduce: str = "mean",
) -> np.ndarray:
  """Equivariance error per group element `[|G|]` (Definition 1 of Park et al. 2025).

  Entry `g` is `|fn(rho_in(g) x) - rho_out(g) fn(x)|`, maximised over the output entries of
  each sample and then averaged (`reduce="mean"`) or maximised (`"max"`) over the batch.
  Entry 0 (the identity) is always 0; an exactly equivariant `fn` has all entries at float
  rounding, an approximately equivariant one shows which elements it treats differently.
  Arguments as in `equivariance_errors`.
  """
  if reduce not in ("mean", "max"):
    raise ValueError(f"reduce must be 'mean' or 'max', received reduce={reduce!r}.")
  errors = _errors_by_element(fn, x, input_rep, output_rep, input_axis, output_axis)
  return errors.mean(axis=1) if reduce == "mean" else errors.max(axis=1)


def _errors_by_element(fn, x, input_rep, output_rep, input_axis, output_axis) -> np.ndarray:
  """`[|G|, batch]` errors, each maximised over a sample's output entries."""
  multi = isinstance(x, (list, tuple))
  xs = [tf.convert_to_tensor(v) for v in (x if multi else [x])]
  in_reps = _as_list(input_rep, len(xs), "input_rep")
  in_axes = _as_list(input_axis, len(xs), "input_axis")
  resolved_in = [_resolve(r, a, "input_rep") for r, a in zip(in_reps, in_axes)]
  out_rep, out_axis = _resolve(output_rep, output_axis, "output_rep")
  group = out_rep.group
  for r, _ in resolved_in:
    if r.group != group:
      raise ValueError(
        f"input_rep is a representation of {r.group.name}, output_rep of "
        f"{group.name}: they must share the group."
      )
  call = lambda args: fn(list(args)) if multi else fn(args[0])
  y = tf.convert_to_tensor(call(xs))
  rows = []
  for g in group.elements():
    gx = [_apply(r, a, v, g) for (r, a), v in zip(resolved_in, xs)]
    diff = tf.abs(
      tf.cast(tf.convert_to_tensor(call(gx)), tf.float64)
      - tf.cast(_apply(out_rep, out_axis, y, g), tf.float64)
    )
    rows.append(tf.reduce_max(tf.reshape(diff, [tf.shape(diff)[0], -1]), axis=1).numpy())
  return np.stack(rows)


def relaxed_weight_spread(model: keras.layers.Layer) -> Dict[str, float]:
  """Spread of the relaxed weights of every relaxed layer in `model` (or of one layer).

  For a layer with relaxed weights `w_l(h)` (`RelaxedGroupLift`, `RelaxedGroupConv`) the
  spread is the standard deviation over the group elements `h`, averaged over the kernels
  `l`, divided by the mean over `l` of `|mean_h w_l(h)|`: 0 for an exactly equivariant
  layer, scale-free otherwise. Layers with an unconstrained path (`ResidualGroupLift`,
  `ResidualGroupConv`) report `|V| / |K|`, the Frobenius norm of the unconstrained weights
  over that of the exact block matrix, under the key `"<name>/free_ratio"`.
  Returns `{layer name: spread}`.
  """
  layers = [model] if not hasattr(model, "layers") else list(_flatten_layers(model))
  report = {}
  for layer in layers:
    if hasattr(layer, "mixing_weights"):
      w = np.asarray(layer.mixing_weights().numpy(), np.float64)  # [|G|, L]
      scale = float(np.mean(np.abs(w.mean(axis=0))))
      report[layer.name] = float(np.mean(w.std(axis=0)) / max(scale, 1e-12))
    if hasattr(layer, "free_kernel"):
      exact = (
        layer.expanded_kernel() if hasattr(layer, "expanded_kernel") else layer._fold(layer.kernel)
      )  # pylint: disable=protected-access  (GroupLift's fold)
      ratio = np.linalg.norm(layer.free_kernel.numpy()) / max(
        float(np.linalg.norm(np.asarray(exact))), 1e-12
      )
      report[f"{layer.name}/free_ratio"] = float(ratio)
  return report


def _flatten_layers(model):
  for layer in model.layers:
    if hasattr(layer, "layers"):
      yield from _flatten_layers(layer)
    else:
      yield layer


def equivariance_error(
  fn: Callable[..., Any],
  x: Any,
  input_rep: InputReps,
  output_rep: RepLike,
  input_axis: InputAxes = None,
  output_axis: Optional[int] = None,
) -> float:
  """Maximum over the batch and over group elements; see `equivariance_errors`."""
  return float(np.max(equivariance_errors(fn, x, input_rep, output_rep, input_axis, output_axis)))


def assert_equivariant(
  fn: Callable[..., Any],
  x: Any,
  input_rep: InputReps,
  output_rep: RepLike,
  atol: float = 1e-5,
  input_axis: InputAxes = None,
  output_axis: Optional[int] = None,
) -> float:
  """Raises `AssertionError` (with the error and the worst sample) unless error <= atol."""
  errors = equivariance_errors(fn, x, input_rep, output_rep, input_axis, output_axis)
  worst = float(np.max(errors))
  if not worst <= atol:
    raise AssertionError(
      f"{getattr(fn, 'name', getattr(fn, '__name__', type(fn).__name__))} is not equivariant: "
      f"max error {worst:.3g} > atol={atol:g} (sample {int(np.argmax(errors))} of "
      f"{errors.size}; {int(np.sum(errors > atol))} samples exceed atol)."
    )
  return worst
