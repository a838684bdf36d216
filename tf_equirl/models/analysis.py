"""Analyses of transition models: equivariance rates and errors binned by a state feature."""

from __future__ import annotations

from typing import Dict, Sequence, Union

import numpy as np
import tensorflow as tf

from tf_equirl.models.spec import TransitionSpec
from tf_equirl.testing import equivariance_errors

__all__ = [
  "equivariance_rate",
  "prediction_equivariance_rate",
  "all_state_action_pairs",
  "binned_rms",
]


def equivariance_rate(
  model, spec: TransitionSpec, observations, actions, atol: float = 1e-5
) -> tuple[float, np.ndarray]:
  """Fraction of `(s, a)` that the model treats equivariantly (thesis 4.7.4: "equivariant on
  x % of the state-action pairs"), and the per-pair errors relative to the output's size.

  A pair counts when `max_g |T(rho(g) s, pi(g) a) - rho_out(g) T(s, a)| <= atol * max(1,
  max_i |T(s, a)_i|)`: trained Catch models output logits in the hundreds, where float32
  rounding alone exceeds an absolute 1e-5.
  """
  obs = tf.convert_to_tensor(observations, tf.float32)
  act = tf.convert_to_tensor(actions, tf.int32)
  errors = equivariance_errors(
    model, [obs, act], [spec.symmetry.state_rep, spec.symmetry.action_rep], spec.output_rep
  )
  scale = np.maximum(1.0, np.max(np.abs(model([obs, act]).numpy()), axis=-1))
  relative = errors / scale
  return float(np.mean(relative <= atol)), relative


def prediction_equivariance_rate(model, spec: TransitionSpec, observations, actions) -> float:
  """Fraction of `(s, a)` whose predicted next observation (for Catch: the grid drawn from
  the modes) transforms exactly: `O(rho(g) s, pi(g) a) = rho_S(g) O(s, a)` for every g."""
  errors = equivariance_errors(
    lambda x: spec.to_observation(model(x)),
    [tf.convert_to_tensor(observations, tf.float32), tf.convert_to_tensor(actions, tf.int32)],
    [spec.symmetry.state_rep, spec.symmetry.action_rep],
    spec.symmetry.state_rep,
  )
  return float(np.mean(errors == 0.0))


def all_state_action_pairs(env) -> Dict[str, np.ndarray]:
  """Every non-terminal Catch state with every action: `rows-1` ball rows x `columns` ball
  columns x `columns` paddle columns x actions (675 for bsuite's 10 x 5 grid)."""
  rows, columns = env.rows, env.columns
  r, c, p, a = np.meshgrid(
    np.arange(rows - 1),
    np.arange(columns),
    np.arange(columns),
    np.arange(env.num_actions),
    indexing="ij",
  )
  state = np.stack([r.ravel(), c.ravel(), p.ravel()], axis=-1).astype(np.int32)
  obs = tf.reshape(env.observe(tf.constant(state)), [len(state), -1]).numpy()
  return {"obs": obs, "action": a.ravel().astype(np.int32), "state": state}


def binned_rms(
  prediction: np.ndarray,
  target: np.ndarray,
  feature: np.ndarray,
  edges: Union[Sequence[float], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
  """RMS error per component in each bin `[edges[i], edges[i+1])` of `feature`, and counts."""
  sq = np.mean(np.square(np.asarray(prediction) - np.asarray(target)), axis=-1)
  index = np.digitize(feature, edges) - 1
  rms, counts = [], []
  for i in range(len(edges) - 1):
    sel = index == i
    counts.append(int(sel.sum()))
    rms.append(float(np.sqrt(sq[sel].mean())) if sel.any() else np.nan)
  return np.array(rms), np.array(counts)
