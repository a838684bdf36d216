"""Soft actor-critic (Haarnoja et al. 2018) in the actor-critic's compiled loop.

`SAC` is `AC` (`tf_equirl.agents.ac.learner`) with a stochastic actor: the same collection,
action repeat, in-graph replay, n-step returns, twin critics, target critic and seeded draws,
one `tf.function(jit_compile=True)` per training call. What changes:

* The actor is a tanh-squashed diagonal Gaussian (`build_gaussian_actor`): `a = tanh(mu(s) +
  sigma(s) eps)`, `eps ~ N(0, I)`. For the equivariant kinds `mu` moves by `pi(g)` and
  `log sigma` by `|pi(g)|`, so the policy's law is equivariant. It explores by sampling (the
  `noise_*` fields are unused); it is evaluated, and saved, as its mean action `tanh(mu(s))`
  (`agent.actor`; `agent.policy` is the Gaussian).
* Each update, on an n-step batch (`y` uses `gamma^m d` of the batch):
  a. critic: `y = R + gamma^m d (min_i Q'_i(s', a') - alpha log pi(a'|s'))`, `a' ~ pi(.|s')`,
     loss `mean (Q_1(s, a) - y)^2 + mean (Q_2(s, a) - y)^2` (`sac_critic_loss`);
  b. actor: `mean (alpha log pi(a~|s) - min_i Q_i(s, a~))`, `a~ ~ pi(.|s)` reparameterised
     (`sac_actor_loss`);
  c. temperature: `mean(-log alpha (log pi(a~|s) + target_entropy))` on the actor step's
     samples (`temperature_loss`; tf-agents' `alpha_loss` with `log alpha`);
  d. target critic: `Q' <- tau Q + (1 - tau) Q'`.
  The losses are tf-agents' `SacAgent.critic_loss`, `actor_loss` and `alpha_loss` with
  squared TD errors (tests/test_sac.py checks them against a `SacAgent` on the same networks
  and samples).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import rng
from tf_equirl.agents.ac.config import ACConfig
from tf_equirl.agents.ac.learner import ADAM_EPSILON, AC, METRICS, augment_batch
from tf_equirl.agents.ac.replay import NStepBatch
from tf_equirl.networks.continuous import GaussianActor, build_gaussian_actor
from tf_equirl.params import count_params

__all__ = [
  "SAC",
  "squashed_sample",
  "sac_critic_loss",
  "sac_actor_loss",
  "temperature_loss",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def squashed_sample(mean, log_std, normal) -> Tuple[tf.Tensor, tf.Tensor]:
  """`(tanh(u), log pi)` for `u = mean + exp(log_std) normal`: the action `[B, k]` and its
  log density `[B]` under the tanh-squashed Gaussian, with the change of variables
  `log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2 u))` (stable for large `|u|`)."""
  u = mean + tf.exp(log_std) * normal
  gaussian = -0.5 * tf.square(normal) - log_std - _HALF_LOG_2PI
  jacobian = 2.0 * (math.log(2.0) - u - tf.math.softplus(-2.0 * u))
  return tf.tanh(u), tf.reduce_sum(gaussian - jacobian, axis=-1)


def sac_critic_loss(
  critic: keras.Model,
  target_critic: keras.Model,
  policy: keras.Model,
  batch: NStepBatch,
  alpha,
  next_normal,
):
  """Soft clipped double-Q loss on an n-step batch; `(loss, q [B, 2])`.

  `y = reward + discount (min_i Q'_i(s', a') - alpha log pi(a'|s'))` with `a'` the policy's
  sample at `s'` from the unit normals `next_normal` (no gradient), loss
  `mean (Q_1 - y)^2 + mean (Q_2 - y)^2`: tf-agents' `SacAgent.critic_loss` with squared TD
  errors.
  """
  mean, log_std = policy(batch.next_observation)
  next_action, next_log_pi = squashed_sample(mean, log_std, next_normal)
  target_q = tf.reduce_min(target_critic([batch.next_observation, next_action]), axis=1)
  y = tf.stop_gradient(batch.reward + batch.discount * (target_q - alpha * next_log_pi))
  q = critic([batch.observation, batch.action])
  loss = tf.reduce_sum(tf.reduce_mean(tf.square(q - y[:, None]), axis=0))
  return loss, q


def sac_actor_loss(policy: keras.Model, critic: keras.Model, observation, alpha, normal):
  """`(mean (alpha log pi(a|s) - min_i Q_i(s, a)), log pi [B])` with `a` the reparameterised
  sample from the unit normals `normal` (tf-agents' `SacAgent.actor_loss`)."""
  mean, log_std = policy(observation)
  action, log_pi = squashed_sample(mean, log_std, normal)
  q = tf.reduce_min(critic([observation, action]), axis=1)
  return tf.reduce_mean(alpha * log_pi - q), log_pi


def temperature_loss(log_alpha, log_pi, target_entropy: float) -> tf.Tensor:
  """`mean(log_alpha * stop_gradient(-log_pi - target_entropy))` (tf-agents' `alpha_loss`
  with `use_log_alpha_in_alpha_loss=True`): alpha grows while the policy's entropy is below
  the target."""
  return tf.reduce_mean(log_alpha * tf.stop_gradient(-log_pi - target_entropy))


class SAC(AC):
  """Soft actor-critic with (equivariant) squashed Gaussian actors and twin critics.

  Args:
    config: an `ACConfig` with `algorithm="sac"` and state observations.
    env: as `AC`.

  Attributes (beyond `AC`'s): `policy` (the Gaussian model, `[mean, log_std]`; `actor` is its
  mean action and shares its layers), `log_alpha` (the temperature's logarithm, a variable),
  `target_entropy`. The training metrics add `temperature`, alpha after each call.

  Raises:
    ValueError: a config of another algorithm, an action representation that is not made of
      signed permutations (see `build_gaussian_actor`), and `AC`'s errors.
  """

  # AC's metrics and the temperature alpha at the end of each training call.
  metric_names = METRICS + ("temperature",)

  def __init__(self, config: ACConfig, env: Optional[Any] = None):
    if not isinstance(config, ACConfig):
      raise ValueError(f"SAC expects an ACConfig, received {type(config).__name__}.")
    if config.algorithm != "sac":
      raise ValueError(
        f"SAC trains ACConfig(algorithm='sac'), received algorithm={config.algorithm!r}; "
        "tf_equirl.agents.ac.make_agent(config) picks the agent of a config."
      )
    self.policy: keras.Model
    super().__init__(config, env)
    k = self.symmetry.action_dim
    self.target_entropy = (
      -float(k) if config.target_entropy is None else float(config.target_entropy)
    )
    self.log_alpha = tf.Variable(math.log(config.init_temperature), dtype=tf.float32)
    # The Gaussian's variables, not only the mean action's, are what the actor step trains.
    self.actor_optimizer = keras.optimizers.Adam(config.learning_rate, epsilon=ADAM_EPSILON)
    self.actor_optimizer.build(self.policy.trainable_variables)
    self.temperature_optimizer = keras.optimizers.Adam(config.learning_rate, epsilon=ADAM_EPSILON)
    self.temperature_optimizer.build([self.log_alpha])

  def _build_gaussian(self) -> GaussianActor:
    c = self.config
    return build_gaussian_actor(
      c.network, self.symmetry, c.width, c.num_kernels, (c.log_std_min, c.log_std_max)
    )

  def _build_actor(self) -> keras.Model:
    gaussian = self._build_gaussian()
    self.policy = gaussian.policy
    return gaussian.actor

  def _reset_networks(self) -> None:
    """Fresh policy and critic weights (from the seed just set, in `AC`'s order), the
    temperature at `init_temperature`, every optimiser slot zeroed."""
    self.policy.set_weights(self._build_gaussian().policy.get_weights())
    self.critic.set_weights(self._build_critic().get_weights())
    self.target_critic.set_weights(self.critic.get_weights())
    self.log_alpha.assign(math.log(self.config.init_temperature))
    optimizers = (self.actor_optimizer, self.critic_optimizer, self.temperature_optimizer)
    for optimizer in optimizers:
      for v in optimizer.variables:
        v.assign(tf.zeros_like(v))

  @property
  def temperature(self) -> float:
    """The current entropy temperature alpha."""
    return float(np.exp(self.log_alpha.numpy()))

  def parameter_counts(self) -> Dict[str, int]:
    return {"actor": count_params(self.policy), "critic": count_params(self.critic)}

  @property
  def trained_variables(self) -> list:
    """The Gaussian's variables (both heads), the critic's and the temperature."""
    return list(self.policy.variables) + list(self.critic.variables) + [self.log_alpha]

  # ------------------------------------------------------------ compiled graph
  def _train_call_impl(self, carry):
    carry, values = super()._train_call_impl(carry)
    return carry, dict(values, temperature=tf.exp(self.log_alpha))

  def _explore(self, observation, step, normal):
    """A sample of the policy from the unit normals `normal` (`AC._act` clips it and takes
    uniformly random actions during the random phase instead)."""
    del step
    mean, log_std = self.policy(observation)
    return squashed_sample(mean, log_std, normal)[0]

  def _update(self, key, std):
    """One critic step, one actor step, one temperature step, one target update;
    `(critic_loss, actor_loss, q)` (`std`, DrQ-v2's noise, is unused)."""
    del std
    cfg = self.config
    shape = [cfg.batch_size, self.symmetry.action_dim]
    batch = self.replay.sample(rng.fold_in(key, 0), cfg.batch_size, cfg.n_step, cfg.gamma)
    if cfg.network == "augment":
      batch = augment_batch(self.symmetry, batch, rng.fold_in(key, 1))
    alpha = tf.exp(self.log_alpha)
    critic_vars = self.critic.trainable_variables
    with tf.GradientTape() as tape:
      c_loss, q = sac_critic_loss(
        self.critic,
        self.target_critic,
        self.policy,
        batch,
        alpha,
        rng.normal(shape, rng.fold_in(key, 2)),
      )
    self.critic_optimizer.apply_gradients(zip(tape.gradient(c_loss, critic_vars), critic_vars))
    policy_vars = self.policy.trainable_variables
    with tf.GradientTape() as tape:
      a_loss, log_pi = sac_actor_loss(
        self.policy, self.critic, batch.observation, alpha, rng.normal(shape, rng.fold_in(key, 3))
      )
    self.actor_optimizer.apply_gradients(zip(tape.gradient(a_loss, policy_vars), policy_vars))
    with tf.GradientTape() as tape:
      t_loss = temperature_loss(self.log_alpha, log_pi, self.target_entropy)
    self.temperature_optimizer.apply_gradients(
      [(tape.gradient(t_loss, self.log_alpha), self.log_alpha)]
    )
    tau = cfg.tau
    for target, source in zip(self.target_critic.variables, self.critic.variables):
      target.assign(tau * source + (1.0 - tau) * target)
    return c_loss, a_loss, tf.reduce_mean(q)
