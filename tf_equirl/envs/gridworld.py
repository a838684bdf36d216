"""A D4-symmetric grid world as batched TensorFlow ops.

An agent on an odd-sized `size x size` grid (default 5) must reach a goal and avoid
`num_hazards` hazards (default 1). Every episode draws a fresh layout: agent, goal and
hazards on distinct cells, the ordered tuple uniform over all such placements, so the
layout distribution is invariant under the grid's eight rotations and reflections (D4).

Actions: 0 up (row - 1), 1 right (column + 1), 2 down (row + 1), 3 left (column - 1),
4 stay. A move into a wall leaves the agent where it is. Reaching the goal gives reward +1
and terminates (discount 0), stepping onto a hazard gives -1 and terminates, every other
step gives 0. An episode that has neither after `max_episode_steps` (default `4 * size`)
steps is truncated (LAST with discount 1), as in `tf_equirl.envs.base`.

Physics state: int32 `[B, 2 + num_hazards]` = `(agent, goal, hazard_1, ..., hazard_H)`,
each a cell index `row * size + column`. The observation stacks three one-hot planes,
plane-major and each plane row-major: entry `p * size**2 + row * size + column` with `p = 0`
the agent, `p = 1` the goal and `p = 2` the hazards (float32 `[3 * size**2]`, or
`[3, size, size]` with `flat_observation=False`).

Symmetry (`gridworld_symmetry`): D4 = `tf_equirl.groups.dihedral(4)`, element `k + 4 m` is
`r^k s^m` with `r` the rotation of the board by 90 degrees counter-clockwise (as drawn with
row 0 on top: cell `(row, column)` goes to `(size-1-column, row)`) and `s` the left-right
mirror (`(row, column) -> (row, size-1-column)`). They act on the observation by moving
every plane's cells the same way and on the moves by turning them with the board (`r`:
up -> left -> down -> right -> up; `s`: swaps left and right); stay is fixed.
`gridworld_symmetries(size)` also names the subgroups: "C4" (the rotations `{e, r, r^2,
r^3}`), "C2" (`{e, s}`, the left-right mirror, which like Catch's swaps the left and right
moves) and "trivial" (`{e}`).

Defaults. Size 5 with one hazard is chosen so that PPO with the project's default settings
(64-64 MLP actor, 4 envs x 128 steps) clearly learns within 100k-200k steps but is far from
solved at 20k (`python -m launchers.train_ppo --env=GridWorld-v0 --network=mlp --seeds=4
--checkpoints=20000,50000,100000,200000`: mean return 0.17 at 20k steps, 0.43 at 100k, 0.60
at 200k; the D4 G-CNN actor, `--network=gcnn`, 0.59, 0.82 and 0.96), leaving room for the
symmetry to speed learning. A uniformly random policy scores about 0 (it meets the goal and
the hazard about equally often). With no hazard the MLP solves the task by 50k steps; with
two it reaches only about 0.2 by 200k (3 seeds each, `PPO(default_config("GridWorld-v0",
network="mlp"), env=GridWorld(batch_size=4, num_hazards=k)).train(seed=s)`).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tf_equirl import rng
from tf_equirl.envs.base import BatchedEnvironment, OutcomeFn, PhysicsFn
from tf_equirl.groups import MDPSymmetry, Representation, dihedral

__all__ = [
  "GridWorld",
  "gridworld_physics",
  "gridworld_outcome",
  "gridworld_observation",
  "gridworld_state_from_observation",
  "gridworld_symmetry",
  "gridworld_symmetries",
  "MOVES",
  "SUBGROUPS",
]

SIZE = 5
NUM_HAZARDS = 1
NUM_PLANES = 3  # agent, goal, hazards
# (row, column) change of each action: up, right, down, left, stay.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1), (0, 0))
# Subgroups of dihedral(4) by name, as element indices (k + 4 m = r^k s^m).
SUBGROUPS = {"D4": (0, 1, 2, 3, 4, 5, 6, 7), "C4": (0, 1, 2, 3), "C2": (0, 4), "trivial": (0,)}


def gridworld_physics(state: tf.Tensor, action: tf.Tensor, size: int = SIZE) -> tf.Tensor:
  """Moves the agent one cell (staying put at a wall); goal and hazards do not move.

  Args:
    state: int32 `[B, 2 + H]` `(agent, goal, hazards...)` as cell indices.
    action: int32 `[B]` in `[0, 5)`; range checks happen in `GridWorld.pure_step`.
    size: side of the grid.
  """
  agent = state[:, 0]
  moves = tf.constant(MOVES, dtype=state.dtype)
  move = tf.gather(moves, tf.cast(action, tf.int32))
  row = agent // size + move[:, 0]
  column = agent % size + move[:, 1]
  inside = (row >= 0) & (row < size) & (column >= 0) & (column < size)
  agent = tf.where(inside, row * size + column, agent)
  return tf.concat([agent[:, None], state[:, 1:]], axis=-1)


def gridworld_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor]:
  """+1 and terminate on the goal, -1 and terminate on a hazard, else 0."""
  del state, action
  agent = next_state[:, :1]
  at_goal = tf.equal(agent[:, 0], next_state[:, 1])
  on_hazard = tf.reduce_any(tf.equal(agent, next_state[:, 2:]), axis=-1)
  reward = tf.where(at_goal, 1.0, tf.where(on_hazard, -1.0, 0.0))
  return reward, tf.logical_or(at_goal, on_hazard)


def gridworld_observation(state: tf.Tensor, size: int = SIZE, flat: bool = True) -> tf.Tensor:
  """Float32 one-hot planes (agent, goal, hazards): `[B, 3*size*size]` or `[B, 3, size, size]`."""
  cells = size * size
  agent = tf.one_hot(state[:, 0], cells, dtype=tf.float32)
  goal = tf.one_hot(state[:, 1], cells, dtype=tf.float32)
  # Hazards are on distinct cells, so the sum of their one-hots is 0/1.
  hazards = tf.reduce_sum(tf.one_hot(state[:, 2:], cells, dtype=tf.float32), axis=1)
  planes = tf.stack([agent, goal, hazards], axis=1)
  return (
    tf.reshape(planes, [-1, NUM_PLANES * cells])
    if flat
    else tf.reshape(planes, [-1, NUM_PLANES, size, size])
  )


def gridworld_state_from_observation(
  observation: Any, size: int = SIZE, num_hazards: int = NUM_HAZARDS
) -> tf.Tensor:
  """Inverse of `gridworld_observation` (flat or planes): int32 `[B, 2 + H]`, hazards sorted."""
  cells = size * size
  planes = tf.reshape(tf.convert_to_tensor(observation, tf.float32), [-1, NUM_PLANES, cells])
  agent = tf.argmax(planes[:, 0], axis=-1, output_type=tf.int32)
  goal = tf.argmax(planes[:, 1], axis=-1, output_type=tf.int32)
  hazards = tf.sort(tf.math.top_k(planes[:, 2], k=num_hazards, sorted=False).indices, axis=-1)
  return tf.concat([agent[:, None], goal[:, None], tf.cast(hazards, tf.int32)], axis=-1)


def _cell_permutations(size: int) -> np.ndarray:
  """`perm[g, cell]`: where element `g = k + 4m` of D4 (`r^k s^m`) moves each cell."""
  row, column = np.divmod(np.arange(size * size), size)
  rotate = (size - 1 - column) * size + row  # r: 90 degrees counter-clockwise
  mirror = row * size + (size - 1 - column)  # s: left-right
  identity = np.arange(size * size)
  perms = []
  for m in range(2):
    for k in range(4):
      p = identity if m == 0 else mirror  # s first, then r^k: r^k s^m
      for _ in range(k):
        p = rotate[p]
      perms.append(p)  # index m * 4 + k = k + 4 m
  return np.stack(perms)


# Where r and s send each move: r turns the board counter-clockwise, so up -> left etc.
_ROTATE_ACTION = np.array([3, 0, 1, 2, 4])
_MIRROR_ACTION = np.array([0, 3, 2, 1, 4])


def _action_permutations() -> np.ndarray:
  perms = []
  for m in range(2):
    for k in range(4):
      p = np.arange(len(MOVES)) if m == 0 else _MIRROR_ACTION
      for _ in range(k):
        p = _ROTATE_ACTION[p]
      perms.append(p)
  return np.stack(perms)


def _check_size(size: Any, where: str) -> int:
  if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 3 or size % 2 == 0:
    raise ValueError(
      f"{where}: size must be an odd integer >= 3 (the grid needs a centre "
      f"cell for the D4 symmetry to fix), received size={size!r}."
    )
  return int(size)


@functools.lru_cache(maxsize=None)
def gridworld_symmetry(size: int = SIZE) -> MDPSymmetry:
  """D4 on the planes (cells moved alike in all three) and on the moves (stay fixed)."""
  size = _check_size(size, "gridworld_symmetry")
  group = dihedral(4)
  cells = _cell_permutations(size)
  n = size * size
  state_perms = np.concatenate([cells + p * n for p in range(NUM_PLANES)], axis=1)
  state_rep = Representation.from_permutations(group, state_perms, name="gridworld_state")
  action_rep = Representation.from_permutations(
    group, _action_permutations(), name="gridworld_action"
  )
  return MDPSymmetry(group, state_rep, action_rep)


@functools.lru_cache(maxsize=None)
def _symmetries(size: int) -> Tuple[Tuple[str, MDPSymmetry], ...]:
  full = gridworld_symmetry(size)
  return tuple(
    (name, full if name == "D4" else full.restrict(elements, name=name))
    for name, elements in SUBGROUPS.items()
  )


def gridworld_symmetries(size: int = SIZE) -> Dict[str, MDPSymmetry]:
  """{"D4", "C4", "C2", "trivial"} -> `MDPSymmetry`; see the module docstring for which."""
  return dict(_symmetries(_check_size(size, "gridworld_symmetries")))


class GridWorld(BatchedEnvironment):
  """Batched grid world: reach the goal, avoid the hazards (see the module docstring).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    size: side of the square grid, an odd integer >= 3 (default 5).
    num_hazards: hazards per layout, >= 0 and at most `size**2 - 2` (default 1; see the
      module docstring on the defaults).
    max_episode_steps: truncation limit; None (the default) means `4 * size`.
    flat_observation: observations as the `[3 * size**2]` vector (default; what networks
      and `symmetry.state_rep` use) or as `[3, size, size]` planes.
    physics: replacement for `gridworld_physics`, `(state [B,2+H], action [B]) -> [B,2+H]`.
    outcome: replacement for `gridworld_outcome`.
  """

  def __init__(
    self,
    batch_size: int = 1,
    seed: Any = 0,
    size: int = SIZE,
    num_hazards: int = NUM_HAZARDS,
    max_episode_steps: Optional[int] = None,
    flat_observation: bool = True,
    physics: Optional[PhysicsFn] = None,
    outcome: Optional[OutcomeFn] = None,
  ):
    self._size = _check_size(size, "GridWorld")
    cells = self._size * self._size
    if (
      not isinstance(num_hazards, (int, np.integer))
      or isinstance(num_hazards, bool)
      or not 0 <= num_hazards <= cells - 2
    ):
      raise ValueError(
        f"GridWorld: num_hazards must be an integer in [0, {cells - 2}] (the "
        f"agent and the goal need cells of their own on a {size}x{size} grid), "
        f"received num_hazards={num_hazards!r}."
      )
    if not isinstance(flat_observation, bool):
      raise ValueError(
        f"GridWorld: flat_observation must be a bool, received " f"{flat_observation!r}."
      )
    self._num_hazards = int(num_hazards)
    self._flat = flat_observation
    self._config = dict(
      batch_size=batch_size,
      seed=seed,
      size=size,
      num_hazards=num_hazards,
      max_episode_steps=max_episode_steps,
      flat_observation=flat_observation,
    )
    shape = [NUM_PLANES * cells] if flat_observation else [NUM_PLANES, self._size, self._size]
    observation_spec = tensor_spec.BoundedTensorSpec(
      shape, tf.float32, minimum=0.0, maximum=1.0, name="observation"
    )
    super().__init__(
      name="GridWorld",
      observation_spec=observation_spec,
      num_actions=len(MOVES),
      physics=(
        functools.partial(gridworld_physics, size=self._size) if physics is None else physics
      ),
      outcome=gridworld_outcome if outcome is None else outcome,
      max_episode_steps=4 * self._size if max_episode_steps is None else max_episode_steps,
      batch_size=batch_size,
      seed=seed,
    )

  @property
  def size(self) -> int:
    return self._size

  @property
  def num_hazards(self) -> int:
    return self._num_hazards

  @property
  def flat_observation(self) -> bool:
    return self._flat

  @property
  def symmetry(self) -> MDPSymmetry:
    return gridworld_symmetry(self._size)

  @property
  def symmetries(self) -> Dict[str, MDPSymmetry]:
    return gridworld_symmetries(self._size)

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return gridworld_observation(physics, self._size, self._flat)

  def state_from_observation(self, observation: Any) -> tf.Tensor:
    """Physics state `[B, 2 + H]` drawn in `observation` (hazards in increasing cell order)."""
    return gridworld_state_from_observation(observation, self._size, self._num_hazards)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    """The first `2 + H` cells of a uniformly random ordering of all cells.

    Each cell gets a random 32-bit score whose low bits are replaced by the cell's index,
    so scores never tie and `top_k` orders them identically in XLA and eagerly; the
    truncated high bits bias the ordering by at most `cells / 2^(32 - index bits)`.
    """
    cells = self._size * self._size
    index_bits = int(np.ceil(np.log2(cells)))
    bits = rng.uniform([batch_size, cells], seed=key, minval=None, maxval=None, dtype=tf.uint32)
    high = tf.cast(tf.bitwise.right_shift(bits, index_bits + 1), tf.int32)  # >= 0 as int32
    scores = tf.bitwise.bitwise_or(
      tf.bitwise.left_shift(high, index_bits), tf.range(cells, dtype=tf.int32)
    )
    return tf.math.top_k(scores, k=2 + self._num_hazards, sorted=True).indices
