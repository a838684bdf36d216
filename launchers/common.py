"""Flag parsing shared by the launchers (no flags are defined here)."""

from typing import List, Optional, Sequence, Tuple

from absl import app


def parse_seeds(text: str) -> List[int]:
  """`--seeds`: a count N (seeds 0..N-1) or a comma-separated list of seeds ('3,7')."""
  parts = [p.strip() for p in text.split(",") if p.strip()]
  try:
    values = [int(p) for p in parts]
  except ValueError:
    raise app.UsageError(f"--seeds must be a count or a comma-separated list of integers, "
                         f"received {text!r}.")
  if len(values) == 1 and "," not in text:
    if values[0] < 1:
      raise app.UsageError(f"--seeds count must be positive, received {values[0]}.")
    return list(range(values[0]))
  return values


def parse_arm(arm: str, actors: Sequence[str], critics: Sequence[str],
              groups: Sequence[str]) -> Tuple[str, Optional[str], Optional[str]]:
  """`--networks` arm `actor[@group][:critic]` -> `(actor, group, critic)`, None where omitted.

  `"gcnn@C4:invariant"` is a G-CNN actor and an invariant critic built over the
  environment's symmetry group "C4" (a key of `env.symmetries`); `"gcnn:invariant"` and
  `"mlp"` keep their old meaning (the full symmetry, the MLP critic).
  """
  head, _, critic = arm.partition(":")
  actor, _, group = head.partition("@")
  if actor not in actors or (critic and critic not in critics) or (group and group not in groups) \
      or (":" in arm and not critic) or ("@" in head and not group):
    raise app.UsageError(f"Unknown network {arm!r}; expected actor[@group][:critic] with an actor "
                         f"in {tuple(actors)}, a group in {tuple(groups)} and a critic in "
                         f"{tuple(critics)}.")
  return actor, group or None, critic or None
