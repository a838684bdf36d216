"""Configs reject meaningless values with a ValueError naming the field; the launchers' shared
flag parsers reject bad flag values with a usage error."""

import math

import pytest
from absl import app

from launchers import common
from tf_equirl import checks, envs
from tf_equirl.agents.dyna import DynaConfig, default_dyna_config
from tf_equirl.agents.ppo import PPOConfig, default_config
from tf_equirl.models import TrainConfig
from tf_equirl.experiments.transition_study import TransitionStudyConfig
from tf_equirl.networks import build_actor, build_critic

NAN, INF = float("nan"), float("inf")

PPO_BAD = [
  ("learning_rate", INF),
  ("learning_rate", NAN),
  ("learning_rate", 0.0),
  ("learning_rate", -1e-3),
  ("adam_epsilon", NAN),
  ("adam_epsilon", 0.0),
  ("max_grad_norm", INF),
  ("max_grad_norm", 0.0),
  ("clip_eps", NAN),
  ("clip_eps", -0.2),
  ("vf_coef", NAN),
  ("vf_coef", INF),
  ("vf_coef", -0.5),
  ("ent_coef", NAN),
  ("ent_coef", -INF),
  ("ent_coef", -0.01),
  ("gamma", NAN),
  ("gamma", 1.5),
  ("gamma", -0.1),
  ("gae_lambda", NAN),
  ("gae_lambda", 2.0),
  ("width", 0),
  ("width", -4),
  ("width", 2.5),
  ("width", True),
  ("critic_width", 0),
  ("critic_width", -1),
  ("total_steps", 0),
  ("total_steps", -5),
  ("total_steps", 1e6),
  ("num_envs", 0),
  ("num_steps", -1),
  ("num_epochs", 0),
  ("num_minibatches", 0),
  ("iterations_per_call", 0),
  ("seed", -1),
  ("seed", 1.5),
  ("hidden", "dense"),
  ("env", ""),
  ("anneal_lr", "yes"),
  ("learning_rate", "1e-3"),
  ("gamma", True),
]


@pytest.mark.parametrize("name,value", PPO_BAD, ids=[f"{n}={v!r}" for n, v in PPO_BAD])
def test_ppo_config_rejects_bad_values_naming_the_field(name, value):
  with pytest.raises(ValueError, match=rf"PPOConfig\.{name} must") as error:
    PPOConfig(**{name: value})
  assert repr(value) in str(error.value)


def test_ppo_config_accepts_the_edges_of_its_ranges():
  config = PPOConfig(
    gamma=0.0,
    gae_lambda=1.0,
    ent_coef=0.0,
    vf_coef=0.0,
    width=1,
    critic_width=3,
    seed=0,
    learning_rate=1,
  )
  assert config.width == 1 and config.gamma == 0.0


def test_a_width_of_zero_is_not_the_matched_width():
  symmetry = envs.make("CartPole-v1").symmetry
  for build, kind in (
    (build_actor, "gcnn"),
    (build_critic, "invariant"),
    (build_actor, "mlp"),
    (build_critic, "mlp"),
  ):
    for width in (0, -4):
      with pytest.raises(ValueError, match="width must be a positive integer or None"):
        build(kind, symmetry, width=width)


DYNA_BAD = [
  ("planning_ratio", NAN),
  ("planning_ratio", INF),
  ("planning_ratio", 0.0),
  ("model_learning_rate", INF),
  ("model_learning_rate", NAN),
  ("model_learning_rate", 0.0),
  ("model_max_grad_norm", INF),
  ("model_adam_epsilon", NAN),
  ("model_adam_epsilon", -1.0),
  ("dyna_iterations", 0),
  ("model_batch_size", 0),
  ("model_epochs", 0),
  ("rollout_horizon", -1),
  ("orbit_augmentation", 1),
  ("world_model_path", ""),
]


@pytest.mark.parametrize("name,value", DYNA_BAD, ids=[f"{n}={v!r}" for n, v in DYNA_BAD])
def test_dyna_config_rejects_bad_values_naming_the_field(name, value):
  with pytest.raises(ValueError, match=rf"DynaConfig\.{name} must"):
    DynaConfig(**{name: value})


TRAIN_BAD = [
  ("learning_rate", INF),
  ("learning_rate", NAN),
  ("learning_rate", 0.0),
  ("max_grad_norm", INF),
  ("adam_epsilon", NAN),
  ("epochs", 0),
  ("batch_size", -1),
  ("seed", -1),
  ("mask_terminal", None),
]


@pytest.mark.parametrize("name,value", TRAIN_BAD, ids=[f"{n}={v!r}" for n, v in TRAIN_BAD])
def test_transition_train_config_rejects_bad_values_naming_the_field(name, value):
  with pytest.raises(ValueError, match=rf"TrainConfig\.{name} must"):
    TrainConfig(**{name: value})


STUDY_BAD = [
  ("equivariance_atol", NAN),
  ("equivariance_atol", INF),
  ("equivariance_atol", -1e-5),
  ("data_seed", -1),
  ("seeds", 0),
  ("epochs", True),
]


