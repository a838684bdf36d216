"""Features grouped by irreducible type with free multiplicities (the isotypic layers).

The steerable layers of `tf_equirl.layers._irreps` keep `c` copies of the regular
representation: every real irreducible `sigma` of dimension `d` appears `c d` times (`c`
times for one of complex type), so at a width that matches a dense layer's parameters they
carry several times its activations. Equivariant linear maps do not need that: by Schur's
lemma a map between features holding `m_in(sigma)` and `m_out(sigma)` copies of each type
is, per type, `X -> sum_k E_k X W_k` with `X: [d, m_in]` (one column per copy), `E_k` a
basis of the matrices commuting with every `sigma(g)` (the commutant: `I` for the real
irreducibles of C2, D_n and the one-dimensional ones of C_n, `{I, J}` for the rotations
of C_n, n >= 3, of complex type) and free `W_k: [m_in, m_out]`. That is `k m_in m_out`
parameters for `k m_in m_out d` multiply-adds and `m d` activations, and the
multiplicities can be chosen freely, e.g. many trivial (invariant) channels and few copies
of the two-dimensional types.

Layout ("flat"): `[batch, D]`, `D = sum_t d_t m_t`; type `t` occupies columns
`offset_t .. offset_t + d_t m_t`, component-major (`offset_t + r m_t + i`: component `r`
of copy `i`), so `reshape([batch d_t, m_t])` puts the copies on the last axis. Types are
numbered by `irrep_types(group)`: the trivial one first, then the others in the order of
`_fourier.regular_fourier_basis(group).blocks` (one-dimensional first). The group acts by
`sigma_t(g)` on the component axis of each type (`isotypic_representation`). The
irreducibles are read off the regular Fourier basis (no second decomposition): for a block
of real type the left action mixes the copy index of the block (one `sigma` per component
`r`), otherwise it acts on the whole block.

Multiplicities (`units`): an int `c` means the regular layout's, `c` copies of the regular
representation (`regular_multiplicities`); a sequence gives one count per type; a mapping
`{type index: count}` leaves the types it does not name at 0.

Nonlinearity "norm" (the default of the steerable layers, see `_irreps`): `tanh(t + b)` on
the trivial channels, `tanh(x)` on the other one-dimensional ones, `X_i tanh|X_i| / |X_i|`
per copy `i` of a larger type (`|X_i|` is invariant: `sigma` is orthogonal).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tf_equirl.groups import FiniteGroup, Representation
from tf_equirl.layers import _canonical, _fourier, _irreps
from tf_equirl.layers._base import fresh_initializer

NONLINEARITIES = ("norm",)


class IrrepType(NamedTuple):
  """One real irreducible `sigma` of the group.

  `dim`: `d`. `matrices`: `[|G|, d, d]` orthogonal `sigma(g)`. `commutant`: `[k, d, d]`,
  orthogonal matrices spanning those that commute with every `sigma(g)`, the identity first.
  `regular_coords`: `[d, r]` indices into the regular Fourier coordinates (`_irreps`) of
  the `r` copies one regular channel holds (`regular_coords[:, i]` is copy `i`).
  """

  dim: int
  matrices: np.ndarray
  commutant: np.ndarray
  regular_coords: np.ndarray

  @property
  def regular_copies(self) -> int:
    return int(self.regular_coords.shape[1])


def hom_basis(
  rho_in: np.ndarray, rho_out: np.ndarray, scale: float = 1.0, first: np.ndarray | None = None
) -> np.ndarray:
  """`[k, p, n]`: a basis of the maps `P` with `rho_out(g) P = P rho_in(g)` for every `g`
  (`rho_in: [|G|, n, n]`, `rho_out: [|G|, p, p]`), orthonormal in the Frobenius product and
  multiplied by `scale`; `first`, if given and equivariant, is its first element.

  The basis is canonical (columns of the averaging projector picked by pivoted Gram-Schmidt,
  `_canonical.range_basis`), not an SVD's, so saved weights mean the same everywhere."""
  n, p = rho_in.shape[1], rho_out.shape[1]
  inv_out = np.linalg.inv(rho_out)
  # vec(A) row-major: vec(S A R) = (S kron R^T) vec(A); average of rho_out^-1 A rho_in
  proj = np.einsum("gab,gji->aibj", inv_out, rho_in).reshape(p * n, p * n) / len(rho_in)
  cols = _canonical.column_basis(proj)
  if first is not None:
    cols = np.concatenate([first.reshape(-1, 1) / np.linalg.norm(first), cols], axis=1)
  basis = _canonical.orthonormal(cols)
  return scale * basis.T.reshape(-1, p, n)


