"""Finite groups given by their Cayley table.

A `FiniteGroup` names its elements by the integers `0 .. order-1` and stores the
Cayley table `table[g, h] = g * h` (apply `h` first, then `g`). Everything else in
tf_equirl (representations, layers, environments) indexes group elements this way,
so a group is fully described by plain integers and serialises to a list of lists.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["FiniteGroup", "cyclic", "dihedral", "close_under_composition"]

# Above this order the O(n^3) associativity check would dominate construction time.
_MAX_ORDER_FOR_ASSOCIATIVITY_CHECK = 256


class FiniteGroup:
  """A finite group defined by its Cayley table.

  Args:
    table: integer array of shape `[order, order]` with `table[g, h] = g * h`.
      It must be a Latin square with a two-sided identity and be associative.
    name: optional human-readable name ("C4", "D4", ...).

  Raises:
    ValueError: if `table` is not the multiplication table of a group; the message
      names the first offending entry.
  """

  def __init__(self, table: Any, name: str | None = None):
    table = np.asarray(table)
    if table.ndim != 2 or table.shape[0] != table.shape[1] or table.shape[0] < 1:
      raise ValueError(
        "FiniteGroup expects a square Cayley table of shape [order, order], "
        f"received shape {table.shape}."
      )
    if not np.issubdtype(table.dtype, np.integer):
      if not np.all(np.equal(np.mod(table, 1), 0)):
        raise ValueError(
          "FiniteGroup expects an integer Cayley table, received "
          f"dtype {table.dtype} with non-integer entries."
        )
    table = table.astype(np.int64)
    n = table.shape[0]
    if table.min() < 0 or table.max() >= n:
      raise ValueError(
        f"Cayley table entries must lie in [0, {n - 1}], received "
        f"entries in [{table.min()}, {table.max()}]."
      )
    expected = np.arange(n)
    for g in range(n):
      if not np.array_equal(np.sort(table[g]), expected):
        raise ValueError(
          f"Cayley table row {g} is not a permutation of 0..{n - 1}: "
          "left multiplication by an element must be a bijection."
        )
      if not np.array_equal(np.sort(table[:, g]), expected):
        raise ValueError(
          f"Cayley table column {g} is not a permutation of 0..{n - 1}: "
          "right multiplication by an element must be a bijection."
        )
    identities = [
      e
      for e in range(n)
      if np.array_equal(table[e], expected) and np.array_equal(table[:, e], expected)
    ]
    if not identities:
      raise ValueError("Cayley table has no two-sided identity element.")
    if n <= _MAX_ORDER_FOR_ASSOCIATIVITY_CHECK:
      left = table[table[:, :, None], np.arange(n)[None, None, :]]  # (a*b)*c
      right = table[np.arange(n)[:, None, None], table[None, :, :]]  # a*(b*c)
      bad = np.argwhere(left != right)
      if bad.size:
        a, b, c = bad[0]
        raise ValueError(
          f"Cayley table is not associative: (({a}*{b})*{c}) = "
          f"{left[a, b, c]} but ({a}*({b}*{c})) = {right[a, b, c]}."
        )
    self._table = table
    self._table.setflags(write=False)
    self._identity = int(identities[0])
    inverses = np.argmax(table == self._identity, axis=1)
    self._inverses = inverses.astype(np.int64)
    self._inverses.setflags(write=False)
    self._name = name

  # ----------------------------------------------------------------------- basics
  @property
  def order(self) -> int:
    """Number of elements |G|."""
    return int(self._table.shape[0])

  @property
  def table(self) -> np.ndarray:
    """Read-only Cayley table, `table[g, h] = g * h`."""
    return self._table

  @property
  def identity(self) -> int:
    """Index of the identity element."""
    return self._identity

  @property
  def inverses(self) -> np.ndarray:
    """Read-only array with `inverses[g] = g^-1`."""
    return self._inverses

  @property
  def name(self) -> str:
    return self._name or f"G{self.order}"

  def compose(self, g: int, h: int) -> int:
    """Returns `g * h` (h applied first)."""
    self._check_element(g, "g")
    self._check_element(h, "h")
    return int(self._table[g, h])

  def inverse(self, g: int) -> int:
    """Returns `g^-1`."""
    self._check_element(g, "g")
    return int(self._inverses[g])

  def elements(self) -> range:
    return range(self.order)

  def is_abelian(self) -> bool:
    return bool(np.array_equal(self._table, self._table.T))

  def _check_element(self, g: Any, argname: str) -> None:
    if not isinstance(g, (int, np.integer)) or not 0 <= int(g) < self.order:
      raise ValueError(
        f"{argname} must be a group element index in [0, {self.order - 1}] "
        f"of {self.name}, received {argname}={g!r}."
      )

  # ------------------------------------------------------------------ constructors
  @classmethod
  def from_matrices(
    cls, matrices: Any, atol: float = 1e-6, name: str | None = None
  ) -> "FiniteGroup":
    """The group whose element `i` is `matrices[i]`, with matrix product as composition.

    The list must contain each element exactly once and be closed under products
    (use `close_under_composition` to complete a set of generators first).

    Raises:
      ValueError: on duplicates, on products that fall outside the set (the message
        lists them), or on non-square / non-invertible input.
    """
    mats = np.asarray(matrices, dtype=np.float64)
    if mats.ndim != 3 or mats.shape[1] != mats.shape[2]:
      raise ValueError(
        "from_matrices expects an array of square matrices with shape "
        f"[n, d, d], received shape {mats.shape}."
      )
    return cls(
      _table_from_elements(mats, _matmul_products, _find_matrix(atol), "matrices", "mats"),
      name=name,
    )

  @classmethod
  def from_permutations(cls, permutations: Any, name: str | None = None) -> "FiniteGroup":
    """The group whose element `i` is the permutation `permutations[i]`.

    A permutation `p` of `0..k-1` sends `i` to `p[i]`; composition is
    `(p * q)[i] = p[q[i]]` (q applied first), matching the permutation matrices
    `P[p[i], i] = 1` under matrix products.
    """
    perms = _validate_permutations(permutations)
    return cls(
      _table_from_elements(perms, _permutation_products, _find_exact, "permutations", "perms"),
      name=name,
    )

  # --------------------------------------------------------------- serialisation
  def get_config(self) -> dict:
    """Plain-Python description that `from_config` turns back into this group."""
    return {"name": self._name, "table": self._table.tolist()}

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> "FiniteGroup":
    return cls(config["table"], name=config.get("name"))

  @classmethod
  def coerce(cls, group: "FiniteGroup | Mapping[str, Any]") -> "FiniteGroup":
    """Accepts a group or its config (as stored by Keras layer configs)."""
    if isinstance(group, FiniteGroup):
      return group
    if isinstance(group, Mapping) and "table" in group:
      return cls.from_config(group)
    raise TypeError(
      "Expected a tf_equirl.groups.FiniteGroup (or its get_config() dict), "
      f"received {type(group).__name__}: {group!r}."
    )

  def __eq__(self, other: object) -> bool:
    return isinstance(other, FiniteGroup) and np.array_equal(self._table, other._table)

  def __hash__(self) -> int:
    return hash(self._table.tobytes())

  def __repr__(self) -> str:
    return f"FiniteGroup(name={self.name!r}, order={self.order})"


def cyclic(n: int) -> FiniteGroup:
  """The cyclic group C_n: element k is the rotation by 2*pi*k/n; identity is 0."""
  if not isinstance(n, (int, np.integer)) or n < 1:
    raise ValueError(f"cyclic(n) expects a positive integer, received n={n!r}.")
  k = np.arange(n)
  return FiniteGroup((k[:, None] + k[None, :]) % n, name=f"C{n}")


def dihedral(n: int) -> FiniteGroup:
  """The dihedral group D_n of order 2n (symmetries of a regular n-gon).

  Element `k + n*m` is `r^k s^m` with `r` the rotation by 2*pi/n and `s` a
  reflection, so 0 is the identity, `1..n-1` the rotations and `n..2n-1` the
  reflections. Composition: `(r^a s^p)(r^b s^q) = r^(a + (-1)^p b) s^(p+q)`.
  """
  if not isinstance(n, (int, np.integer)) or n < 1:
    raise ValueError(f"dihedral(n) expects a positive integer, received n={n!r}.")
  idx = np.arange(2 * n)
  a, p = idx % n, idx // n
  rot = (a[:, None] + np.where(p[:, None] == 1, -1, 1) * a[None, :]) % n
  ref = (p[:, None] + p[None, :]) % 2
  return FiniteGroup(rot + n * ref, name=f"D{n}")


def close_under_composition(elements: Any, max_order: int = 4096) -> np.ndarray:
  """Completes matrices `[n, d, d]` or permutations `[n, k]` to the group they generate.

  The given elements keep their indices (duplicates are removed, keeping the first);
  new products are appended. The result can be passed to `FiniteGroup.from_matrices`
  or `from_permutations`.
  """
  arr = np.asarray(elements)
  if arr.ndim == 2:
    perms = _validate_permutations(arr)
    find, product = _find_exact, (lambda x, y: x[y])
    items = [perms[0]]
    for p in perms[1:]:
      if find(np.stack(items), p) is None:
        items.append(p)
  elif arr.ndim == 3:
    arr = arr.astype(np.float64)
    find, product = _find_matrix(1e-6), (lambda x, y: x @ y)
    items = [arr[0]]
    for m in arr[1:]:
      if find(np.stack(items), m) is None:
        items.append(m)
  else:
    raise ValueError(
      "close_under_composition expects matrices [n, d, d] or permutations "
      f"[n, k], received shape {arr.shape}."
    )
  frontier = list(range(len(items)))
  while frontier:
    new_frontier = []
    for i in frontier:
      for j in range(len(items)):
        for z in (product(items[i], items[j]), product(items[j], items[i])):
          if find(np.stack(items), z) is None:
            items.append(z)
            new_frontier.append(len(items) - 1)
            if len(items) > max_order:
              raise ValueError(
                f"The elements generate a group larger than max_order="
                f"{max_order} (or an infinite one)."
              )
    frontier = new_frontier
  return np.stack(items)


# --------------------------------------------------------------------- helpers
def _validate_permutations(permutations: Any) -> np.ndarray:
  perms = np.asarray(permutations)
  if perms.ndim != 2:
    raise ValueError(
      "Expected permutations as an integer array of shape [n, k], " f"received shape {perms.shape}."
    )
  if not np.issubdtype(perms.dtype, np.integer):
    if perms.size and not np.all(np.equal(np.mod(perms, 1), 0)):
      raise ValueError(f"Permutations must contain integers, received {perms.tolist()}.")
  perms = perms.astype(np.int64)
  k = perms.shape[1]
  for i, p in enumerate(perms):
    if not np.array_equal(np.sort(p), np.arange(k)):
      raise ValueError(
        f"permutations[{i}] = {p.tolist()} is not a permutation of "
        f"0..{k - 1}: every index must appear exactly once."
      )
  return perms


def _matmul_products(x: np.ndarray) -> np.ndarray:
  return np.einsum("aij,bjk->abik", x, x)


def _permutation_products(x: np.ndarray) -> np.ndarray:
  # (p * q)[i] = p[q[i]]
  n = x.shape[0]
  return np.stack([np.stack([x[a][x[b]] for b in range(n)]) for a in range(n)])


def _find_matrix(atol: float):
  def find(pool: np.ndarray, z: np.ndarray):
    hits = np.flatnonzero(np.all(np.abs(pool - z[None]) <= atol, axis=(1, 2)))
    return int(hits[0]) if hits.size else None

  return find


def _find_exact(pool: np.ndarray, z: np.ndarray):
  hits = np.flatnonzero(np.all(pool == z[None], axis=1))
  return int(hits[0]) if hits.size else None


def _table_from_elements(elements, products_fn, find, kind: str, short: str) -> np.ndarray:
  n = elements.shape[0]
  if n < 1:
    raise ValueError(f"Expected at least one element in {kind}.")
  for i in range(n):
    for j in range(i + 1, n):
      if find(elements[j : j + 1], elements[i]) is not None:
        raise ValueError(
          f"{kind} contains duplicates: {short}[{i}] and {short}[{j}] are the "
          "same element; each group element must appear exactly once."
        )
  prods = products_fn(elements)
  table = np.zeros((n, n), dtype=np.int64)
  outside = []
  for a in range(n):
    for b in range(n):
      k = find(elements, prods[a, b])
      if k is None:
        outside.append((a, b))
      else:
        table[a, b] = k
  if outside:
    shown = ", ".join(f"{short}[{a}]*{short}[{b}]" for a, b in outside[:8])
    more = f" and {len(outside) - 8} more" if len(outside) > 8 else ""
    raise ValueError(
      f"{kind} are not closed under composition: the products {shown}{more} "
      "fall outside the set. Pass all group elements, or complete the set "
      "with tf_equirl.groups.close_under_composition."
    )
  return table
