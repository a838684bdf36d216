"""Equivariant Keras layers. All are registered under the Keras package `tf_equirl`.

Feature layout and group action conventions: see the `tf_equirl` package docstring. The
layers on the image plane (`GroupLiftConv2D`, `GroupConv2D`, `CentredPool2D` and their relaxed
and residual forms) take images `[B, H, W, C]` and features `[B, H, W, |G|, C]` over the plane
groups of `tf_equirl.groups.plane`.
"""

from tf_equirl.layers.action_encoding import (
  ActionEncoding,
  encoding_representation,
  one_hot_action_codes,
  signed_action_codes,
)
from tf_equirl.layers.distances import available_distances, register_distance
from tf_equirl.layers._irreps import irrep_representation
from tf_equirl.layers.centred_pool2d import CentredPool2D
from tf_equirl.layers.equivariant_logits import EquivariantLogits
from tf_equirl.layers.group_conv import GroupConv
from tf_equirl.layers.group_conv2d import GroupConv2D
from tf_equirl.layers.group_flatten2d import GroupFlatten2D
from tf_equirl.layers.group_layer_norm import GroupLayerNorm
from tf_equirl.layers.group_lift import GroupLift
from tf_equirl.layers.group_lift_conv2d import GroupLiftConv2D
from tf_equirl.layers.group_pool import GroupPool
from tf_equirl.layers.irrep_dense import IrrepDense
from tf_equirl.layers.irrep_invariants import IrrepInvariants
from tf_equirl.layers.irrep_lift import IrrepLift
from tf_equirl.layers.irrep_logits import IrrepLogits
from tf_equirl.layers._isotypic import isotypic_representation
from tf_equirl.layers.isotypic_dense import IsotypicDense
from tf_equirl.layers.isotypic_invariants import IsotypicInvariants
from tf_equirl.layers.isotypic_lift import IsotypicLift
from tf_equirl.layers.isotypic_logits import IsotypicLogits
from tf_equirl.layers.permutation_equivariant_dense import PermutationEquivariantDense
from tf_equirl.layers.regular_to_action import RegularToAction
from tf_equirl.layers.proximal_pool import EquivariantMeanPool, ProximalPool
from tf_equirl.layers.relaxed import RelaxedGroupConv, RelaxedGroupLift, ShrinkToGroupMean
from tf_equirl.layers.relaxed_conv2d import RelaxedGroupConv2D, RelaxedGroupLiftConv2D
from tf_equirl.layers.residual_conv2d import ResidualGroupConv2D, ResidualGroupLiftConv2D
from tf_equirl.layers.residual_pathway import DecayTowardsZero, ResidualGroupConv, ResidualGroupLift
from tf_equirl.layers.symmetrizer_dense import SymmetrizerDense, symmetrizer_basis

__all__ = [
  "GroupLift",
  "RegularToAction",
  "GroupConv",
  "PermutationEquivariantDense",
  "GroupPool",
  "GroupLayerNorm",
  "EquivariantLogits",
  "ProximalPool",
  "EquivariantMeanPool",
  "SymmetrizerDense",
  "register_distance",
  "available_distances",
  "symmetrizer_basis",
  "ActionEncoding",
  "encoding_representation",
  "signed_action_codes",
  "one_hot_action_codes",
  "RelaxedGroupLift",
  "RelaxedGroupConv",
  "ShrinkToGroupMean",
  "ResidualGroupLift",
  "ResidualGroupConv",
  "DecayTowardsZero",
  "IrrepLift",
  "IrrepDense",
  "IrrepLogits",
  "IrrepInvariants",
  "irrep_representation",
  "IsotypicLift",
  "IsotypicDense",
  "IsotypicLogits",
  "IsotypicInvariants",
  "isotypic_representation",
  "GroupLiftConv2D",
  "GroupConv2D",
  "CentredPool2D",
  "GroupFlatten2D",
  "RelaxedGroupLiftConv2D",
  "RelaxedGroupConv2D",
  "ResidualGroupLiftConv2D",
  "ResidualGroupConv2D",
]