@functools.lru_cache(maxsize=64)
def irrep_types(group: FiniteGroup) -> tuple:
  """The real irreducibles of `group`, trivial first (see the module docstring)."""
  layout = _irreps.irrep_layout(group)
  fb = layout.fb
  types = []
  for b, real in zip(fb.blocks, layout.real_type):
    coords = np.arange(b.start, b.start + b.copies * b.dim)
    if real:  # the left action mixes the copy index i of start + i dim + r
      coords = coords.reshape(b.copies, b.dim)
    else:
      coords = coords.reshape(-1, 1)
    # sigma(g) = M_g restricted to one copy (real type: the same for every r, _irreps checks)
    mats = layout.left[:, coords[:, 0]][:, :, coords[:, 0]]
    d = mats.shape[1]
    commutant = hom_basis(mats, mats, np.sqrt(d), first=np.eye(d))
    types.append(IrrepType(d, mats, commutant, coords))
  trivial = next(i for i, b in enumerate(fb.blocks) if b.start == layout.trivial)
  types.insert(0, types.pop(trivial))
  return tuple(types)


@functools.lru_cache(maxsize=64)
def bases_from(rep: Representation) -> tuple:
  """Per type `t`: `hom_basis(rep, sigma_t)`, `[k_t, d_t, n]`, scaled so that each `P`
  with `P P^T` a multiple of `I` is an isometry onto `sigma_t` (cached per representation)."""
  return tuple(hom_basis(rep.matrices, t.matrices, np.sqrt(t.dim)) for t in irrep_types(rep.group))


@functools.lru_cache(maxsize=64)
def bases_onto(rep: Representation) -> tuple:
  """Per type `t`: `hom_basis(sigma_t, rep)`, `[k_t, n, d_t]` (cached per representation)."""
  return tuple(hom_basis(t.matrices, rep.matrices, np.sqrt(t.dim)) for t in irrep_types(rep.group))


def regular_multiplicities(group: FiniteGroup, channels: int) -> tuple:
  """Multiplicities of `channels` copies of the regular representation."""
  return tuple(channels * t.regular_copies for t in irrep_types(group))


