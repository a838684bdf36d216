"""Training the arms of a study in this process or as Ray Tune trials (`backend`)."""

from __future__ import annotations

import multiprocessing
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import runs
from tf_equirl.runner import Arm, arm_folder, run_arms

BACKENDS = ("local", "ray")


def check_backend(owner: str, backend: str) -> None:
  """Raises a ValueError naming `owner` unless `backend` is one of `BACKENDS`."""
  if backend not in BACKENDS:
    raise ValueError(f"{owner}.backend must be one of {BACKENDS}, received {backend!r}.")


def _train_one(arm: Arm, seeds: Sequence[int], runs_dir: str, resume: bool, progress: bool):
  run_arms([arm], seeds, runs_dir, resume=resume, progress=progress)


def train_arms(
  arms: Sequence[Arm],
  seeds: Sequence[int],
  runs_dir: str,
  resume: bool = True,
  progress: bool = True,
  backend: str = "local",
  address: Optional[str] = None,
  seeds_per_trial: Optional[int] = None,
  isolate: bool = False,
) -> Dict[str, Tuple[np.ndarray, np.ndarray, dict]]:
  """`tf_equirl.runner.run_arms` with `backend="local"`; `tf_equirl.sweeps.run_arms_on_ray`
  (each arm's seeds as Ray Tune trials, on this machine or the cluster at `address`) with
  `backend="ray"`.

  `isolate=True` (local backend) trains each arm in a fresh process of its own, then reads
  the finished runs back: XLA keeps every program it compiles for the life of a process
  (about 0.3 GB per PPO arm on Catch), so a study of dozens of arms in one process runs out
  of memory. The child inherits the environment (XLA's runtime flag included), so its runs
  equal those of this process bit for bit.

  Raises:
    RuntimeError: an isolated arm's process failed (the arm and exit status are named).
  """
  check_backend("train_arms", backend)
  if backend == "ray":
    from tf_equirl import sweeps  # pylint: disable=import-outside-toplevel  (Ray)

    return sweeps.run_arms_on_ray(arms, seeds, runs_dir, resume, seeds_per_trial, address)
  if isolate:
    context = multiprocessing.get_context("spawn")
    for arm in arms:
      if resume and runs.load_finished_run(arm_folder(runs_dir, arm), arm.config, seeds):
        continue
      child = context.Process(
        target=_train_one, args=(arm, list(seeds), runs_dir, resume, progress)
      )
      child.start()
      child.join()
      if child.exitcode != 0:
        raise RuntimeError(
          f"train_arms: the process training arm {arm.name!r} failed (exit status "
          f"{child.exitcode}); its output is above."
        )
    resume = True  # every arm is finished now: read them back
  return run_arms(arms, seeds, runs_dir, resume=resume, progress=progress)
