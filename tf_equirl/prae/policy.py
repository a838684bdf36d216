"""The lifted policy: act in the real MDP with the abstract MDP's Q-values.

An observation is encoded, its nearest prototype found (squared Euclidean distance in the
latent space), and the action with the largest Q-value of that prototype taken. This is the
reference's `Policy.select_action` (ElisevanderPol/PRAE, `prae/models/policy.py`): it
weighs the prototypes' Q-values by `softmax(-d / eta)` with `eta = 1e-20`, which puts all the
weight on the nearest prototype, and its Q-values are the last sweep's one-step lookahead
`R + gamma T V`. The reference breaks ties between equal Q-values at random; here the lower
action wins (`argmax`), so the policy is deterministic.

On an abstract MDP folded by a group (`AbstractMDP.orbit_matrices`), the policy searches the
orbits: a latent nearest to `rho(g) x_j` gets the Q-values `pi(g) Q(x_j)`, i.e.
`Q(z, a) = Q(x_j, pi(g)^-1 a)` (the table is unfolded once into `|G| N` rows).

Two faces of one implementation:

* `LiftedPolicy.q_values(obs) -> [B, A]` and `LiftedPolicy.action(obs) -> [B]`: pure
  TensorFlow functions of constants, usable inside compiled loops. `q_values` is a logits
  model for `tf_equirl.evaluation.evaluate_tf` (greedy: the argmax is the lifted action);
  `evaluate_lifted` does that.
* `LiftedPolicy.as_tf_policy(time_step_spec, action_spec)`: a tf-agents `TFPolicy`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tf_agents.policies import tf_policy
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import policy_step
from tf_agents.trajectories import time_step as ts

from tf_equirl import evaluation
from tf_equirl.prae.networks import PRAEModel
from tf_equirl.prae.planning import AbstractMDP, Plan

__all__ = ["LiftedPolicy", "LiftedTFPolicy", "evaluate_lifted"]


class LiftedPolicy:
  """Greedy policy on the Q-values of the nearest prototype.

  Args:
    model: the trained `PRAEModel` (its encoder maps observations to latents).
    mdp: the `AbstractMDP` the plan was made on.
    plan: the `Plan` (Q-values `[N, A]`).

  Raises:
    ValueError: a plan whose Q-values do not match the prototypes or the model's actions.
  """

  def __init__(self, model: PRAEModel, mdp: AbstractMDP, plan: Plan):
    q = np.asarray(plan.q_values, np.float32)
    expected = (mdp.prototypes.shape[0], model.num_actions)
    if q.shape != expected:
      raise ValueError(
        f"LiftedPolicy: the plan's Q-values have shape {q.shape}; expected {list(expected)} "
        "(prototypes x actions)."
      )
    self.model, self.mdp, self.plan = model, mdp, plan
    prototypes = np.asarray(mdp.prototypes, np.float32)
    if mdp.orbit_matrices is not None:
      # Row g * N + j: the point rho(g) x_j and its Q-values pi(g) Q(x_j).
      prototypes = np.einsum("gkl,nl->gnk", mdp.orbit_matrices, prototypes)
      assert mdp.action_matrices is not None  # set with orbit_matrices (fold_prototypes)
      q = np.einsum("gab,nb->gna", np.asarray(mdp.action_matrices), np.asarray(q))
      prototypes, q = prototypes.reshape(-1, prototypes.shape[-1]), q.reshape(-1, q.shape[-1])
    self._prototypes = tf.constant(prototypes, tf.float32)
    self._q = tf.constant(q, tf.float32)

  @property
  def num_actions(self) -> int:
    return self.model.num_actions

  def nearest_prototype(self, observation: Any) -> tf.Tensor:
    """Index `[B]` of the prototype nearest to each observation's latent (on a folded MDP:
    row `g N + j` for the orbit point `rho(g) x_j`)."""
    z = self.model.encode(observation)
    distance = tf.reduce_sum(tf.square(z[:, None, :] - self._prototypes[None, :, :]), axis=-1)
    return tf.argmin(distance, axis=1, output_type=tf.int32)

  def q_values(self, observation: Any) -> tf.Tensor:
    """Q-values `[B, A]` of the nearest prototypes of observations `[B, d]`."""
    return tf.gather(self._q, self.nearest_prototype(observation))

  def action(self, observation: Any) -> tf.Tensor:
    """Greedy actions int32 `[B]` of observations `[B, d]`."""
    return tf.argmax(self.q_values(observation), axis=-1, output_type=tf.int32)

  __call__ = action

  def as_tf_policy(
    self, time_step_spec: Optional[ts.TimeStep] = None, action_spec: Any = None
  ) -> "LiftedTFPolicy":
    """This policy as a tf-agents `TFPolicy` (default specs: float32 `[d]` observations,
    int32 scalar actions in `[0, A)`)."""
    if time_step_spec is None:
      time_step_spec = ts.time_step_spec(
        tensor_spec.TensorSpec([self.model.state_dim], tf.float32, name="observation")
      )
    if action_spec is None:
      action_spec = tensor_spec.BoundedTensorSpec(
        [], tf.int32, minimum=0, maximum=self.num_actions - 1, name="action"
      )
    return LiftedTFPolicy(self, time_step_spec, action_spec)


class LiftedTFPolicy(tf_policy.TFPolicy):
  """tf-agents face of a `LiftedPolicy`: a deterministic greedy policy.

  Args:
    lifted: the `LiftedPolicy`.
    time_step_spec: the environment's time step spec (observations `[d]`).
    action_spec: a bounded scalar integer spec with `A` actions.

  Raises:
    ValueError: specs that do not match the model.
  """

  def __init__(self, lifted: LiftedPolicy, time_step_spec: ts.TimeStep, action_spec: Any):
    observation = time_step_spec.observation
    if tuple(observation.shape) != (lifted.model.state_dim,):
      raise ValueError(
        f"LiftedTFPolicy: observations of shape {tuple(observation.shape)}; the model expects "
        f"[{lifted.model.state_dim}]."
      )
    span = int(action_spec.maximum) - int(action_spec.minimum) + 1
    if tuple(action_spec.shape) != () or span != lifted.num_actions:
      raise ValueError(
        f"LiftedTFPolicy: expected a scalar action spec with {lifted.num_actions} actions, "
        f"received {action_spec}."
      )
    self._lifted = lifted
    super().__init__(time_step_spec, action_spec, name="lifted_prae_policy")

  def _greedy(self, time_step: ts.TimeStep) -> tf.Tensor:
    observation = tf.reshape(time_step.observation, [-1, self._lifted.model.state_dim])
    action = self._lifted.action(observation) + int(self.action_spec.minimum)
    return tf.cast(action, self.action_spec.dtype)

  def _action(self, time_step, policy_state, seed=None):
    return policy_step.PolicyStep(self._greedy(time_step), policy_state, ())

  def _distribution(self, time_step, policy_state):
    action = tfp.distributions.Deterministic(loc=self._greedy(time_step))
    return policy_step.PolicyStep(action, policy_state, ())


def evaluate_lifted(
  lifted: LiftedPolicy,
  env_name: str,
  episodes: int = 100,
  seed: int = 0,
  env_kwargs: Optional[Dict[str, Any]] = None,
) -> np.ndarray:
  """Returns of `episodes` episodes of the lifted policy, played in parallel in one compiled
  loop (`tf_equirl.evaluation.evaluate_tf`, greedy on `lifted.q_values`; `env_kwargs` go to
  `envs.make`, e.g. `{"max_episode_steps": 200}`)."""
  return evaluation.evaluate_tf(
    lifted.q_values, env_name, episodes, greedy=True, seed=seed, env_kwargs=env_kwargs
  )
