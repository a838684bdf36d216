"""The compute-matched PPO baseline of a Dyna config: as many gradient updates per real step.

Dyna makes PPO updates on real and on planned batches: every PPO iteration, acting or planning,
does `num_epochs x num_minibatches` minibatch updates, so over a run Dyna makes

    U_dyna = (acting_iterations * dyna_iterations + sum_i planning_iterations(i))
             * num_epochs * num_minibatches

updates for `total_real_steps` real steps, `1 + planning_ratio` times what PPO with the same
settings makes on the same real steps. `matched_ppo_config` raises the baseline's
`num_epochs` and/or `num_minibatches` (never lowers either; `num_minibatches` at most the
batch, as `PPOConfig` allows) so that its `num_iterations * num_epochs * num_minibatches` is as
close as integers allow to `U_dyna` over the same real steps, and says how close it got.
"""

from __future__ import annotations

import dataclasses

from tf_equirl.agents.dyna.config import DynaConfig
from tf_equirl.agents.ppo.config import PPOConfig

__all__ = ["MatchedPPO", "dyna_gradient_updates", "matched_ppo_config"]


@dataclasses.dataclass(frozen=True)
class MatchedPPO:
  """A PPO baseline matched to a Dyna config's gradient updates per real step.

  Attributes:
    config: the `PPOConfig`: the Dyna config's `ppo` with `total_steps` set to Dyna's real
      steps (`DynaConfig.total_real_steps`) and the raised `num_epochs` / `num_minibatches`.
    dyna_updates: Dyna's minibatch updates over the run (acting and planning iterations).
    ppo_updates: the baseline's, `config.num_iterations * num_epochs * num_minibatches`.
    real_steps: real environment steps of both runs.
  """

  config: PPOConfig
  dyna_updates: int
  ppo_updates: int
  real_steps: int

  @property
  def dyna_updates_per_real_step(self) -> float:
    return self.dyna_updates / self.real_steps

  @property
  def ppo_updates_per_real_step(self) -> float:
    return self.ppo_updates / self.real_steps

  @property
  def relative_error(self) -> float:
    """`ppo_updates / dyna_updates - 1`: 0 for an exact match, > 0 when PPO makes more."""
    return self.ppo_updates / self.dyna_updates - 1.0

  @property
  def exact(self) -> bool:
    return self.ppo_updates == self.dyna_updates


def dyna_gradient_updates(config: DynaConfig) -> int:
  """Minibatch updates Dyna makes over a run of `config` (acting and planning iterations)."""
  if not isinstance(config, DynaConfig):
    raise ValueError(f"Expected a DynaConfig, received {type(config).__name__}.")
  iterations = config.acting_iterations * config.dyna_iterations + sum(
    config.planning_iterations(i) for i in range(config.dyna_iterations)
  )
  return iterations * config.ppo.num_epochs * config.ppo.num_minibatches


def matched_ppo_config(dyna_config: DynaConfig) -> MatchedPPO:
  """The PPO baseline of `dyna_config` with its gradient updates per real step.

  Of all `(num_epochs, num_minibatches)` with each at least the Dyna config's and
  `num_minibatches <= num_envs * num_steps`, takes the pair whose update count is closest to
  Dyna's; among equally close pairs, the one that changes `num_minibatches` least (the
  minibatch size stays Dyna's whenever epochs alone can match), then the fewest updates.

  Args:
    dyna_config: a `DynaConfig`.

  Returns:
    A `MatchedPPO`: the config and the two update counts (`exact`, `relative_error`).

  Raises:
    ValueError: for anything but a `DynaConfig`.
  """
  updates = dyna_gradient_updates(dyna_config)
  ppo = dyna_config.ppo
  real_steps = dyna_config.total_real_steps
  iterations = real_steps // ppo.batch_size  # = acting_iterations * dyna_iterations
  best = None
  for minibatches in range(ppo.num_minibatches, ppo.batch_size + 1):
    per_iteration = iterations * minibatches
    # The two epoch counts around the target (at least the Dyna config's).
    low = max(ppo.num_epochs, updates // per_iteration)
    for epochs in (low, low + 1):
      total = iterations * epochs * minibatches
      rank = (abs(total - updates), minibatches - ppo.num_minibatches, total)
      if best is None or rank < best[0]:
        best = (rank, epochs, minibatches, total)
    if iterations * ppo.num_epochs * minibatches > updates and best is not None:
      break  # more minibatches only overshoot further
  assert best is not None  # the loop runs at least once (num_minibatches <= batch_size)
  _, epochs, minibatches, total = best
  config = dataclasses.replace(
    ppo, total_steps=real_steps, num_epochs=epochs, num_minibatches=minibatches
  )
  return MatchedPPO(config=config, dyna_updates=updates, ppo_updates=total, real_steps=real_steps)
