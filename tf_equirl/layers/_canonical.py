"""Canonical bases of subspaces, the same on every machine.

A basis read off an SVD, an eigendecomposition or a QR factorisation is arbitrary wherever
the subspace is: up to sign for a one-dimensional space and up to any rotation for a larger
one (an eigenspace of a repeated eigenvalue, the singular vectors of a projector, whose
singular values are all 0 or 1). Which one LAPACK returns depends on its kernels, so it
changes between CPUs (AVX2 against AVX-512) and BLAS builds, and with it the meaning of every
weight stored in such a basis and every initialisation drawn in it.

The subspaces themselves are unique, and so is the orthogonal projector onto each. Every basis
that feeds a parameter is therefore built here from a projector: `column_basis` picks columns
of the projector (pivoted Gram-Schmidt, ties broken by column index), `orthonormal` turns them
into an orthonormal basis by Gram-Schmidt in column order, and `range_basis` does both. The
result is a function of the projector alone: a different basis of the same subspace gives the
same projector up to rounding, and rounding moves the result by rounding only (it cannot
rotate it). For permutation representations the picked columns are sparse orbit sums and
differences, so the bases are readable too.
"""

from __future__ import annotations

import numpy as np

# Residual norms below this (relative to the largest column) are numerical zeros.
BASIS_TOL = 1e-9
# Norms equal to this many significant digits count as equal when pivoting, so that a tie in
# exact arithmetic is broken by column index rather than by the last bits of the arithmetic.
_TIE_DIGITS = 9


def column_basis(p: np.ndarray, tol: float = BASIS_TOL) -> np.ndarray:
  """Columns of `p` `[n, n]` spanning its range, in column order (pivoted Gram-Schmidt).

  The pivot is the column of largest residual norm; norms equal to `_TIE_DIGITS` digits are
  ties, broken by the lower column index, so the choice does not depend on rounding."""
  p = np.asarray(p, np.float64)
  residual = p.copy()
  scale = max(1.0, float(np.linalg.norm(p, axis=0).max(initial=0.0)))
  picked = []
  while True:
    norms = np.linalg.norm(residual, axis=0)
    rounded = np.round(norms / scale, _TIE_DIGITS)
    j = int(np.argmax(rounded))  # the first of equal maxima
    if norms[j] <= tol * scale:
      break
    picked.append(j)
    q = residual[:, j] / norms[j]
    residual -= np.outer(q, q @ residual)
  return np.round(p[:, sorted(picked)], 12)


def orthonormal(columns: np.ndarray, tol: float = BASIS_TOL) -> np.ndarray:
  """Gram-Schmidt (twice, for accuracy) on the columns in their order, dropping dependent
  ones; each output column has a positive inner product with the input column it came from."""
  out: list = []
  for v in np.asarray(columns, np.float64).T:
    w = v.copy()
    for _ in range(2):
      for u in out:
        w -= (u @ w) * u
    norm = np.linalg.norm(w)
    if norm > tol * max(1.0, float(np.linalg.norm(v))):
      out.append(w / norm)
  return np.stack(out, axis=1) if out else np.zeros((np.shape(columns)[0], 0))


def range_basis(p: np.ndarray, tol: float = BASIS_TOL) -> np.ndarray:
  """Orthonormal `[n, r]` basis of the range of the (possibly oblique) projector `p`, canonical:
  a function of `p` alone (see the module docstring)."""
  return orthonormal(column_basis(p, tol), tol)


def subspace_basis(vectors: np.ndarray, tol: float = BASIS_TOL) -> np.ndarray:
  """The canonical orthonormal basis `[n, r]` of the span of the orthonormal columns of
  `vectors` (e.g. an eigenspace or singular subspace from LAPACK): the same whichever
  orthonormal basis of that span LAPACK returned."""
  vectors = np.asarray(vectors, np.float64)
  return range_basis(vectors @ vectors.T, tol)
