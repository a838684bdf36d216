"""Per-environment defaults of the transition-model experiments (thesis 4.7.5-4.7.6)."""

from __future__ import annotations

__all__ = ["ZOO_FOLDER", "DEFAULT_EXPERT", "NUM_TRANSITIONS", "check_env_name"]

ZOO_FOLDER = {"CartPole-v1": "cartpole", "Catch-v0": "catch"}
DEFAULT_EXPERT = {"CartPole-v1": "cartpole/mlp_actor", "Catch-v0": "catch/mlp_actor"}
# thesis Fig. 4.6 / 4.9 captions: "These datasets contain 40,000 / 400,000 transitions".
NUM_TRANSITIONS = {"CartPole-v1": 40_000, "Catch-v0": 400_000}


def check_env_name(name: str) -> str:
  if name not in ZOO_FOLDER:
    raise ValueError(f"Unknown environment {name!r} for transition models; expected one of "
                     f"{sorted(ZOO_FOLDER)}.")
  return name
