"""The symmetry of an MDP: a group acting on states and on actions.

Discrete actions are permuted by the group; continuous actions (float vectors) are moved by
an orthogonal representation, e.g. a mirror that negates a torque.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from tf_equirl.groups.finite_group import FiniteGroup
from tf_equirl.groups.representation import Representation

__all__ = ["MDPSymmetry"]


@dataclasses.dataclass(frozen=True)
class MDPSymmetry:
  """A group-structured MDP symmetry (thesis 2.6): `T(rho(g) s, pi(g) a) = rho(g) T(s, a)`.

  Networks, transition models and agents are built from this object, so a user's own
  environment with its own group works the same way as CartPole and Catch.

  Attributes:
    group: the finite group G.
    state_rep: representation of G on (flattened) observations, `[|G|, d, d]`.
    action_rep: for discrete actions, a permutation representation of G on the actions
      (`pi(g)` permutes the action indices); for continuous actions, an orthogonal
      representation on the action vector (`pi(g) a` is a matrix product).
    continuous_actions: whether actions are float vectors (in `[-1, 1]^k`) rather than
      indices. Default False.
  """

  group: FiniteGroup
  state_rep: Representation
  action_rep: Representation
  continuous_actions: bool = False

  def __post_init__(self):
    if self.state_rep.group != self.group:
      raise ValueError(
        f"state_rep is a representation of {self.state_rep.group.name}, "
        f"expected the symmetry group {self.group.name}."
      )
    if self.action_rep.group != self.group:
      raise ValueError(
        f"action_rep is a representation of {self.action_rep.group.name}, "
        f"expected the symmetry group {self.group.name}."
      )
    if not isinstance(self.continuous_actions, bool):
      raise ValueError(
        f"continuous_actions must be True or False, received {self.continuous_actions!r}."
      )
    if self.continuous_actions:
      if not self.action_rep.is_orthogonal():
        raise ValueError(
          "action_rep must be an orthogonal representation on the continuous action "
          f"vector; {self.action_rep.name!r} has a matrix whose transpose is not its inverse."
        )
    elif not self.action_rep.is_permutation:
      raise ValueError(
        "action_rep must be a permutation representation of the discrete "
        f"actions; {self.action_rep.name!r} is not. For continuous actions pass "
        "continuous_actions=True with an orthogonal representation."
      )

  @property
  def num_actions(self) -> int:
    """The number of discrete actions (for continuous actions, the action vector's size)."""
    return self.action_rep.dim

  @property
  def action_dim(self) -> int:
    """The size of the action representation: the number of discrete actions, or the length
    of a continuous action vector."""
    return self.action_rep.dim

  @property
  def state_dim(self) -> int:
    return self.state_rep.dim

  def restrict(self, elements: Sequence[int], name: Optional[str] = None) -> "MDPSymmetry":
    """The same symmetry restricted to the subgroup `H` made of `elements` of `group`.

    `H` becomes a `FiniteGroup` of its own, with the identity as element 0 and the other
    elements following in increasing order of their index in `group` (so D4's rotations
    `(0, 1, 2, 3)` give exactly `cyclic(4)`'s table); the representations keep their
    matrices for those elements. Networks built from the result are equivariant to `H` only.

    Args:
      elements: indices into `group` of the subgroup's elements (any order, no repeats).
      name: name of the subgroup ("C4"); default `"<group>|<elements>"`.

    Raises:
      ValueError: if `elements` is empty, repeats an element, has an index outside
        `group`, or is not closed under composition (the message names a product that
        falls outside), i.e. does not form a subgroup.
    """
    order = self.group.order
    try:
      chosen = [int(g) for g in elements]
    except (TypeError, ValueError) as e:
      raise ValueError(
        f"restrict expects a sequence of element indices of {self.group.name}, "
        f"received {elements!r}."
      ) from e
    if any(not float(g).is_integer() for g in elements):
      raise ValueError(f"restrict expects integer element indices, received {list(elements)}.")
    if not chosen:
      raise ValueError(
        f"restrict needs at least one element of {self.group.name} (the "
        "identity, for the trivial subgroup)."
      )
    bad = [g for g in chosen if not 0 <= g < order]
    if bad:
      raise ValueError(
        f"restrict: elements {bad} are not elements of {self.group.name}, whose "
        f"elements are 0..{order - 1}."
      )
    if len(set(chosen)) != len(chosen):
      raise ValueError(f"restrict: elements {chosen} repeat an element; list each once.")
    members = set(chosen)
    table = self.group.table
    for g in chosen:
      for h in chosen:
        if int(table[g, h]) not in members:
          raise ValueError(
            f"restrict: elements {sorted(members)} do not form a subgroup of "
            f"{self.group.name}: {g}*{h} = {int(table[g, h])} is not among them. A subgroup "
            "must contain every product of its elements."
          )
    # Closure of a finite non-empty set implies the identity and inverses are in it.
    ordered = [self.group.identity] + sorted(members - {self.group.identity})
    position = {g: i for i, g in enumerate(ordered)}
    sub_table = np.vectorize(position.__getitem__)(table[np.ix_(ordered, ordered)])
    sub = FiniteGroup(sub_table, name=name or f"{self.group.name}|{ordered}")
    return MDPSymmetry(
      sub,
      Representation(sub, self.state_rep.matrices[ordered], name=self.state_rep.name),
      Representation(sub, self.action_rep.matrices[ordered], name=self.action_rep.name),
      continuous_actions=self.continuous_actions,
    )

  def get_config(self) -> dict:
    return {
      "group": self.group.get_config(),
      "state_rep": self.state_rep.get_config(),
      "action_rep": self.action_rep.get_config(),
      "continuous_actions": self.continuous_actions,
    }

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> "MDPSymmetry":
    return cls(
      FiniteGroup.coerce(config["group"]),
      Representation.coerce(config["state_rep"]),
      Representation.coerce(config["action_rep"]),
      continuous_actions=bool(config.get("continuous_actions", False)),
    )