@pytest.mark.parametrize("name,value", STUDY_BAD, ids=[f"{n}={v!r}" for n, v in STUDY_BAD])
def test_transition_study_config_rejects_bad_values_naming_the_field(name, value):
  with pytest.raises(ValueError, match=rf"TransitionStudyConfig\.{name} must"):
    TransitionStudyConfig(**{name: value})


def test_every_float_field_is_checked_for_finiteness():
  """A float field without a range of its own is still checked (`checks.check_float_fields`)."""
  import dataclasses  # pylint: disable=import-outside-toplevel

  @dataclasses.dataclass
  class Config:
    rate: float = 1.0
    optional: "Optional[float]" = None  # noqa: F821  (a string annotation, as with __future__)

    def __post_init__(self):
      checks.check_float_fields(self)

  assert Config(optional=2.0).optional == 2.0
  for kwargs in (dict(rate=NAN), dict(rate=INF), dict(optional=-INF), dict(rate="1")):
    with pytest.raises(ValueError, match=r"Config\.(rate|optional) must be a finite number"):
      Config(**kwargs)
  for config in (PPOConfig(), DynaConfig(), TrainConfig(), TransitionStudyConfig()):
    floats = [f.name for f in dataclasses.fields(config) if "float" in str(f.type)]
    assert floats, type(config).__name__
    for name in floats:
      kwargs = {name: NAN}
      with pytest.raises(ValueError, match=rf"{type(config).__name__}\.{name} must"):
        type(config)(**kwargs)


def test_variant_environments_take_their_base_environments_defaults():
  assert default_config("Catch-v0:global:0.5") == PPOConfig(
    env="Catch-v0:global:0.5",
    **{k: v for k, v in vars(default_config("Catch-v0")).items() if k != "env"},
  )
  dyna = default_dyna_config("Catch-v0:reflect:1")
  assert dyna.ppo.num_steps == default_dyna_config("Catch-v0").ppo.num_steps
  assert dyna.epochs == default_dyna_config("Catch-v0").epochs


def test_make_names_the_variant_syntax_and_environments_without_variants():
  with pytest.raises(ValueError, match=r"registered environments.*'<env>:<breaking>:<strength>'"):
    envs.make("Pong")
  with pytest.raises(ValueError, match="'GridWorld-v0' has no symmetry-breaking variants"):
    envs.make("GridWorld-v0:global:0.5")


@pytest.mark.parametrize(
  "text,expected", [("3", [0, 1, 2]), ("3,7", [3, 7]), ("0,", [0]), (" 5 , 2 ", [5, 2])]
)
def test_parse_seeds(text, expected):
  assert common.parse_seeds(text) == expected


@pytest.mark.parametrize(
  "text,message",
  [
    ("-1,2", "non-negative"),
    ("1,1", "more than once"),
    ("0", "count must be positive"),
    ("-3", "count must be positive"),
    ("a", "comma-separated list"),
    ("", "comma-separated"),
    ("1.5", "comma-separated"),
  ],
)
def test_parse_seeds_rejects(text, message):
  with pytest.raises(app.UsageError, match=message):
    common.parse_seeds(text)


def test_parse_checkpoints():
  assert common.parse_checkpoints(None) is None
  assert common.parse_checkpoints([]) is None
  assert common.parse_checkpoints(["10_000", "2000", "2000"]) == [2000, 10_000]
  for bad in ("10k", "1e4", "0", "-5", "2.5", "", "ten"):
    with pytest.raises(
      app.UsageError, match=rf"--checkpoints must be positive integers.*" rf"received '{bad}'"
    ):
      common.parse_checkpoints(["1000", bad])


def test_parse_env_and_folder_name():
  assert common.parse_env("Catch-v0:global:0.5") == "Catch-v0:global:0.5"
  assert common.parse_env("CartPole-v1") == "CartPole-v1"
  for bad in (
    "Pong",
    "Catch-v0:wind:0.5",
    "Catch-v0:global:2",
    "Catch-v0:global",
    "GridWorld-v0:repeat:1",
    "CartPole-v1:reflect:x",
  ):
    with pytest.raises(app.UsageError) as error:
      common.parse_env(bad)
    text = str(error.value)
    assert text.startswith(f"--env={bad!r}") and "CartPole-v1" in text and "Catch-v0" in text
    assert "<env>:<breaking>:<strength>" in text
  assert common.folder_name("Catch-v0:global:0.5_gcnn") == "Catch-v0_global_0.5_gcnn"
  assert common.folder_name("a/b c") == "a_b_c"


def test_checks_helpers():
  assert checks.positive_number("X", "y", 3) == 3.0
  assert checks.unit_interval("X", "y", 1) == 1.0
  assert checks.positive_int("X", "y", None, allow_none=True) is None
  assert math.isclose(checks.finite_number("X", "y", -2.5), -2.5)
  with pytest.raises(
    ValueError, match=r"X\.y must be a positive integer or None \(auto\), " r"received 0\."
  ):
    checks.positive_int("X", "y", 0, allow_none=True, none_means="auto")
