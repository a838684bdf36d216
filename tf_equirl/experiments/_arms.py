"""Training the arms of a study in this process or as Ray Tune trials (`backend`)."""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tf_equirl.runner import Arm, run_arms

BACKENDS = ("local", "ray")


def check_backend(owner: str, backend: str) -> None:
  """Raises a ValueError naming `owner` unless `backend` is one of `BACKENDS`."""
  if backend not in BACKENDS:
    raise ValueError(f"{owner}.backend must be one of {BACKENDS}, received {backend!r}.")


def train_arms(
  arms: Sequence[Arm],
  seeds: Sequence[int],
  runs_dir: str,
  resume: bool = True,
  progress: bool = True,
  backend: str = "local",
  address: Optional[str] = None,
  seeds_per_trial: Optional[int] = None,
) -> Dict[str, Tuple[np.ndarray, np.ndarray, dict]]:
  """`tf_equirl.runner.run_arms` with `backend="local"`; `tf_equirl.sweeps.run_arms_on_ray`
  (each arm's seeds as Ray Tune trials, on this machine or the cluster at `address`) with
  `backend="ray"`."""
  check_backend("train_arms", backend)
  if backend == "ray":
    from tf_equirl import sweeps  # pylint: disable=import-outside-toplevel  (Ray)

    return sweeps.run_arms_on_ray(arms, seeds, runs_dir, resume, seeds_per_trial, address)
  return run_arms(arms, seeds, runs_dir, resume=resume, progress=progress)
