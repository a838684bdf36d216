"""Every basis that feeds a parameter is canonical: independent of LAPACK's choice of basis.

An SVD or eigendecomposition returns an arbitrary basis of a subspace (up to sign, and up to
rotation where the subspace has more than one dimension), and which one depends on the CPU's
kernels. The bases of the Symmetrizer layer, of biases and of the irreducible (Fourier)
coordinates of the steerable layers are read off projectors instead
(`tf_equirl.layers._canonical`).
"""

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from support import GROUPS, REPO, state_rep
from tf_equirl.envs import make
from tf_equirl.groups import Representation
from tf_equirl.layers import _canonical, _fourier
from tf_equirl.layers.symmetrizer_dense import invariant_basis, symmetrizer_basis


def _random_rotation(n: int, seed: int) -> np.ndarray:
  q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
  return q * np.sign(np.diag(r))


@pytest.mark.parametrize("group", ["C2", "C4", "D4", "D3"])
def test_subspace_basis_does_not_depend_on_the_basis_it_is_given(group):
  """Any orthonormal basis of an eigenspace (what another LAPACK could return) gives the same
  canonical basis."""
  fb = _fourier.regular_fourier_basis(GROUPS[group])
  for b in fb.blocks:
    span = fb.basis[:, b.start : b.start + b.copies * b.dim]
    canonical = _canonical.subspace_basis(span)
    for seed in range(3):
      rotated = span @ _random_rotation(span.shape[1], seed)
      np.testing.assert_allclose(_canonical.subspace_basis(rotated), canonical, atol=1e-12)
      np.testing.assert_allclose(_canonical.subspace_basis(-rotated), canonical, atol=1e-12)


def test_column_basis_breaks_ties_by_index_not_by_rounding():
  """Columns of equal norm in exact arithmetic: the lower index wins, whatever the last bits."""
  p = np.full((2, 2), 0.5)  # projector onto (1, 1) / sqrt 2: both columns tie
  p_noisy = p.copy()
  p_noisy[:, 1] *= 1 + 1e-15  # rounding that would make column 1 the larger one
  np.testing.assert_array_equal(_canonical.column_basis(p_noisy), _canonical.column_basis(p))
  np.testing.assert_allclose(_canonical.range_basis(p_noisy), [[2**-0.5], [2**-0.5]])


def test_symmetrizer_basis_of_the_cartpole_mirror_is_the_known_one():
  """CartPole's flip negates the state; onto the regular representation of C2 (which swaps
  the two group coordinates) the equivariant maps are `[w; -w]`: basis `[e_i; -e_i] / sqrt 2`,
  with the sign that makes the first nonzero entry positive."""
  sym = make("CartPole-v1").symmetry
  basis = symmetrizer_basis(sym.state_rep, Representation.regular(sym.group))
  assert basis.shape == (4, 2, 4)
  expected = np.zeros((4, 2, 4))
  for i in range(4):
    expected[i, 0, i], expected[i, 1, i] = 2**-0.5, -(2**-0.5)
  np.testing.assert_allclose(basis, expected, atol=1e-12)
  np.testing.assert_allclose(
    invariant_basis(Representation.regular(sym.group)), [[2**-0.5, 2**-0.5]], atol=1e-12
  )


@pytest.mark.parametrize("group", ["C2", "C4", "D4", "D3"])
def test_symmetrizer_basis_spans_the_equivariant_maps(group):
  g = GROUPS[group]
  rep_in, rep_out = state_rep(g), Representation.regular(g)
  basis = symmetrizer_basis(rep_in, rep_out)
  flat = basis.reshape(len(basis), -1)
  np.testing.assert_allclose(flat @ flat.T, np.eye(len(basis)), atol=1e-10)
  for w in basis:
    np.testing.assert_allclose(
      np.einsum("gij,jk->gik", rep_out.matrices, w),
      np.einsum("ij,gjk->gik", w, rep_in.matrices),
      atol=1e-10,
    )
  # its dimension is that of the space: sum over g of the character product, over |G|
  chi = np.einsum("gii->g", rep_in.matrices) * np.einsum("gii->g", rep_out.matrices)
  assert len(basis) == round(chi.mean())


_PROBE = """
import json, numpy as np
from tf_equirl.envs import make
from tf_equirl.groups import Representation, cyclic, dihedral
from tf_equirl.layers import _fourier, _isotypic
from tf_equirl.layers.symmetrizer_dense import invariant_basis, symmetrizer_basis
out = {}
for env in ("CartPole-v1", "Catch-v0", "GridWorld-v0"):
  sym = make(env).symmetry
  regular = Representation.regular(sym.group)
  # the bases of the Symmetrizer networks' layers (tf_equirl.networks.builders)
  for a, b in ((sym.state_rep, regular), (regular, regular), (regular, sym.action_rep)):
    out[f"{env}/symmetrizer/{a.name}/{b.name}"] = symmetrizer_basis(a, b).tolist()
  for rep in (regular, sym.action_rep):
    out[f"{env}/invariant/{rep.name}"] = invariant_basis(rep).tolist()
for name, g in (("C4", cyclic(4)), ("D4", dihedral(4)), ("D3", dihedral(3)), ("C8", cyclic(8))):
  out[name + "/fourier"] = _fourier.regular_fourier_basis(g).basis.tolist()
  for i, t in enumerate(_isotypic.irrep_types(g)):
    out[f"{name}/commutant_{i}"] = t.commutant.tolist()
print(json.dumps(out))
"""


@pytest.mark.skipif(
  platform.machine() not in ("x86_64", "AMD64"),
  reason="OpenBLAS kernel selection by OPENBLAS_CORETYPE is x86-64's",
)
def test_bases_are_the_same_with_other_lapack_kernels():
  """The bases computed with OpenBLAS' SSE3 kernels (`OPENBLAS_CORETYPE=Prescott`, which every
  x86-64 CPU runs) and, where the CPU has them, its AVX2 kernels (`Haswell`) equal those of
  this CPU's own kernels. Read off an SVD or eigendecomposition they did not: with the AVX2
  kernels on an AVX-512 CPU the Catch and grid-world Symmetrizer bases and the Fourier bases
  of D3, D4 and C8 came out rotated."""
  coretypes = [None, "Prescott"]
  if _cpu_has("avx2"):
    coretypes.append("Haswell")  # AVX2 kernels on an AVX-512 CPU: the failing case
  results = []
  for coretype in coretypes:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if coretype:
      env["OPENBLAS_CORETYPE"] = coretype
    out = subprocess.run(
      [sys.executable, "-c", _PROBE], cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout
    results.append(json.loads(out.strip().splitlines()[-1]))
  native = results[0]
  for coretype, other in zip(coretypes[1:], results[1:]):
    assert native.keys() == other.keys()
    for name in native:
      np.testing.assert_allclose(
        np.array(other[name]),
        np.array(native[name]),
        atol=1e-10,
        err_msg=f"{name} with OPENBLAS_CORETYPE={coretype}",
      )


def _cpu_has(flag: str) -> bool:
  try:
    with open("/proc/cpuinfo") as f:
      return any(line.startswith("flags") and flag in line.split() for line in f)
  except OSError:
    return False
