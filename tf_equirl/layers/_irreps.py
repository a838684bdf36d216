"""Features kept in irreducible (real Fourier) coordinates, and the nonlinearities that work there.

The steerable layers (`IrrepLift`, `IrrepDense`, `IrrepLogits`, `IrrepInvariants`) carry
the Fourier coordinates `F = Q^T f` of regular features `f: [batch, |G|, c]`, where `Q` is
the orthogonal basis of `tf_equirl.layers._fourier.regular_fourier_basis` (no second
decomposition: everything here is read off that basis). The group acts on them by

    M_g = Q^T L_g Q,        (L_g f)[h] = f[g^-1 h],

so `F -> M_g F` on the group axis (axis 1). `Q` splits the group axis into blocks, one per
real irreducible `rho` (dimension `d`, `m` copies at columns `start + i d + r`). The right
translations act inside each copy by the same `rho(g)` (checked by `_fourier._verify`);
the left translations `L_g` commute with them, so `M_g` maps each block to itself and acts
there in the commutant of `I_m (x) rho`:

* `rho` of real type (its commutant is the scalars: every irreducible of C2, D_n, and the
  one-dimensional ones of C_n): `M_g = sigma(g) (x) I_d`, i.e. `sigma(g)` mixes the copy
  index `i` and leaves `r` alone. For each `r` the `m` coordinates `{start + i d + r}_i`
  span one irreducible subspace of the left action, and their Euclidean norm is invariant.
* otherwise (the rotations of C_n, n >= 3, of complex type): the norm over the whole block
  (per channel) is invariant because `M_g` is orthogonal and keeps the block.

These subspaces are the "norm groups" `S_k` (the trivial coordinate, the block of the
trivial irreducible, is in none of them: it is invariant by itself). `_check_layout`
verifies numerically that every `M_g` is block-diagonal over `{trivial} + S_1 + ... + S_K`
with a 1 on the trivial coordinate, so each `|F[S_k]|` is invariant and `F[S_k]` itself
transforms by an orthogonal matrix `M_g[S_k, S_k]`.

Nonlinearities (per channel; `t` = trivial coordinate plus its bias, `x_k = F[S_k]`):

    "gated":      t' = tanh(t),  x_k' = x_k * sigmoid(t)
    "norm":       t' = tanh(t),  x_k' = x_k * tanh(|x_k|) / |x_k|    (tanh(x) for |S_k| = 1)
    "gated_norm": t' = tanh(t),  x_k' = x_k * tanh(|x_k|) / |x_k| * sigmoid(t)

Both are equivariant: `t` is invariant, so `tanh(t)` is; `M_g[S_k, S_k]` is orthogonal and
the factor multiplying `x_k` is invariant (a function of `t` and/or of `|x_k|`), so
`(M_g x)_k' = M_g[S_k, S_k] x_k'`. Biases only enter `t` (a bias on a non-trivial
coordinate would not be invariant). `IrrepDense` feeds the invariant norms `|x_k|` into
the trivial coordinates, so the invariants see every irreducible type; the gate of
"gated"/"gated_norm" also lets invariant information into the non-trivial coordinates.
"norm" is the default: with it the steerable actors learn at least as fast as the regular
G-CNN over D4, C4 and C2 on the grid world (32 seeds, results/ppo_grid/README.md); "gated" and
"gated_norm" fell behind over C2 in an exploratory probe that is not kept in the repository.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from tf_equirl.groups import FiniteGroup, Representation
from tf_equirl.layers import _fourier

NONLINEARITIES = ("gated", "norm", "gated_norm")
# Added under the square root of a norm: keeps tanh(r)/r and d|x|/dx finite at x = 0
# (|d sqrt(x^2 + eps) / dx| <= 1 everywhere).
_NORM_EPS = 1e-12


class IrrepLayout(NamedTuple):
  """Where things are on the group axis of irreducible-coordinate features.

  `fb`: the regular Fourier basis. `trivial`: index of the trivial coordinate.
  `groups`: `[|G|, K]` 0/1 matrix, column `k` = indicator of the norm group `S_k`.
  `left`: `[|G|, |G|, |G|]` matrices `M_g` of the group action on the coordinates.
  `real_type`: per block of `fb`, whether its irreducible is of real type (norm groups per
  component `r`) or not (one norm group for the whole block).
  """

  fb: _fourier.RegularFourierBasis
  trivial: int
  groups: np.ndarray
  left: np.ndarray
  real_type: tuple

  @property
  def num_norms(self) -> int:
    return int(self.groups.shape[1])


@functools.lru_cache(maxsize=64)
def irrep_layout(group: FiniteGroup) -> IrrepLayout:
  """The layout of `group`'s irreducible coordinates (cached per group)."""
  fb = _fourier.regular_fourier_basis(group)
  n = group.order
  trivial: Optional[int] = None
  members: list = []
  kinds: list = []
  for b in fb.blocks:
    rho = fb.phi[:, b.phi_start : b.phi_start + b.dim**2].reshape(n, b.dim, b.dim)
    chi = np.trace(rho, axis1=1, axis2=2)
    real_type = abs(float(np.mean(chi * chi)) - 1.0) < 1e-6  # Frobenius-Schur: 1, 2 or 4
    kinds.append(real_type)
    if b.dim == 1 and np.allclose(rho, 1.0):
      trivial = b.start
      continue
    cols = np.arange(b.start, b.start + b.copies * b.dim).reshape(b.copies, b.dim)
    if real_type:
      members.extend(cols[:, r] for r in range(b.dim))
    else:
      members.append(cols.reshape(-1))
  groups = np.zeros((n, len(members)))
  for k, idx in enumerate(members):
    groups[idx, k] = 1.0
  q = fb.basis
  left = np.einsum("hq,ghk,kp->gqp", q, Representation.regular(group).matrices, q)
  if any(b.dim > 1 for b in fb.blocks[:1]) or any(
    b.dim == 1 for b in fb.blocks if b.start > sum(c.dim == 1 for c in fb.blocks)
  ):
    raise ValueError("irrep_layout: expected the one-dimensional irreducibles first.")
  if trivial is None:
    raise ValueError(f"irrep_layout: {group.name} has no trivial irreducible block.")
  layout = IrrepLayout(fb, trivial, groups, left, tuple(kinds))
  _check_layout(layout)
  return layout