def check_multiplicities(units, group: FiniteGroup, argname: str, layer: str) -> tuple:
  """`units` as a tuple of one non-negative int per type of `irrep_types(group)`.

  Raises:
    ValueError: for an unknown type, a count that is not a non-negative integer, the wrong
      number of counts, or no channel at all.
  """
  types = irrep_types(group)
  n = len(types)
  expected = (
    f"an int (copies of the regular representation) or {n} non-negative counts, one "
    f"per irreducible type of {group.name} (dimensions "
    f"{[t.dim for t in types]}, trivial first), or a mapping {{type index: count}}"
  )
  if isinstance(units, bool):
    raise ValueError(f"{layer}: {argname} must be {expected}; received {argname}={units!r}.")
  if isinstance(units, (int, np.integer)):
    if units < 1:
      raise ValueError(f"{layer}: expected a positive integer, received {argname}={units!r}.")
    return regular_multiplicities(group, int(units))
  if isinstance(units, Mapping):
    counts = [0] * n
    for key, value in units.items():
      index = int(key) if isinstance(key, str) and key.isdigit() else key
      if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
        raise ValueError(
          f"{layer}: unknown irreducible type {key!r} in {argname}={units!r}; "
          f"{group.name} has types 0..{n - 1} (trivial first)."
        )
      counts[int(index)] = value
  elif isinstance(units, (list, tuple, np.ndarray)):
    counts = list(units)
    if len(counts) != n:
      raise ValueError(
        f"{layer}: {argname} must be {expected}; received {len(counts)} "
        f"counts, {argname}={units!r}."
      )
  else:
    raise ValueError(f"{layer}: {argname} must be {expected}; received {argname}={units!r}.")
  for value in counts:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
      raise ValueError(
        f"{layer}: multiplicities must be non-negative integers, received " f"{argname}={units!r}."
      )
  if sum(counts) == 0:
    raise ValueError(
      f"{layer}: {argname}={units!r} has no channel; give at least one type a " "positive count."
    )
  return tuple(int(c) for c in counts)


class FlatLayout(NamedTuple):
  """Columns of each type in the flat layout: `offsets[t] .. offsets[t] + dims[t] * counts[t]`."""

  dims: tuple
  counts: tuple
  offsets: tuple
  width: int

  @property
  def one_dim_width(self) -> int:
    """Columns `0 .. one_dim_width` hold the one-dimensional types (trivial first)."""
    return sum(d * m for d, m in zip(self.dims, self.counts) if d == 1)

  @property
  def num_norms(self) -> int:
    """Invariant norms of the non-trivial copies (one per copy)."""
    return int(sum(self.counts[1:]))


def flat_layout(group: FiniteGroup, counts: tuple) -> FlatLayout:
  dims = tuple(t.dim for t in irrep_types(group))
  offsets = tuple(int(x) for x in np.cumsum([0] + [d * m for d, m in zip(dims, counts)])[:-1])
  return FlatLayout(dims, tuple(counts), offsets, int(sum(d * m for d, m in zip(dims, counts))))


def isotypic_representation(group: FiniteGroup, counts) -> Representation:
  """The action on flat features with multiplicities `counts` (for `tf_equirl.testing`)."""
  counts = check_multiplicities(counts, group, "counts", "isotypic_representation")
  layout = flat_layout(group, counts)
  mats = np.zeros((group.order, layout.width, layout.width))
  for t, m, off in zip(irrep_types(group), counts, layout.offsets):
    d = t.dim
    for r in range(d):
      for s in range(d):  # column off + r m + i gets sigma[r, s] times column off + s m + i
        idx = np.arange(m)
        mats[:, off + r * m + idx, off + s * m + idx] = t.matrices[:, r, s][:, None]
  return Representation(group, mats, name=f"isotypic{list(counts)}")


def regular_to_flat(group: FiniteGroup, channels: int) -> np.ndarray:
  """`index[j]`: the regular Fourier coordinate (flattened `[|G|, channels]`) at flat column
  `j` of `regular_multiplicities(group, channels)`; copy `(i, c)` of a type is copy `i` of
  channel `c`. Regular features `F` read flat are `F.reshape(batch, -1)[:, index]`."""
  index = []
  for t in irrep_types(group):
    for r in range(t.dim):
      for i in range(t.regular_copies):
        index.extend(t.regular_coords[r, i] * channels + np.arange(channels))
  return np.array(index)


def _copies_of(x: tf.Tensor, d: int, m: int, off: int, xla: bool):
  """A type's copies: under XLA the `d` component slices `[batch, m]` (XLA fuses the
  elementwise work on contiguous slices, where a reshape and a reduction did not), else one
  `[batch, d, m]` view (the TensorFlow executor runs every slice as a separate copy)."""
  if xla:
    return [x[:, off + r * m : off + (r + 1) * m] for r in range(d)]
  return tf.reshape(x[:, off : off + d * m], [-1, d, m])


