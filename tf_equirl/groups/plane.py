"""Plane groups acting on square images: rotations by quarter turns and a left-right mirror.

The groups and their element order are those of `cyclic` and `dihedral`:

| name | group | element `a + n m` |
|---|---|---|
| "C2" | `cyclic(2)` | rotation by `2a` quarter turns |
| "C4" | `cyclic(4)` | rotation by `a` quarter turns (counter-clockwise as drawn) |
| "D1" | `dihedral(1)` | `m = 1`: the mirror `x -> -x` (columns reversed) |
| "D2" | `dihedral(2)` | `r^a s^m`: `r` a half turn, `s` the mirror |
| "D4" | `dihedral(4)` | `r^a s^m`: `r` a quarter turn, `s` the mirror |

An element `g = r^a s^m` moves an image by mirroring first (if `m = 1`) and then rotating,
`(T_g x)(p) = x(g^-1 p)`, about the centre of the grid, so `T_g T_h = T_{g h}` for the
group's Cayley table. On an odd-sized grid the centre is a pixel and every `T_g` is a
permutation of the pixels (channels untouched): the action is exact, with no interpolation.

`PlaneAction` is that action as an object the equivariance checker (`tf_equirl.testing`) and an
`MDPSymmetry` accept in place of a `Representation`: on images `[B, H, W, C]`, on regular
features over the plane `[B, H, W, |G|, C]` (`regular=True`: the pixels move and the group axis
is permuted by `(L_g f)[h] = f[g^-1 h]`), or on flattened images `[B, H*W*C]` (a permutation
of the entries, `permutation`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tf_equirl.groups.finite_group import FiniteGroup, cyclic, dihedral

__all__ = ["PLANE_GROUPS", "plane_group", "plane_group_name", "plane_permutations", "PlaneAction"]

# name -> (constructor, rotations n of r^a, quarter turns of r)
_PLANE = {
  "C2": (lambda: cyclic(2), 2, 2),
  "C4": (lambda: cyclic(4), 4, 1),
  "D1": (lambda: dihedral(1), 1, 0),
  "D2": (lambda: dihedral(2), 2, 2),
  "D4": (lambda: dihedral(4), 4, 1),
}
PLANE_GROUPS = tuple(_PLANE)


def plane_group_name(group: Any, what: str = "group") -> str:
  """The name in `PLANE_GROUPS` of `group` (a name, a `FiniteGroup` or its config).

  Raises:
    ValueError: for a name outside `PLANE_GROUPS`, or a group whose name or Cayley table is
      not one of them.
  """
  if isinstance(group, Mapping) and "table" in group:
    group = FiniteGroup.from_config(group)
  if isinstance(group, FiniteGroup):
    name = group.name
    if name not in _PLANE or not np.array_equal(group.table, plane_group(name).table):
      raise ValueError(
        f"{what} {group!r} is not a plane group; expected one of {PLANE_GROUPS} "
        "(tf_equirl.groups.plane), or its name."
      )
    return name
  if not isinstance(group, str) or group not in _PLANE:
    raise ValueError(
      f"Unknown plane group {what}={group!r}; expected one of {PLANE_GROUPS} (rotations by "
      "quarter turns and the left-right mirror of a square grid)."
    )
  return group


def plane_group(name: Any) -> FiniteGroup:
  """The `FiniteGroup` of plane group `name` ("C2", "C4", "D1", "D2" or "D4")."""
  return _PLANE[plane_group_name(name)][0]()


def _element(name: str, g: int):
  """`(mirror, quarter turns)` of element `g`: `T_g` mirrors (if set), then rotates."""
  _, n, quarter = _PLANE[name]
  if name.startswith("C"):
    return False, (g * quarter) % 4
  return bool(g // n), ((g % n) * quarter) % 4


def _numpy_transform(x: np.ndarray, name: str, g: int) -> np.ndarray:
  """`T_g` on the first two axes of a numpy array (the reference for the index tables)."""
  mirror, turns = _element(name, g)
  if mirror:
    x = x[:, ::-1]
  return np.rot90(x, k=turns, axes=(0, 1))


def plane_permutations(size: int, name: Any) -> np.ndarray:
  """`perm [|G|, size*size]` with `T_g(x).reshape(-1) = x.reshape(-1)[perm[g]]` for a
  `size x size` grid read row-major: `perm[g, p]` is the pixel that `T_g` moves to `p`.

  Layers build their transformed kernels with one gather of these tables.
  """
  name = plane_group_name(name)
  grid = np.arange(size * size).reshape(size, size)
  order = plane_group(name).order
  return np.stack([_numpy_transform(grid, name, g).reshape(-1) for g in range(order)])


def transform_image(x: tf.Tensor, name: str, g: int) -> tf.Tensor:
  """`T_g` on the spatial axes 1, 2 of `[B, H, W, C]` (`tf.reverse`, then `tf.image.rot90`)."""
  mirror, turns = _element(name, g)
  x = tf.convert_to_tensor(x)
  if mirror:
    x = tf.reverse(x, axis=[2])
  return tf.image.rot90(x, k=turns) if turns else x


def _check_automorphism(group: FiniteGroup, elements: Any) -> Tuple[int, ...]:
  """`elements` as a tuple, checked to be an automorphism of `group`'s Cayley table."""
  order = group.order
  try:
    mapped = tuple(int(e) for e in elements)
  except (TypeError, ValueError):
    mapped = None
  if mapped is None or sorted(mapped) != list(range(order)):
    raise ValueError(
      f"PlaneAction: elements must be a permutation of 0..{order - 1} (one plane-group "
      f"element per element of {group.name}), received elements={elements!r}."
    )
  table, image = group.table, np.asarray(mapped)
  if not np.array_equal(image[table], table[image[:, None], image[None, :]]):
    raise ValueError(
      f"PlaneAction: elements={list(mapped)} do not respect the Cayley table of {group.name} "
      "(expected an automorphism: elements[g h] = elements[g] elements[h])."
    )
  return mapped