def _check_layout(layout: IrrepLayout) -> None:
  n = layout.left.shape[1]
  label = np.full(n, -1)
  label[layout.trivial] = 0
  for k in range(layout.num_norms):
    label[layout.groups[:, k] > 0] = k + 1
  cross = label[:, None] != label[None, :]
  err = float(np.max(np.abs(layout.left[:, cross]))) if np.any(cross) else 0.0
  err = max(err, float(np.max(np.abs(layout.left[:, layout.trivial, layout.trivial] - 1.0))))
  if not (np.all(label >= 0) and err <= 1e-8):
    raise ValueError(
      f"irrep_layout: the left action is not block-diagonal over the trivial "
      f"coordinate and the norm groups (max deviation {err:.3g})."
    )


def irrep_representation(group: FiniteGroup) -> Representation:
  """The action `F -> M_g F` on irreducible coordinates (for `tf_equirl.testing` with
  `input_axis=1` / `output_axis=1`)."""
  return Representation(group, irrep_layout(group).left, name="irreps")


def check_nonlinearity(value, layer: str):
  if value is not None and value not in NONLINEARITIES:
    raise ValueError(
      f"{layer}: nonlinearity must be one of {NONLINEARITIES} or None, received "
      f"nonlinearity={value!r}."
    )
  return value


def _one_dim(layout: IrrepLayout) -> int:
  """Number of one-dimensional irreducibles: coordinates `0 .. k1 - 1` (the trivial among them)."""
  return sum(b.dim == 1 for b in layout.fb.blocks)