def _norm(copies) -> tf.Tensor:
  """`|X_i|` per copy, `[batch, m]` (smoothed at 0 like `_irreps`' norms)."""
  if isinstance(copies, list):
    sq = tf.add_n([tf.square(c) for c in copies]) if len(copies) > 1 else tf.square(copies[0])
  else:
    sq = tf.reduce_sum(tf.square(copies), axis=1)
  return tf.sqrt(sq + _irreps._NORM_EPS)  # pylint: disable=protected-access


def norms_and_nonlinearity(pre: tf.Tensor, layout: FlatLayout, bias, kind):
  """`pre: [batch, D]` flat features; `bias` (`[m_0]` or `[batch, m_0]`, or None) added to
  the trivial channels; `kind`: "norm" or None (linear)."""
  m0 = layout.counts[0]
  t = pre[:, :m0]
  if bias is not None:
    t = t + bias
  if kind is None:
    return tf.concat([t, pre[:, m0:]], axis=1) if bias is not None else pre
  xla = _fourier.in_xla_context()
  parts = [tf.tanh(t), tf.tanh(pre[:, m0 : layout.one_dim_width])]
  for d, m, off in zip(layout.dims, layout.counts, layout.offsets):
    if d == 1 or m == 0:
      continue
    copies = _copies_of(pre, d, m, off, xla)
    r = _norm(copies)
    factor = tf.tanh(r) / r
    if xla:
      parts.extend(c * factor for c in copies)
    else:
      parts.append(tf.reshape(copies * tf.expand_dims(factor, 1), [-1, d * m]))
  return tf.concat([p for p in parts if p.shape[1] != 0], axis=1)


def copy_norms(x: tf.Tensor, layout: FlatLayout) -> tf.Tensor:
  """`|X_i|` of every non-trivial copy: `[batch, D] -> [batch, sum_{t>0} m_t]` (invariant)."""
  m0 = layout.counts[0]
  xla = _fourier.in_xla_context()
  parts = [_norm([x[:, m0 : layout.one_dim_width]])]
  for d, m, off in zip(layout.dims, layout.counts, layout.offsets):
    if d > 1 and m:
      parts.append(_norm(_copies_of(x, d, m, off, xla)))
  parts = [p for p in parts if p.shape[1] != 0]
  if not parts:
    return tf.zeros([tf.shape(x)[0], 0], x.dtype)
  return tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]


def regular_gain(group: FiniteGroup, t: IrrepType) -> float:
  """`sqrt(|G| / d)`: each type's weights are stored divided by it and multiplied back in the
  forward pass. The regular layers hold a type's weights as `|G|`-fold sums over the group
  (`A_rho = sum_g phi_rho(g) (x) W[g]`, Schur: `sum_g phi_rs(g)^2 = |G| / d`), so one Adam
  step on `W` moves `A_rho` about `sqrt(|G| / d)` times as far as on a free `A_rho`; the gain
  gives the isotypic layers the same step sizes (and leaves the initial function alone).
  Without it the isotypic actor with the regular multiplicities learned much more slowly on
  the grid world than the steerable one, the same maps (see results/ppo_grid/README.md)."""
  return float(np.sqrt(group.order / t.dim))


def scaled_initializer(initializer, gain: float):
  """`initializer` divided by `gain` (a fresh instance: see `_base.fresh_initializer`)."""
  init = fresh_initializer(initializer)
  return lambda shape, dtype=None: init(shape, dtype=dtype) / gain


def check_nonlinearity(value, layer: str):
  if value is not None and value not in NONLINEARITIES:
    raise ValueError(
      f"{layer}: nonlinearity must be one of {NONLINEARITIES} or None, received "
      f"nonlinearity={value!r} (the gated forms need one gate per copy, which "
      "free multiplicities do not pair up)."
    )
  return value