class PlaneAction:
  """A plane group acting on square images (or on regular features over the image plane).

  Args:
    group: a name in `PLANE_GROUPS` ("C2", "C4", "D1", "D2", "D4"), or that `FiniteGroup`.
    regular: act on regular features `[B, H, W, |G|, C]`: move the pixels and permute the
      group axis, `(g f)[p, h] = f[g^-1 p, g^-1 h]`. Default False: images `[B, H, W, C]`,
      `(g x)[p] = x[g^-1 p]`.
    size: the side of the grid (odd), for flattened inputs and `permutation`; optional.
    channels: the number of channels, for flattened inputs and `permutation`; optional.
    elements: the plane-group element that acts for each element `g` of the group,
      `transform(x, g) = T_{elements[g]} x`; an automorphism of the group's Cayley table.
      Default None: the identity. An environment whose symmetry elements are numbered
      otherwise than the picture's (Reacher's flip `y -> -y` is the plane's `r s`, its flip
      `x -> -x` the plane's `s`) keeps its own numbering this way.

  As the state representation of an `MDPSymmetry` (pixel observations,
  `tf_equirl.envs.render.pixels`) it is the permutation representation of `G` on the
  `size * size * channels` entries of an observation, `permutation[g]`, applied with
  rotations and flips (`transform`) rather than a `[d, d]` matrix per element.

  Raises:
    ValueError: for an unknown group, a size that is not an odd positive integer, or
      `elements` that are not an automorphism of the group.
  """

  def __init__(
    self,
    group: Any,
    regular: bool = False,
    size: Optional[int] = None,
    channels: Optional[int] = None,
    elements: Optional[Sequence[int]] = None,
  ):
    self.plane = plane_group_name(group)
    self._group = plane_group(self.plane)
    self.regular = bool(regular)
    if size is not None and (
      isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or size % 2 == 0
    ):
      raise ValueError(f"PlaneAction: expected an odd positive grid size, received size={size!r}.")
    if channels is not None and (
      isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1
    ):
      raise ValueError(
        f"PlaneAction: expected a positive number of channels, received channels={channels!r}."
      )
    self.size = None if size is None else int(size)
    self.channels = None if channels is None else int(channels)
    self.elements = None if elements is None else _check_automorphism(self._group, elements)
    self._permutation: Optional[np.ndarray] = None

  @property
  def group(self) -> FiniteGroup:
    return self._group

  @property
  def name(self) -> str:
    return f"plane_{self.plane}" + ("_regular" if self.regular else "")

  @property
  def dim(self) -> int:
    """Entries of one flattened input: `size * size * channels` (times `|G|` if regular)."""
    if self.size is None or self.channels is None:
      raise ValueError(f"{self.name}: dim needs the size and the channels of the images.")
    return self.size * self.size * self.channels * (self._group.order if self.regular else 1)

  @property
  def is_permutation(self) -> bool:
    return True

  @property
  def permutation(self) -> np.ndarray:
    """`perm [|G|, dim]`: `g` sends entry `i` of a flattened input to entry `perm[g, i]`
    (the convention of `Representation.permutation`)."""
    if self._permutation is None:
      d = self.dim
      shape = [self.size, self.size] + ([self._group.order] if self.regular else [])
      source = np.arange(d).reshape(shape + [self.channels])  # type: ignore[arg-type]
      rows = []
      for g in self._group.elements():
        moved = self._numpy(source, g).reshape(-1)  # moved[p] = the entry that lands on p
        inverse = np.empty(d, np.int64)
        inverse[moved] = np.arange(d)
        rows.append(inverse)
      self._permutation = np.stack(rows)
    return self._permutation

  def _plane_element(self, g: int) -> int:
    return int(g) if self.elements is None else self.elements[g]

  def _numpy(self, x: np.ndarray, g: int) -> np.ndarray:
    g = self._plane_element(g)
    moved = _numpy_transform(x, self.plane, g)
    if self.regular:
      moved = moved[:, :, self._group.table[self._group.inverses[g]]]
    return moved

  def transform(self, x: Any, g: int, axis: Optional[int] = None) -> tf.Tensor:
    """`g` applied to a batch: images `[B, H, W, C]`, regular features `[B, H, W, |G|, C]`
    (`regular=True`), or flattened inputs `[B, dim]` (with `size` and `channels` given).

    Args:
      x: the batch.
      g: a group element.
      axis: unused (the axes are fixed by the layout); accepted for the checker's interface.

    Raises:
      ValueError: for another rank, a non-square grid or a group axis of the wrong size.
    """
    del axis
    self._group._check_element(g, "g")
    x = tf.convert_to_tensor(x)
    rank = x.shape.rank
    if rank == 2 and self.size is not None and self.channels is not None:
      if x.shape[1] != self.dim:
        raise ValueError(
          f"{self.name}: a flattened input must have {self.dim} entries, received shape "
          f"{x.shape}."
        )
      return tf.gather(x, np.argsort(self.permutation[g]), axis=1)
    expected = 5 if self.regular else 4
    layout = "[B, H, W, |G|, C]" if self.regular else "[B, H, W, C]"
    if rank != expected:
      raise ValueError(f"{self.name} acts on inputs {layout}, received shape {x.shape}.")
    if x.shape[1] != x.shape[2]:
      raise ValueError(f"{self.name} acts on square grids, received shape {x.shape}.")
    g = self._plane_element(g)
    if not self.regular:
      return transform_image(x, self.plane, g)
    n = self._group.order
    if x.shape[3] != n:
      raise ValueError(
        f"{self.name}: the group axis (3) must have size {n}, received shape {x.shape}."
      )
    shape = tf.shape(x)
    flat = tf.reshape(x, tf.concat([shape[:3], [-1]], 0))
    moved = tf.reshape(transform_image(flat, self.plane, g), shape)
    return tf.gather(moved, self._group.table[self._group.inverses[g]], axis=3)

  def get_config(self) -> dict:
    return {
      "plane_group": self.plane,
      "regular": self.regular,
      "size": self.size,
      "channels": self.channels,
      "elements": None if self.elements is None else list(self.elements),
    }

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> "PlaneAction":
    return cls(
      config["plane_group"],
      config["regular"],
      config["size"],
      config["channels"],
      config.get("elements"),
    )

  def __eq__(self, other: object) -> bool:
    return isinstance(other, PlaneAction) and self.get_config() == other.get_config()

  def __hash__(self) -> int:
    return hash((self.plane, self.regular, self.size, self.channels, self.elements))

  def __repr__(self) -> str:
    return (
      f"PlaneAction(group={self.plane!r}, regular={self.regular}, size={self.size}, "
      f"channels={self.channels}"
      + ("" if self.elements is None else f", elements={list(self.elements)}")
      + ")"
    )
