"""Flag parsing shared by the launchers (no flags are defined here)."""

from typing import List

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