def _block_norms(x: tf.Tensor, layout: IrrepLayout):
  """Per block of dimension > 1: `(block, norms [batch, groups, c], real_type)`, norm groups
  in the order of `layout.groups`' columns."""
  c = x.shape[-1]
  out = []
  for b, real in zip(layout.fb.blocks, layout.real_type):
    if b.dim == 1:
      continue
    block = x[:, b.start : b.start + b.copies * b.dim]
    if real:  # groups {start + i d + r}_i: reduce over the copy index i
      sq = tf.reduce_sum(tf.square(tf.reshape(block, [-1, b.copies, b.dim, c])), axis=1)
    else:
      sq = tf.reduce_sum(tf.square(block), axis=1, keepdims=True)
    out.append((b, block, tf.sqrt(sq + _NORM_EPS), real))
  return out


def group_norms(x: tf.Tensor, layout: IrrepLayout) -> tf.Tensor:
  """`|x[S_k]|` per channel: `[batch, |G|, c] -> [batch, K, c]` (invariant), computed per
  block (one-dimensional groups: `|x|`; real type: over the copies; else the whole block)."""
  k1 = _one_dim(layout)
  parts = []
  if k1 > 1:
    ones = [i for i in range(k1) if i != layout.trivial]
    lo, hi = ones[0], ones[-1] + 1
    if hi - lo == len(ones):
      parts.append(tf.sqrt(tf.square(x[:, lo:hi]) + _NORM_EPS))
    else:
      parts.extend(tf.sqrt(tf.square(x[:, i : i + 1]) + _NORM_EPS) for i in ones)
  parts.extend(r for _, _, r, _ in _block_norms(x, layout))
  return tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]


def apply_nonlinearity(pre: tf.Tensor, layout: IrrepLayout, bias, kind) -> tf.Tensor:
  """`pre: [batch, |G|, u]` irreducible coordinates; `bias`: `[u]` or `[batch, u]`, added to
  the trivial coordinate, or None; `kind`: one of `NONLINEARITIES` or None (linear)."""
  tr = layout.trivial
  t = pre[:, tr, :]
  if bias is not None:
    t = t + bias
  if kind is None and bias is None:
    return pre
  if kind is None:
    out, t_out = pre, t
  elif kind == "gated":
    # sigmoid(t) written with tanh, which XLA on CPU evaluates faster
    out, t_out = pre * tf.expand_dims(0.5 + 0.5 * tf.tanh(0.5 * t), 1), tf.tanh(t)
  else:
    if kind == "norm":  # one-dimensional coordinates: tanh(x), the trivial one with its bias
      return _norm_nonlinearity(pre, layout, t)
    r = group_norms(pre, layout)
    out, t_out = pre * _fourier.group_axis_transform(tf.tanh(r) / r, layout.groups.T), tf.tanh(t)
    out = out * tf.expand_dims(0.5 + 0.5 * tf.tanh(0.5 * t), 1)
  # the trivial coordinate replaced by t_out: one concatenation (cheaper than a masked select)
  return tf.concat([out[:, :tr], tf.expand_dims(t_out, 1), out[:, tr + 1 :]], axis=1)


def _norm_nonlinearity(pre: tf.Tensor, layout: IrrepLayout, t: tf.Tensor) -> tf.Tensor:
  """ "norm" block by block: `tanh` on the one-dimensional coordinates (`t` = the trivial one
  plus its bias), `x tanh(|x|)/|x|` per norm group of the larger blocks; one concatenation."""
  k1, tr = _one_dim(layout), layout.trivial
  parts = [tf.tanh(pre[:, :tr]), tf.expand_dims(tf.tanh(t), 1), tf.tanh(pre[:, tr + 1 : k1])]
  for b, block, r, real in _block_norms(pre, layout):
    f = tf.tanh(r) / r
    if real:
      c = block.shape[-1]
      out = tf.reshape(
        tf.reshape(block, [-1, b.copies, b.dim, c]) * tf.expand_dims(f, 1),
        [-1, b.copies * b.dim, c],
      )
    else:
      out = block * f
    parts.append(out)
  return tf.concat([p for p in parts if p.shape[1] != 0], axis=1)
