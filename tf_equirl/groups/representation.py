"""Linear representations of finite groups, and the one helper that applies them.

A `Representation` holds one matrix per group element, `matrices[g] = rho(g)`, and
is checked to be a homomorphism `rho(g) rho(h) = rho(g * h)` when it is built.
`Representation.transform(x, g, axis)` is the single place in tf_equirl where a
group element acts on a tensor; layers, environments and `tf_equirl.testing` all
go through it.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import tensorflow as tf

from tf_equirl.groups.finite_group import FiniteGroup, _validate_permutations

__all__ = ["Representation", "direct_sum"]


class Representation:
  """A representation `rho: G -> GL(d)` of a finite group, validated on construction.

  Args:
    group: the `FiniteGroup` (or its config dict).
    matrices: array `[group.order, d, d]`, `matrices[g] = rho(g)`.
    name: optional name ("regular", "cartpole_state", ...).
    atol: tolerance of the homomorphism check.

  Raises:
    ValueError: if the shape does not match the group, or `rho(g) rho(h) != rho(gh)`
      for some pair (the message names the first failing pair), or `rho(e) != I`.
  """

  def __init__(
    self,
    group: FiniteGroup | Mapping[str, Any],
    matrices: Any,
    name: str | None = None,
    atol: float = 1e-5,
  ):
    group = FiniteGroup.coerce(group)
    mats = np.asarray(matrices, dtype=np.float64)
    if mats.ndim != 3 or mats.shape[1] != mats.shape[2]:
      raise ValueError(
        "Representation expects matrices of shape [order, d, d], received " f"shape {mats.shape}."
      )
    if mats.shape[0] != group.order:
      raise ValueError(
        f"Representation of {group.name} (order {group.order}) needs one "
        f"matrix per element, received {mats.shape[0]} matrices."
      )
    if not np.all(np.isfinite(mats)):
      raise ValueError("Representation matrices must be finite.")
    d = mats.shape[1]
    err_e = np.max(np.abs(mats[group.identity] - np.eye(d))) if d else 0.0
    if err_e > atol:
      raise ValueError(
        f"Not a representation: rho(identity={group.identity}) is not the "
        f"identity matrix (max deviation {err_e:.3g})."
      )
    products = np.einsum("gij,hjk->ghik", mats, mats)
    targets = mats[group.table]
    errors = (
      np.max(np.abs(products - targets), axis=(2, 3)) if d else np.zeros((group.order, group.order))
    )
    bad = np.argwhere(errors > atol)
    if bad.size:
      g, h = (int(v) for v in bad[0])
      raise ValueError(
        f"Not a homomorphism: rho({g}) @ rho({h}) != rho({g}*{h}) = rho({group.table[g, h]}) "
        f"(max deviation {errors[g, h]:.3g} > atol={atol}); {len(bad)} of "
        f"{group.order ** 2} pairs fail."
      )
    self._group = group
    self._matrices = mats
    self._matrices.setflags(write=False)
    self._name = name
    self._permutation = _as_permutation(mats)

  # ------------------------------------------------------------------ properties
  @property
  def group(self) -> FiniteGroup:
    return self._group

  @property
  def dim(self) -> int:
    return int(self._matrices.shape[1])

  @property
  def matrices(self) -> np.ndarray:
    """Read-only float64 array `[order, d, d]`."""
    return self._matrices

  @property
  def name(self) -> str:
    return self._name or f"rep(d={self.dim})"

  @property
  def is_permutation(self) -> bool:
    """True when every `rho(g)` is a permutation matrix."""
    return self._permutation is not None

  @property
  def permutation(self) -> np.ndarray:
    """`perm[g, i] = j` with `rho(g) e_i = e_j`; only for permutation representations."""
    if self._permutation is None:
      raise ValueError(f"Representation {self.name!r} is not a permutation representation.")
    return self._permutation

  def inverse_matrices(self) -> np.ndarray:
    """`rho(g^-1) = rho(g)^-1` for every g, `[order, d, d]`."""
    return self._matrices[self._group.inverses]

  def scalar_character(self) -> Optional[np.ndarray]:
    """`chi` with `rho(g) = chi(g) I` for every g (values +-1 for a real representation), or
    None if some `rho(g)` is not a multiple of the identity. Such representations (CartPole's
    `-I`) let an odd network without biases stand in for a lift (thesis 4.6.1.1)."""
    chi = self._matrices[:, 0, 0] if self.dim else np.ones(self._group.order)
    if np.array_equal(self._matrices, chi[:, None, None] * np.eye(self.dim)):
      return chi.copy()
    return None

  def is_orthogonal(self, atol: float = 1e-6) -> bool:
    eye = np.eye(self.dim)
    return bool(
      np.all(np.abs(np.einsum("gji,gjk->gik", self._matrices, self._matrices) - eye) <= atol)
    )

  # ---------------------------------------------------------------- constructors
  @classmethod
  def regular(cls, group: FiniteGroup) -> "Representation":
    """The regular representation: `(L_g f)(h) = f(g^-1 h)`, i.e. `L_g e_k = e_{g k}`."""
    group = FiniteGroup.coerce(group)
    return cls.from_permutations(group, group.table, name="regular")

  @classmethod
  def trivial(cls, group: FiniteGroup, dim: int = 1) -> "Representation":
    group = FiniteGroup.coerce(group)
    return cls(group, np.broadcast_to(np.eye(dim), (group.order, dim, dim)), name="trivial")

  @classmethod
  def from_permutations(
    cls, group: FiniteGroup, permutations: Any, name: str | None = None
  ) -> "Representation":
    """Permutation representation: `rho(g) e_i = e_{permutations[g][i]}`.

    Used for discrete actions (CartPole: `[[0, 1], [1, 0]]`), for grids of cells and
    for the regular representation.
    """
    group = FiniteGroup.coerce(group)
    perms = _validate_permutations(permutations)
    if perms.shape[0] != group.order:
      raise ValueError(
        f"from_permutations needs one permutation per element of {group.name} "
        f"(order {group.order}), received {perms.shape[0]}."
      )
    k = perms.shape[1]
    mats = np.zeros((group.order, k, k))
    for g in range(group.order):
      mats[g, perms[g], np.arange(k)] = 1.0
    return cls(group, mats, name=name)

  # --------------------------------------------------------------------- action
  def transform(self, x: Any, g: int, axis: int = -1) -> tf.Tensor:
    """Applies `rho(g)` to `x` along `axis`: `x'[..., i, ...] = sum_j rho(g)[i, j] x[..., j, ...]`.

    Integer tensors are read as indices into the basis of a permutation
    representation (discrete actions): `a' = perm[g, a]`; then `axis` is ignored.
    """
    self._group._check_element(g, "g")
    x = tf.convert_to_tensor(x)
    if x.dtype.is_integer:
      if self._permutation is None:
        raise ValueError(
          f"Integer input can only be transformed by a permutation "
          f"representation; {self.name!r} is not one."
        )
      return tf.gather(tf.constant(self._permutation[g], dtype=x.dtype), x)
    if x.shape.rank is None or x.shape.rank == 0:
      raise ValueError(f"transform needs a tensor of rank >= 1, received shape {x.shape}.")
    ax = axis % x.shape.rank
    if x.shape[ax] is not None and x.shape[ax] != self.dim:
      raise ValueError(
        f"Representation {self.name!r} has dimension {self.dim} but axis {axis} "
        f"of the input has size {x.shape[ax]} (input shape {x.shape})."
      )
    mat = tf.constant(self._matrices[g], dtype=x.dtype)
    moved = tf.experimental.numpy.moveaxis(x, ax, -1)
    out = tf.linalg.matvec(mat, moved)
    return tf.experimental.numpy.moveaxis(out, -1, ax)

  # -------------------------------------------------------------- serialisation
  def get_config(self) -> dict:
    """`{"group", "name"}` and either `"permutations"` (`perm[g][i]`, for permutation
    representations: a grid world's D4 on 75 cells is 600 integers instead of 45,000
    matrix entries in every saved layer) or `"matrices"`."""
    config = {"group": self._group.get_config(), "name": self._name}
    if self._permutation is not None:
      config["permutations"] = self._permutation.tolist()
    else:
      config["matrices"] = self._matrices.tolist()
    return config

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> "Representation":
    if "permutations" in config:
      return cls.from_permutations(config["group"], config["permutations"], name=config.get("name"))
    return cls(config["group"], config["matrices"], name=config.get("name"))

  @classmethod
  def coerce(cls, rep: "Representation | Mapping[str, Any]") -> "Representation":
    if isinstance(rep, Representation):
      return rep
    if isinstance(rep, Mapping) and ("matrices" in rep or "permutations" in rep):
      return cls.from_config(rep)
    raise TypeError(
      "Expected a tf_equirl.groups.Representation (or its get_config() dict), "
      f"received {type(rep).__name__}."
    )

  def __eq__(self, other: object) -> bool:
    return (
      isinstance(other, Representation)
      and self._group == other._group
      and self._matrices.shape == other._matrices.shape
      and np.allclose(self._matrices, other._matrices)
    )

  def __hash__(self) -> int:
    return hash((hash(self._group), self._matrices.round(8).tobytes()))

  def __repr__(self) -> str:
    return f"Representation(name={self.name!r}, group={self._group.name}, dim={self.dim})"


def direct_sum(*reps: Representation) -> Representation:
  """Block-diagonal `rho_1 + rho_2 + ...` (e.g. a state and an encoded action)."""
  if not reps:
    raise ValueError("direct_sum needs at least one representation.")
  group = reps[0].group
  for i, r in enumerate(reps[1:], start=1):
    if r.group != group:
      raise ValueError(
        f"direct_sum: representation {i} is of {r.group.name}, expected "
        f"{group.name} like representation 0."
      )
  d = sum(r.dim for r in reps)
  mats = np.zeros((group.order, d, d))
  o = 0
  for r in reps:
    mats[:, o : o + r.dim, o : o + r.dim] = r.matrices
    o += r.dim
  return Representation(group, mats, name="+".join(r.name for r in reps))


def _as_permutation(mats: np.ndarray):
  """Returns `perm[g, i]` if every matrix is a permutation matrix, else None."""
  if mats.shape[1] == 0:
    return None
  binary = np.all((np.abs(mats) < 1e-9) | (np.abs(mats - 1.0) < 1e-9))
  if not binary or not np.all(np.abs(mats.sum(axis=1) - 1.0) < 1e-9):
    return None
  return np.argmax(mats, axis=1).astype(np.int64)  # column i has its 1 in row perm[i]
