"""Plannable approximate MDP homomorphisms (PRAE; van der Pol, Kipf, Oliehoek and Welling,
AAMAS 2020; thesis 3.2.1).

A state encoder `Z`, a latent transition `T(z, a) = z + A(z, a)` and a reward model `R` are
trained with a contrastive loss so that `Z(s') = T(Z(s), a)`: an approximate MDP homomorphism,
exact when the loss is zero on a deterministic MDP. Prototypes of the latent space form a
finite abstract MDP (softmax transitions), value iteration plans on it, and the policy is
lifted back by acting on the nearest prototype's Q-values.

* `PRAEConfig`: every setting (defaults: the reference's CartPole settings, 100 episodes).
* `build_encoder` ("mlp", "gcnn", "relaxed"), `build_transition`, `build_reward`,
  `build_decoder` (the autoencoder baseline's), `PRAEModel` (the networks, registered:
  `.keras` round trip in safe mode),
  `latent_representation` (how a group encoder's latent transforms).
* `loss_terms`, `latent_loss_terms` (forms "reference" and "thesis"),
  `autoencoder_loss_terms` (`PRAEConfig.objective="autoencoder"`: reconstruction instead of
  the contrastive term), `ranking_metrics` (Hits@1, MRR).
* `PRAETrainer` (one XLA graph per epoch, one compiled call for the validation loss),
  `evaluate_ranking`.
* `build_abstract_mdp`, `AbstractMDP`, `value_iteration`, `Plan`.
* `LiftedPolicy` (pure `q_values` / `action` functions and a tf-agents `TFPolicy`),
  `evaluate_lifted`.
* `train_prae(config, out)`: the whole method with its files (`launchers/train_prae.py`);
  its parts `collect_data`, `build_model`, `plan_and_evaluate` (one model, several goals).
"""

from tf_equirl.prae.config import ENCODERS, INITS, LOSS_FORMS, OBJECTIVES, REWARDS, PRAEConfig
from tf_equirl.prae.losses import (
  AUTOENCODER_TERMS,
  TERMS,
  autoencoder_loss_terms,
  latent_loss_terms,
  loss_terms,
  objective_terms,
  ranking_metrics,
)
from tf_equirl.prae.networks import (
  PRAEModel,
  build_decoder,
  build_encoder,
  build_reward,
  build_transition,
  latent_representation,
  layer_init,
)
from tf_equirl.prae.planning import (
  AbstractMDP,
  Plan,
  abstract_transitions,
  build_abstract_mdp,
  value_iteration,
)
from tf_equirl.prae.policy import LiftedPolicy, LiftedTFPolicy, evaluate_lifted
from tf_equirl.prae.run import (
  PRAERun,
  build_model,
  collect_data,
  env_kwargs,
  plan_and_evaluate,
  train_prae,
)
from tf_equirl.prae.training import PRAETrainer, check_episodes, evaluate_ranking

__all__ = [
  "PRAEConfig",
  "ENCODERS",
  "INITS",
  "LOSS_FORMS",
  "OBJECTIVES",
  "REWARDS",
  "TERMS",
  "AUTOENCODER_TERMS",
  "autoencoder_loss_terms",
  "latent_loss_terms",
  "loss_terms",
  "objective_terms",
  "ranking_metrics",
  "PRAEModel",
  "build_decoder",
  "build_encoder",
  "build_reward",
  "build_transition",
  "latent_representation",
  "layer_init",
  "AbstractMDP",
  "Plan",
  "abstract_transitions",
  "build_abstract_mdp",
  "value_iteration",
  "LiftedPolicy",
  "LiftedTFPolicy",
  "evaluate_lifted",
  "PRAERun",
  "build_model",
  "collect_data",
  "env_kwargs",
  "plan_and_evaluate",
  "train_prae",
  "PRAETrainer",
  "check_episodes",
  "evaluate_ranking",
]
