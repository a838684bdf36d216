"""Flag parsing shared by the launchers; flags are defined only when a launcher calls a
`define_*` function."""

from typing import Dict, List

from absl import app, flags


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


def define_backend_flags():
  """Defines `--backend`, `--address` and `--seeds_per_trial` (how a reproduction launcher
  runs its seeds) and returns a function giving their values as keyword arguments of
  `run_arms` / `run_config_on_ray`."""
  backend = flags.DEFINE_enum(
      "backend", "local", ["local", "ray"], "local: one process trains the seeds one after "
      "another; ray: the seeds run as Ray Tune trials (tf_equirl.sweeps), locally or on "
      "--address.")
  address = flags.DEFINE_string("address", None, "--backend=ray: Ray cluster to join (auto or "
                                "HOST:PORT); default a local Ray on this machine's cores.")
  seeds_per_trial = flags.DEFINE_integer("seeds_per_trial", 16, "--backend=ray: seeds per "
                                         "trial (one worker and one compiled graph each).")

  def values() -> Dict:
    return {"backend": backend.value, "address": address.value,
            "seeds_per_trial": seeds_per_trial.value}
  return values
