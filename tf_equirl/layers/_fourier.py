"""The real Fourier (irreducible-representation) basis of the regular representation.

A group convolution `K[k, h] = W[h^-1 k]` commutes with the regular action, so in a basis
adapted to the decomposition of the regular representation into real irreducibles it is
block-diagonal: `Q^T K Q = (+)_rho I_m (x) A_rho` with one `[d c, d u]` block `A_rho` per
irreducible `rho` of real dimension `d`, repeated for its `m` copies. The forward pass
then costs `sum_rho m d^2` multiply-adds per input/output channel pair instead of
`|G|^2` (spatial form): `|G|` for abelian groups with one-dimensional real irreducibles
(C2: sum and difference channels), `2 + 4 (n-2)/2` for `C_n` (its two-dimensional real
irreducibles are rotations, which multiply like complex numbers), less than `2 |G|` for
dihedral groups (12 for D4, 10 for D3). The price is a change of basis on the group axis before and after
(`|G|^2` multiply-adds per channel), because pointwise nonlinearities need the spatial
values.

The basis is computed numerically for any `FiniteGroup` (no character tables needed):
the eigenspaces of a generic symmetric matrix commuting with the right translations are
irreducible subspaces; they are grouped by character and the copies of one irreducible
are rotated onto each other with an averaged intertwiner so that they share `A_rho`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tf_equirl.groups import FiniteGroup
from tf_equirl.layers import _canonical

# Eigenvalues of the random commuting matrix closer than this (relative) are one eigenspace.
_EIG_TOL = 1e-7
# Largest deviation accepted when verifying the decomposition (float64 arithmetic).
_CHECK_TOL = 1e-8


class FourierBlock(NamedTuple):
  """`copies` copies of one real irreducible of dimension `dim`, at columns
  `start .. start + copies * dim` of the basis (copy-major)."""

  start: int
  copies: int
  dim: int
  phi_start: int  # offset of this irreducible's `dim x dim` matrices in `phi`'s columns


class RegularFourierBasis(NamedTuple):
  """`basis`: orthogonal `[|G|, |G|]` matrix `Q` (columns = Fourier coordinates).
  `blocks`: the irreducibles, ordered by `(dim, copies)`.
  `phi`: `[|G|, sum dim^2]`, `phi[g, phi_start + r dim + s] = rho(g)[r, s]`, the matrices
  of each irreducible in the basis of its first copy; the kernel's Fourier blocks are
  `A_rho[(r, c), (s, u)] = sum_g phi[g, (r, s)] W[g, c, u]`.
  """

  basis: np.ndarray
  blocks: tuple
  phi: np.ndarray

  @property
  def multiply_adds(self) -> int:
    """Multiply-adds per sample and per (input, output) channel pair in this basis."""
    return int(sum(b.copies * b.dim * b.dim for b in self.blocks))


def _right_translations(group: FiniteGroup) -> np.ndarray:
  """`E[g, k, h] = 1` iff `k = h g`: the kernel of GroupConv is `K = sum_g E_g (x) W[g]`."""
  n = group.order
  e = np.zeros((n, n, n))
  for g in range(n):
    e[g, group.table[np.arange(n), g], np.arange(n)] = 1.0
  return e


@functools.lru_cache(maxsize=64)
def regular_fourier_basis(group: FiniteGroup, seed: int = 0) -> RegularFourierBasis:
  """The real Fourier basis of `group` (cached per group). See the module docstring.

  Raises:
    ValueError: if the numerical decomposition fails its own verification (it does not
      for any group tried; the check guards against an unlucky random draw).
  """
  n = group.order
  e = _right_translations(group)
  rng = np.random.default_rng(seed)
  x = rng.standard_normal((n, n))
  # Averaging a random symmetric matrix over the translations gives a generic symmetric
  # matrix that commutes with all of them: its eigenspaces are irreducible subspaces.
  h = np.einsum("gij,jk,glk->il", e, x + x.T, e) / n
  values, vectors = np.linalg.eigh(h)
  scale = max(1.0, float(np.max(np.abs(values))))
  spaces, i = [], 0
  while i < n:
    j = i + 1
    while j < n and values[j] - values[i] <= _EIG_TOL * scale:
      j += 1
    # An eigenspace is unique, the eigenvectors LAPACK returns for it are not (sign, and any
    # rotation where it is more than one-dimensional): take the canonical basis instead.
    space = _canonical.subspace_basis(vectors[:, i:j])
    if space.shape[1] != j - i:
      raise ValueError(
        f"regular_fourier_basis: an eigenspace of dimension {j - i} of "
        f"{group.name} gave a canonical basis of {space.shape[1]} vectors."
      )
    spaces.append(space)
    i = j
  # Group the irreducible subspaces by character (isomorphic iff equal characters).
  classes: dict = {}
  for b in spaces:
    chi = np.round(np.einsum("ik,gij,jk->g", b, e, b), 6)
    classes.setdefault(tuple(chi.tolist()), []).append(b)
  aligned = []
  for copies in classes.values():
    first = copies[0]
    rho1 = np.einsum("ir,gij,js->grs", first, e, first)
    group_of_copies = [first]
    for b in copies[1:]:
      rho = np.einsum("ir,gij,js->grs", b, e, b)
      m = rng.standard_normal((first.shape[1],) * 2)
      t = np.einsum("grs,st,gut->ru", rho1, m, rho)  # intertwiner: rho1(g) T = T rho(g)
      t /= np.sqrt(np.trace(t @ t.T) / t.shape[0])  # Schur: a multiple of an orthogonal matrix
      group_of_copies.append(b @ t.T)
    aligned.append((first.shape[1], len(copies), group_of_copies, rho1))
  aligned.sort(key=lambda a: (a[0], a[1]))
  columns, blocks, phis, start, phi_start = [], [], [], 0, 0
  for dim, count, bases, rho1 in aligned:
    columns.extend(bases)
    blocks.append(FourierBlock(start, count, dim, phi_start))
    phis.append(rho1.reshape(n, dim * dim))
    start += count * dim
    phi_start += dim * dim
  q = np.concatenate(columns, axis=1)
  phi = np.concatenate(phis, axis=1)
  result = RegularFourierBasis(q, tuple(blocks), phi)
  _verify(result, e)
  return result


def _verify(fb: RegularFourierBasis, e: np.ndarray) -> None:
  """`Q` is orthogonal and `Q^T E_g Q` is the block-diagonal matrix the layers assume."""
  n = e.shape[0]
  q = fb.basis
  err = np.max(np.abs(q.T @ q - np.eye(n)))
  expected = np.zeros_like(e)
  for b in fb.blocks:
    rho = fb.phi[:, b.phi_start : b.phi_start + b.dim**2].reshape(n, b.dim, b.dim)
    for i in range(b.copies):
      lo = b.start + i * b.dim
      expected[:, lo : lo + b.dim, lo : lo + b.dim] = rho
  err = max(err, float(np.max(np.abs(np.einsum("ik,gij,jl->gkl", q, e, q) - expected))))
  if not err <= _CHECK_TOL:
    raise ValueError(
      f"regular_fourier_basis: the numerical decomposition failed its check "
      f"(max deviation {err:.3g}); try another seed."
    )


# Largest group axis whose change of basis is written out as linear combinations of slices
# under XLA (which fuses them into one loop); larger ones use an einsum under XLA (whose
# broadcast batched matmul is slow on CPU) and all of them use one broadcast batched
# matmul outside XLA (where separate slices would each be a pass over memory).
_UNROLL_MAX = 8


def in_xla_context() -> bool:
  """True while tracing a function compiled with XLA (`tf.function(jit_compile=True)`).

  Keras uses the same check to choose XLA-specific lowerings; the layers use it to pick
  the form of their changes of basis, which XLA and the TensorFlow executor run at very
  different speeds (see `benchmarks/forward_overhead.py`)."""
  if tf.executing_eagerly():
    return False
  try:
    from tensorflow.python.ops import control_flow_util  # pylint: disable=g-import-not-at-top
  except ImportError:  # pragma: no cover - private module moved
    return False
  return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def group_axis_transform(x: tf.Tensor, matrix: np.ndarray, xla: bool | None = None) -> tf.Tensor:
  """`y[:, q, :] = sum_g matrix[g, q] x[:, g, :]` for `x: [batch, n, c]`: a change of basis
  on the group axis that keeps the channel axis contiguous (no transposes)."""
  n = matrix.shape[0]
  xla = in_xla_context() if xla is None else xla
  if xla and n > _UNROLL_MAX:
    return tf.einsum("bgc,gq->bqc", x, tf.constant(matrix, dtype=x.dtype))
  if xla:
    slices = tf.unstack(x, num=n, axis=1)
    cols = []
    for q in range(matrix.shape[1]):
      terms = [
        s if matrix[g, q] == 1.0 else s * float(matrix[g, q])
        for g, s in enumerate(slices)
        if matrix[g, q] != 0.0
      ]
      cols.append(tf.add_n(terms) if terms else tf.zeros_like(slices[0]))
    return tf.stack(cols, axis=1)
  return tf.matmul(tf.constant(matrix.T, dtype=x.dtype), x)


def fourier_kernel_blocks(kernel: tf.Tensor, fb: RegularFourierBasis) -> list:
  """The `[d c, d u]` block `A_rho` of each irreducible, from a `[|G|, c, u]` kernel."""
  _, c, u = kernel.shape
  kt = tf.tensordot(tf.constant(fb.phi.T, dtype=kernel.dtype), kernel, axes=1)  # [P, c, u]
  blocks = []
  for b in fb.blocks:
    a = kt[b.phi_start : b.phi_start + b.dim * b.dim]
    if b.dim > 1:  # [(r, s), c, u] -> [(r, c), (s, u)]
      a = tf.transpose(tf.reshape(a, [b.dim, b.dim, c, u]), [0, 2, 1, 3])
    blocks.append(tf.reshape(a, [b.dim * c, b.dim * u]))
  return blocks


def fourier_block_matmul(ft: tf.Tensor, kernel: tf.Tensor, fb: RegularFourierBasis) -> tf.Tensor:
  """`GroupConv` without bias on features already in Fourier coordinates,
  `Q^T f -> Q^T (K f)`: `[batch, |G|, c] -> [batch, |G|, u]`, one matmul per irreducible."""
  _, c, u = kernel.shape
  outs = []
  for b, a in zip(fb.blocks, fourier_kernel_blocks(kernel, fb)):
    x = tf.reshape(ft[:, b.start : b.start + b.copies * b.dim], [-1, b.dim * c])
    outs.append(tf.reshape(tf.matmul(x, a), [-1, b.copies * b.dim, u]))
  return tf.concat(outs, axis=1) if len(outs) > 1 else outs[0]


def fourier_group_conv(inputs: tf.Tensor, kernel: tf.Tensor, fb: RegularFourierBasis) -> tf.Tensor:
  """`GroupConv` without bias in the Fourier basis: `[batch, |G|, c] -> [batch, |G|, u]`."""
  out = fourier_block_matmul(group_axis_transform(inputs, fb.basis), kernel, fb)
  return group_axis_transform(out, fb.basis.T)


# The cost model behind implementation="auto", in multiply-add equivalents per call. At
# large batches these layers are limited by memory traffic as much as by arithmetic: on the
# 2-core CPU the benchmarks ran on, moving one float32 to or from memory costs about as
# much as `_FLOAT_COST` multiply-adds; XLA's einsum over a long group axis moves its data
# several times (`_XLA_EINSUM_PASSES`). At small batches the extra operations of
# the Fourier form dominate: each costs about `_OP_COST` (Python and executor overhead;
# XLA fuses most of them). The Fourier form is used when the multiply-adds it saves
# outweigh both. See docs/notes/forward_overhead.md for the measurements.
_FLOAT_COST = {"eager": 12.0, "function": 12.0, "xla": 10.0}
_OP_COST = {"eager": 1.5e6, "function": 1e5, "xla": 1e4}
_XLA_EINSUM_PASSES = 12
_UNKNOWN_BATCH = 1 << 20


def execution_mode() -> str:
  """ "eager", "function" (a TensorFlow graph) or "xla" (compiled with XLA)."""
  if tf.executing_eagerly():
    return "eager"
  return "xla" if in_xla_context() else "function"


def _pays_off(
  saved: float, extra_floats: float, extra_ops: int, mode: str, batch, saved_per_call: float = 0.0
) -> bool:
  """`saved`/`extra_floats`: per sample; `saved_per_call`: on the weights, once per call."""
  batch = _UNKNOWN_BATCH if batch is None else int(batch)
  gain = batch * (saved - _FLOAT_COST[mode] * extra_floats) + saved_per_call
  return gain > _OP_COST[mode] * extra_ops


def conv_fourier_pays_off(
  fb: RegularFourierBasis,
  in_channels: int,
  units: int,
  mode: str = "function",
  batch=None,
  kernels: int = 1,
) -> bool:
  """Whether "auto" runs a group convolution in the Fourier basis (see GroupConv).

  With `kernels` L > 1 the layer is a relaxed group convolution (`RelaxedGroupConv`): its
  Fourier form runs the L convolutions (`L units` output channels) and mixes their outputs,
  its spatial form one convolution with the assembled `[|G| c, |G| u]` kernel."""
  n = fb.basis.shape[0]
  outputs = kernels * units
  saved = (n * n - kernels * fb.multiply_adds) * in_channels * units
  if mode == "xla" and n <= _UNROLL_MAX:  # blocks re-read the input; one fused output pass
    extra = n * in_channels * (len(fb.blocks) + 1) + 2 * n * outputs
  elif mode == "xla":
    extra = _XLA_EINSUM_PASSES * n * (in_channels + outputs)
  else:  # transform, slices, concat and inverse transform each pass over memory
    extra = 6 * n * in_channels + 4 * n * outputs
  if kernels > 1:  # the mixing reads the L outputs once
    extra += n * outputs
  # Per call, the spatial form gathers and transposes |G|^2 c u kernel entries per kernel;
  # the Fourier form multiplies the kernel by the [P, |G|] matrix of irreducibles instead.
  p = fb.phi.shape[1]
  kernel = in_channels * outputs
  per_call = _FLOAT_COST[mode] * (2 * n * n - p) * kernel - p * n * kernel
  return _pays_off(saved, extra, 2 * len(fb.blocks) + 4 + (kernels > 1), mode, batch, per_call)


def lift_fourier_pays_off(
  plan: "LiftFourierPlan", units: int, mode: str = "function", batch=None
) -> bool:
  """Whether "auto" runs a lifting layer in the Fourier basis (see GroupLift)."""
  n, d = plan.fb.basis.shape[0], plan.v.shape[0]
  saved = (d * n - plan.multiply_adds) * units - plan.input_multiply_adds
  extra = 2 * plan.v.shape[1] + d + 3 * n * units
  if mode != "eager":
    # The change of basis back to the group axis costs far more than one pass per output
    # float: XLA unrolls it into n slices summed n times, TensorFlow runs it as a batched
    # [n, n] x [n, units] product. Measured on the grid world's D4 lift (75 -> 8 x 51,
    # batch 10,000), time relative to a 75 -> 64 dense layer: Fourier 6.0x vs spatial 4.4x
    # under XLA, 15.5x vs 4.4x in tf.function (docs/notes/forward_overhead.md).
    extra += (n * n if mode == "xla" else 4 * n * n) * units
  return _pays_off(saved, extra, 2 * len(plan.blocks) + 4, mode, batch)


def permutation_fourier_pays_off(
  n: int, in_channels: int, units: int, mode: str = "function", batch=None
) -> bool:
  """Whether "auto" runs PermutationEquivariantDense in its mean/deviation form."""
  if n == 2 and mode == "xla":
    # Mean and half-difference fuse into one pass. With the gradient (a training step:
    # forward, backward, update, as in PPO's minibatch updates) it is faster at every batch
    # measured, 8 (Catch's minibatch) to 512, with either XLA runtime (`python
    # benchmarks/train_step_forms.py [--xla_runtime]`, docs/notes/forward_overhead.md,
    # "Training steps"); forward passes alone had suggested the spatial form below ~20.
    return True
  saved = in_channels * units  # one of the n + 1 [c, u] products per sample
  if mode == "xla":
    extra = n * (in_channels + units)
  else:  # slices, subtraction, stacking: separate passes outside XLA
    extra = 2 * n * in_channels + n * units
  return _pays_off(saved, extra, 4, mode, batch)


# ----------------------------------------------------------------------------- lifting
class LiftBlock(NamedTuple):
  """Fourier columns `cols` of the lifted features depend on the input only through the
  coordinates `y[coords]`, `y = V^T x`; `coefficients[k, j, i]`: column `cols[j]` is
  `sum_k y[coords][k] (coefficients[k, j] @ W)`."""

  coords: slice
  cols: slice
  coefficients: np.ndarray


class LiftFourierPlan(NamedTuple):
  """How `GroupLift` runs in the Fourier basis: `y = V^T x` (`gather_index`/`gather_value`
  when `V` is sparse, else the dense `v`), one small matmul per irreducible, then the
  change of basis back to the group axis."""

  fb: RegularFourierBasis
  v: np.ndarray
  gather_index: np.ndarray | None
  gather_value: np.ndarray | None
  blocks: tuple

  @property
  def multiply_adds(self) -> int:
    """Per sample and output channel, without the changes of basis."""
    return int(sum(b.coefficients.shape[0] * b.coefficients.shape[1] for b in self.blocks))

  @property
  def input_multiply_adds(self) -> int:
    """Per sample, for `y = V^T x`."""
    k = self.v.shape[0] if self.gather_index is None else self.gather_index.shape[1]
    return int(k * self.v.shape[1])


def fourier_lift_matrices(fb: RegularFourierBasis, lift: np.ndarray) -> np.ndarray:
  """`Pi[q] = sum_h Q[h, q] rho(h^-1)^T`, `[|G|, d, d]`, from `lift[h] = rho(h^-1)^T`: the
  Fourier coordinate `q` of a lifted feature `f[h] = W rho(h^-1) x` is `x^T Pi[q] W`."""
  return np.einsum("hq,hij->qij", fb.basis, lift)


@functools.lru_cache(maxsize=64)
def _lift_plan_cached(group: FiniteGroup, key: bytes, shape: tuple) -> LiftFourierPlan:
  lift = np.frombuffer(key, dtype=np.float64).reshape(shape)  # [h, d, d] = rho(h^-1)^T
  fb = regular_fourier_basis(group)
  d = lift.shape[1]
  pi = fourier_lift_matrices(fb, lift)
  vs, blocks, start = [], [], 0
  for b in fb.blocks:
    cols = slice(b.start, b.start + b.copies * b.dim)
    stacked = np.concatenate(list(pi[cols]), axis=1)  # [d, |cols| d]
    u, s, _ = np.linalg.svd(stacked, full_matrices=False)
    rank = int(np.sum(s > 1e-9 * max(1.0, s.max(initial=0.0))))
    if rank == 0:
      blocks.append(LiftBlock(slice(start, start), cols, np.zeros((0, cols.stop - cols.start, d))))
      continue
    vb = _canonical.column_basis(u[:, :rank] @ u[:, :rank].T)
    coefficients = np.einsum("kd,qdi->kqi", np.linalg.pinv(vb), pi[cols])
    blocks.append(LiftBlock(slice(start, start + rank), cols, coefficients))
    vs.append(vb)
    start += rank
  v = np.concatenate(vs, axis=1) if vs else np.zeros((d, 0))
  nnz = np.abs(v) > 1e-12
  k = int(nnz.sum(axis=0).max(initial=0))
  gather_index = gather_value = None
  if 0 < k < d:
    order = np.argsort(~nnz, axis=0, kind="stable")[:k].T  # [d_y, k] rows of the nonzeros
    gather_index = order
    gather_value = np.take_along_axis(v.T, order, axis=1)
  return LiftFourierPlan(fb, v, gather_index, gather_value, tuple(blocks))


def lift_fourier_plan(input_rep) -> LiftFourierPlan:
  """The Fourier plan of `GroupLift` for `input_rep` (cached per representation)."""
  lift = np.ascontiguousarray(np.transpose(input_rep.inverse_matrices(), (0, 2, 1)))
  return _lift_plan_cached(input_rep.group, lift.tobytes(), lift.shape)


def fourier_group_lift(inputs: tf.Tensor, kernel: tf.Tensor, plan: LiftFourierPlan) -> tf.Tensor:
  """`GroupLift` without bias in the Fourier basis: `[batch, d] -> [batch, |G|, u]`."""
  dt = inputs.dtype
  u = kernel.shape[1]
  if plan.gather_index is not None:
    gathered = tf.gather(inputs, plan.gather_index.reshape(-1), axis=1)
    gathered = tf.reshape(gathered, [-1] + list(plan.gather_index.shape))
    y = tf.reduce_sum(gathered * tf.constant(plan.gather_value, dt), axis=2)
  else:
    y = tf.matmul(inputs, tf.constant(plan.v, dt))
  outs = []
  for b in plan.blocks:
    n_cols = b.cols.stop - b.cols.start
    if b.coefficients.shape[0] == 0:
      outs.append(tf.zeros([tf.shape(inputs)[0], n_cols, u], dt))
      continue
    k = b.coefficients.shape[0]
    w = tf.reshape(tf.tensordot(tf.constant(b.coefficients, dt), kernel, axes=1), [k, n_cols * u])
    outs.append(tf.reshape(tf.matmul(y[:, b.coords], w), [-1, n_cols, u]))
  out = tf.concat(outs, axis=1) if len(outs) > 1 else outs[0]
  return group_axis_transform(out, plan.fb.basis.T)
