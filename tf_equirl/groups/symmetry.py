"""The symmetry of an MDP: a group acting on states and, by permutation, on actions."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

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
    action_rep: permutation representation of G on the discrete actions.
  """

  group: FiniteGroup
  state_rep: Representation
  action_rep: Representation

  def __post_init__(self):
    if self.state_rep.group != self.group:
      raise ValueError(f"state_rep is a representation of {self.state_rep.group.name}, "
                       f"expected the symmetry group {self.group.name}.")
    if self.action_rep.group != self.group:
      raise ValueError(f"action_rep is a representation of {self.action_rep.group.name}, "
                       f"expected the symmetry group {self.group.name}.")
    if not self.action_rep.is_permutation:
      raise ValueError("action_rep must be a permutation representation of the discrete "
                       f"actions; {self.action_rep.name!r} is not.")

  @property
  def num_actions(self) -> int:
    return self.action_rep.dim

  @property
  def state_dim(self) -> int:
    return self.state_rep.dim

  def get_config(self) -> dict:
    return {"group": self.group.get_config(), "state_rep": self.state_rep.get_config(),
            "action_rep": self.action_rep.get_config()}

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> "MDPSymmetry":
    return cls(FiniteGroup.coerce(config["group"]), Representation.coerce(config["state_rep"]),
               Representation.coerce(config["action_rep"]))
