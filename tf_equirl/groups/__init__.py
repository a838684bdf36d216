"""Finite groups, their representations and MDP symmetries.

See the package docstring of `tf_equirl` for the conventions on the group axis.
"""

from tf_equirl.groups.finite_group import FiniteGroup, close_under_composition, cyclic, dihedral
from tf_equirl.groups.plane import PLANE_GROUPS, PlaneAction, plane_group
from tf_equirl.groups.representation import Representation, direct_sum
from tf_equirl.groups.symmetry import MDPSymmetry

__all__ = [
  "FiniteGroup",
  "Representation",
  "MDPSymmetry",
  "cyclic",
  "dihedral",
  "close_under_composition",
  "direct_sum",
  "PlaneAction",
  "plane_group",
  "PLANE_GROUPS",
]
