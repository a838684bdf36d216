"""Training the arms of a study in this process or as Ray Tune trials (`backend`)."""

from __future__ import annotations

import multiprocessing
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import runs
from tf_equirl.runner import Arm, arm_folder, run_arms

BACKENDS = ("local", "ray")


def check_backend(owner: str, backend: str) -> None:
  """Raises a ValueError naming `owner` unless `backend` is one of `BACKENDS`."""
  if backend not in BACKENDS:
    raise ValueError(f"{owner}.backend must be one of {BACKENDS}, received {backend!r}.")


ISOLATE_ABOVE = 6
"""`train_arms(isolate=None)` isolates its arms when more than this many are unfinished."""


def run_in_fresh_process(target: Callable[..., None], args: Sequence[Any], what: str) -> None:
  """Calls `target(*args)` (a module-level function, picklable arguments) in a fresh
  process and waits for it. XLA keeps every program it compiles for the life of a process
  (about 0.3 GB per PPO configuration on Catch), so a study of dozens of configurations in
  one process runs out of memory; a child that trains one and exits frees it. The child
  inherits the environment (XLA's runtime flag included), so it trains as this process would.

  Raises:
    RuntimeError: the child failed (`what` and its exit status are named).
  """
  child = multiprocessing.get_context("spawn").Process(target=target, args=tuple(args))
  child.start()
  child.join()
  if child.exitcode != 0:
    raise RuntimeError(
      f"The process training {what} failed (exit status {child.exitcode}); its output is above."
    )


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
  isolate: Optional[bool] = None,
) -> Dict[str, Tuple[np.ndarray, np.ndarray, dict]]:
  """`tf_equirl.runner.run_arms` with `backend="local"`; `tf_equirl.sweeps.run_arms_on_ray`
  (each arm's seeds as Ray Tune trials, on this machine or the cluster at `address`) with
  `backend="ray"`.

  `isolate=True` (local backend) trains each unfinished arm in a fresh process of its own
  (`run_in_fresh_process`), then reads the finished runs back, bit for bit the runs this
  process would have made; None isolates when more than `ISOLATE_ABOVE` arms are unfinished.

  Raises:
    RuntimeError: an isolated arm's process failed (the arm and exit status are named).
  """
  check_backend("train_arms", backend)
  if backend == "ray":
    from tf_equirl import sweeps  # pylint: disable=import-outside-toplevel  (Ray)

    return sweeps.run_arms_on_ray(arms, seeds, runs_dir, resume, seeds_per_trial, address)
  pending = [
    a
    for a in arms
    if not (resume and runs.load_finished_run(arm_folder(runs_dir, a), a.config, seeds))
  ]
  if isolate or (isolate is None and len(pending) > ISOLATE_ABOVE):
    for arm in pending:
      run_in_fresh_process(
        _train_one, (arm, list(seeds), runs_dir, resume, progress), f"arm {arm.name!r}"
      )
    resume = True  # every arm is finished now: read them back
  return run_arms(arms, seeds, runs_dir, resume=resume, progress=progress)
