"""`PRAEConfig`: every setting of a PRAE run (data, model, loss, training, planning).

Defaults follow the reference implementation's CartPole notebook (ElisevanderPol/PRAE,
`notebooks/CartPole experiments.ipynb`) except `num_episodes`: 100 random trajectories, the
budget the paper reports for CartPole, where the notebook collects 1,000. No TensorFlow
import.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tf_equirl import checks

__all__ = ["PRAEConfig", "ENCODERS", "INITS", "LOSS_FORMS", "OBJECTIVES", "REWARDS"]

ENCODERS = ("mlp", "gcnn", "relaxed")
OBJECTIVES = ("contrastive", "autoencoder")
LOSS_FORMS = ("reference", "thesis")
REWARDS = ("goal", "learned")
INITS = ("reference", "keras")


@dataclasses.dataclass(frozen=True)
class PRAEConfig:
  """Settings of a plannable approximate MDP homomorphism (van der Pol et al. 2020).

  Attributes:
    env_name: registered tf_equirl environment the data comes from.
    num_episodes: random-policy training episodes (the paper's CartPole budget: 100).
    data_actions: None (every transition) or the actions whose transitions are kept for
      training (e.g. `(0,)`: CartPole's left pushes only, what an equivariant model can
      complete by symmetry).
    num_validation_episodes: held-out random-policy episodes for Hits@1 / MRR (the
      reference collects a fifth of the training episodes); 0: none.
    encoder: state encoder, "mlp" (the reference's), "gcnn" (equivariant to the
      environment's symmetry) or "relaxed" (approximately equivariant).
    equivariant: equivariant PRAE: with a "gcnn" or "relaxed" encoder, the latent action
      is equivariant, `A(rho(g) z, pi(g) a) = rho(g) A(z, a)`, and the reward model invariant,
      `R(rho(g) z) = R(z)` (`tf_equirl.prae.networks`); False: the reference's MLPs.
    fold_prototypes: plan on the quotient of the latent space by the group (needs
      `equivariant`): the abstract transitions go to the nearest point of each prototype's
      orbit and the lifted policy acts from the nearest orbit point, permuting the actions
      (`tf_equirl.prae.planning`).
    objective: "contrastive" (PRAE: transition, reward and hinge terms) or "autoencoder"
      (the paper's baseline: a decoder reconstructs the states from their latents, and the
      reconstruction term replaces the contrastive one; `tf_equirl.prae.losses`). The
      prototypes, value iteration and lifted policy are the same for both.
    decoder_hidden: hidden widths of the autoencoder's MLP decoder (latent -> state); None
      mirrors the encoder, `encoder_hidden` reversed (reference sizes: 32, 64).
    latent_dim: size of the latent state z (reference: 50); a multiple of |G| for the
      group encoders.
    encoder_hidden: hidden widths of the encoder (reference: 64, 32); the group encoders
      use width / |G| channels per group element, the same number of features.
    action_hidden: hidden width of the latent action A(z, a) (reference: 100).
    reward_hidden: hidden width of the reward model (reference: 64).
    init: how the weights start. "reference": as the reference's PyTorch layers start
      (kernel and bias uniform in `+-1 / sqrt(fan_in)`, the group layers with their own
      fan-in; `tf_equirl.prae.networks`); "keras": Keras' defaults (Glorot-uniform
      kernels, zero biases). The plan depends on it: from Keras' defaults it is shorter on
      CartPole, and the PRAE study's `keras_init` row (`tf_equirl.experiments.prae_study`)
      measures the difference.
    num_negatives: negatives per sample, drawn from the sample's own episode (reference: 5);
      0 turns the contrastive term off (the ablation under which the latent collapses).
    hinge: eps of the hinge max(0, eps - d) on the negatives (reference: 1.0).
    loss_form: "reference" (the reference code's loss) or "thesis" (eqs. 3.6-3.7); the
      `tf_equirl.prae.losses` docstring lists the differences.
    epochs: passes over the training transitions (reference: 100).
    batch_size: transitions per Adam step (reference: 1024); the last batch of an epoch
      keeps the remainder.
    learning_rate: Adam step size (reference: 1e-3).
    num_prototypes: abstract states drawn from the encoded training states (reference:
      1024); all of them where the data has fewer.
    tau: temperature of the abstract transitions softmax(-d / tau) (reference: 0.1).
    gamma: discount of value iteration (reference: 0.9).
    sweeps: value-iteration sweeps (reference: 500).
    reward: "goal" (reward 1 at the encoded goal observation, 0 elsewhere: the reference's
      CartPole planning, whose environment rewards every step alike) or "learned" (the
      reward model).
    goal: goal observation for reward="goal"; None: the zero observation (the reference's
      CartPole goal, the upright pole at the centre).
    max_episode_steps: step limit of the environment's episodes (data and evaluation); None:
      the environment's own (CartPole-v1: 500; 200 gives CartPole-v0's episodes, the
      paper's setting).
    eval_episodes: episodes the lifted policy is evaluated on.
    seed: seeds the data, the weights, the shuffling, the negatives and the prototypes.
    jit_compile: compile each epoch with XLA.
  """

  env_name: str = "CartPole-v1"
  num_episodes: int = 100
  data_actions: Optional[Tuple[int, ...]] = None
  num_validation_episodes: int = 20
  encoder: str = "mlp"
  equivariant: bool = False
  fold_prototypes: bool = False
  objective: str = "contrastive"
  decoder_hidden: Optional[Tuple[int, ...]] = None
  latent_dim: int = 50
  encoder_hidden: Tuple[int, ...] = (64, 32)
  action_hidden: int = 100
  reward_hidden: int = 64
  init: str = "reference"
  num_negatives: int = 5
  hinge: float = 1.0
  loss_form: str = "reference"
  epochs: int = 100
  batch_size: int = 1024
  learning_rate: float = 1e-3
  num_prototypes: int = 1024
  tau: float = 0.1
  gamma: float = 0.9
  sweeps: int = 500
  reward: str = "goal"
  goal: Optional[Tuple[float, ...]] = None
  max_episode_steps: Optional[int] = None
  eval_episodes: int = 100
  seed: int = 0
  jit_compile: bool = True

  def __post_init__(self):
    owner = "PRAEConfig"
    for name, allowed in (
      ("encoder", ENCODERS),
      ("loss_form", LOSS_FORMS),
      ("objective", OBJECTIVES),
      ("reward", REWARDS),
      ("init", INITS),
    ):
      if getattr(self, name) not in allowed:
        raise ValueError(
          f"{owner}.{name} must be one of {allowed}, received {getattr(self, name)!r}."
        )
    if not isinstance(self.env_name, str) or not self.env_name:
      raise ValueError(f"{owner}.env_name must be an environment name, received {self.env_name!r}.")
    for name in (
      "num_episodes",
      "latent_dim",
      "action_hidden",
      "reward_hidden",
      "epochs",
      "batch_size",
      "num_prototypes",
      "sweeps",
      "eval_episodes",
    ):
      checks.positive_int(owner, name, getattr(self, name))
    for name in ("num_validation_episodes", "seed", "num_negatives"):
      checks.non_negative_int(owner, name, getattr(self, name))
    for name in ("hinge", "learning_rate", "tau"):
      checks.positive_number(owner, name, getattr(self, name))
    gamma = checks.unit_interval(owner, "gamma", self.gamma)
    if gamma >= 1.0:
      raise ValueError(f"{owner}.gamma must lie in [0, 1), received {self.gamma!r}.")
    hidden = tuple(self.encoder_hidden) if isinstance(self.encoder_hidden, (tuple, list)) else None
    if not hidden:
      raise ValueError(
        f"{owner}.encoder_hidden must be a non-empty tuple of positive integers, received "
        f"{self.encoder_hidden!r}."
      )
    for width in hidden:
      checks.positive_int(owner, "encoder_hidden", width)
    object.__setattr__(self, "encoder_hidden", hidden)
    if self.decoder_hidden is not None:
      decoder = self.decoder_hidden
      if not isinstance(decoder, (tuple, list)) or not decoder:
        raise ValueError(
          f"{owner}.decoder_hidden must be None or a non-empty tuple of positive integers, "
          f"received {decoder!r}."
        )
      for width in decoder:
        checks.positive_int(owner, "decoder_hidden", width)
      object.__setattr__(self, "decoder_hidden", tuple(decoder))
    if self.goal is not None:
      if not isinstance(self.goal, (tuple, list)) or not self.goal:
        raise ValueError(
          f"{owner}.goal must be None or a tuple of floats (an observation), received "
          f"{self.goal!r}."
        )
      goal = tuple(checks.finite_number(owner, "goal", v) for v in self.goal)
      object.__setattr__(self, "goal", goal)
    if self.data_actions is not None:
      if not isinstance(self.data_actions, (tuple, list)) or not self.data_actions:
        raise ValueError(
          f"{owner}.data_actions must be None or a non-empty tuple of action indices, "
          f"received {self.data_actions!r}."
        )
      actions = tuple(checks.non_negative_int(owner, "data_actions", a) for a in self.data_actions)
      object.__setattr__(self, "data_actions", actions)
    if self.max_episode_steps is not None:
      checks.positive_int(owner, "max_episode_steps", self.max_episode_steps)
    for name in ("equivariant", "fold_prototypes"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(f"{owner}.{name} must be True or False, received {getattr(self, name)!r}.")
    if self.equivariant and self.encoder == "mlp":
      raise ValueError(
        f"{owner}.equivariant=True needs a group encoder ('gcnn' or 'relaxed'), received "
        f"encoder={self.encoder!r}."
      )
    if self.fold_prototypes and not self.equivariant:
      raise ValueError(
        f"{owner}.fold_prototypes=True needs equivariant=True (the quotient is only "
        "well defined for an equivariant latent action)."
      )
    if not isinstance(self.jit_compile, bool):
      raise ValueError(f"{owner}.jit_compile must be True or False, received {self.jit_compile!r}.")
