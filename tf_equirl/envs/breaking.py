"""Symmetry-breaking variants of the environments (the kinds of Park et al. 2025, 5.1).

`make("CartPole-v1", breaking="global", strength=0.5)`, or by name
`make("CartPole-v1:global:0.5")` (the form `PPOConfig.env` takes). `strength=0` is the
original environment transition by transition (tests/test_envs_breaking.py); a negative
strength, one above the variant's maximum, or an unknown variant raise `ValueError`. The
`symmetry` of a variant is still the original one: it is the symmetry the agent is told
about, which the environment now only approximately has.

CartPole (symmetry `s -> -s`, swap the pushes; deterministic, strength >= 0):
  global   a constant sideways force `strength * 10 N` to the right is added to every push
           (a tilted track). Mirrored state and action give a next state that differs from
           the mirrored next state by the effect of `2 * strength * 10 N` everywhere.
  reflect  where the cart is right of the centre (`x > 0`) the push is scaled by
           `1 - 2 * strength` (strength 1: reversed, 0.5: no push; strength <= 1). Left of
           the centre nothing changes.
  repeat   where `x > 0` the push is applied `1 + strength` times as hard (strength 1: the
           action applied twice). Left of the centre nothing changes.

Catch (symmetry: mirror the columns, swap left/right moves; random, strength is a
probability in [0, 1] drawn per step from the environment's stateless key):
  global   wind: after the ball drops, with probability `strength` it drifts one column to
           the right (clipped at the wall), anywhere on the grid.
  reflect  where the paddle is left of the centre column (`paddle < columns // 2`), with
           probability `strength` the paddle's move is reversed.
  repeat   where `paddle < columns // 2`, with probability `strength` the move is applied
           twice (two columns, clipped at the wall).

The continuous-control environments (`Pendulum-v1`, `CartPoleSwingup-v0`,
`AcrobotSwingup-v0`, `Reacher-v0`) take "repeat" and "reflect" inside a region of the state
(the seed study's regions, listed in each module and in docs/environments.md), and the
swing-ups also take "gravity" (a gravity vector tilted sideways, a global breaking); their
variants are deterministic and implemented in each environment's module.

CartPole's broken step is `tf_equirl.envs.cartpole.cartpole_broken_physics` (it changes the push
of CartPole's own Euler step); Catch's is `catch_broken_physics` here. This module depends on
neither environment, so both import it.

`env.with_dynamics(physics=...)` replaces the whole dynamics, breaking included (a learned
model of a broken environment stands for all of it). A broken CartPole's `env.physics` is the
broken step; a broken Catch's `env.physics` stays the deterministic step, because its breaking
needs the random key and runs in `pure_step` (`Catch._step_physics`).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf

from tf_equirl import rng

__all__ = [
  "BREAKINGS",
  "ALL_BREAKINGS",
  "check_breaking",
  "variants_of",
  "parse_variant",
  "catch_broken_physics",
  "bernoulli_bits",
]

# The variants of the discrete environments (CartPole-v1, Catch-v0).
BREAKINGS = ("global", "reflect", "repeat")
# Every variant some environment takes.
ALL_BREAKINGS = ("global", "gravity", "reflect", "repeat")
# Largest strength each variant accepts (None: unbounded); an environment takes exactly the
# variants listed for it here.
_MAX_STRENGTH = {
  ("CartPole-v1", "global"): None,
  ("CartPole-v1", "reflect"): 1.0,
  ("CartPole-v1", "repeat"): None,
  ("Catch", "global"): 1.0,
  ("Catch", "reflect"): 1.0,
  ("Catch", "repeat"): 1.0,
  ("Pendulum-v1", "reflect"): 1.0,
  ("Pendulum-v1", "repeat"): None,
  ("CartPoleSwingup-v0", "gravity"): None,
  ("CartPoleSwingup-v0", "reflect"): 1.0,
  ("CartPoleSwingup-v0", "repeat"): None,
  ("AcrobotSwingup-v0", "gravity"): None,
  ("AcrobotSwingup-v0", "repeat"): None,
  ("Reacher-v0", "reflect"): 1.0,
  ("Reacher-v0", "repeat"): None,
  # dm_control's tasks (tf_equirl.envs.dmc): the same variants, on MuJoCo's models.
  ("dm_control/cartpole-swingup-v0", "gravity"): None,
  ("dm_control/cartpole-swingup-v0", "reflect"): 1.0,
  ("dm_control/cartpole-swingup-v0", "repeat"): None,
  ("dm_control/acrobot-swingup-v0", "gravity"): None,
  ("dm_control/acrobot-swingup-v0", "repeat"): None,
  ("dm_control/reacher-hard-v0", "reflect"): 1.0,
  ("dm_control/reacher-hard-v0", "repeat"): None,
  ("dm_control/ball_in_cup-catch-v0", "gravity"): None,
}


def variants_of(env_name: str) -> Tuple[str, ...]:
  """The symmetry-breaking variants `env_name` takes, sorted (empty: none)."""
  return tuple(sorted(b for e, b in _MAX_STRENGTH if e == env_name))


# Added to the environment's key for the breaking draws, so they are independent of the
# reset draws made from the key itself (Philox hashes the whole seed).
WIND_KEY_OFFSET = np.array([0x5A17C0DE, 0], dtype=np.int64)


def check_breaking(env_name: str, breaking: Optional[str], strength: Any) -> Optional[float]:
  """Validates `breaking` and `strength`; returns the strength as a float (None: no breaking)."""
  if breaking is None:
    if strength not in (None, 0, 0.0):
      raise ValueError(
        f"{env_name}: strength={strength!r} given without a breaking variant; "
        f"pass breaking= one of {BREAKINGS}."
      )
    return None
  if (env_name, breaking) not in _MAX_STRENGTH:
    raise ValueError(
      f"{env_name}: unknown symmetry-breaking variant breaking={breaking!r}; "
      f"expected one of {variants_of(env_name)}."
    )
  if isinstance(strength, bool) or not isinstance(strength, (int, float, np.floating, np.integer)):
    raise ValueError(f"{env_name}: strength must be a number, received strength={strength!r}.")
  strength = float(strength)
  if not np.isfinite(strength) or strength < 0:
    raise ValueError(
      f"{env_name}: strength must be a finite number >= 0, received " f"strength={strength!r}."
    )
  top = _MAX_STRENGTH[(env_name, breaking)]
  if top is not None and strength > top:
    raise ValueError(
      f"{env_name}: the {breaking!r} variant takes a strength in [0, {top:g}] "
      f"(a probability or a fraction), received strength={strength!r}."
    )
  return strength


def parse_variant(name: str) -> Tuple[str, Dict[str, Any]]:
  """`"CartPole-v1:global:0.5"` -> `("CartPole-v1", {"breaking": "global", "strength": 0.5})`."""
  base, *rest = name.split(":")
  if not rest:
    return base, {}
  if len(rest) != 2:
    raise ValueError(
      f"Environment variant {name!r} must read '<env>:<breaking>:<strength>', "
      f"e.g. 'CartPole-v1:global:0.5'; breaking is one of {ALL_BREAKINGS}."
    )
  try:
    strength = float(rest[1])
  except ValueError:
    raise ValueError(
      f"Environment variant {name!r}: strength {rest[1]!r} is not a number."
    ) from None
  return base, {"breaking": rest[0], "strength": strength}


def bernoulli_bits(key: tf.Tensor, batch, probability: float) -> tf.Tensor:
  """Bool `[batch]`, each True with `probability`, from 24 stateless random bits.

  Compared as integers, so XLA and eager code draw the same coins from the same key
  (`stateless_uniform` floats differ between them in TF 2.15, see `envs.base`).
  """
  bits = rng.uniform([batch], seed=key + WIND_KEY_OFFSET, minval=None, maxval=None, dtype=tf.uint32)
  k = tf.cast(tf.bitwise.right_shift(bits, 8), tf.int32)
  return k < int(round(probability * 2**24))


def catch_broken_physics(
  state: tf.Tensor, action: tf.Tensor, coin: tf.Tensor, breaking: str, columns: int
) -> tf.Tensor:
  """Catch's step where `coin` (bool `[B]`) says whether the breaking happens this step."""
  ball_row, ball_col, paddle = tf.unstack(state, num=3, axis=-1)
  move = tf.cast(action, state.dtype) - 1
  left = paddle < columns // 2
  if breaking == "reflect":
    move = tf.where(tf.logical_and(coin, left), -move, move)
  elif breaking == "repeat":
    move = tf.where(tf.logical_and(coin, left), 2 * move, move)
  elif breaking != "global":
    raise ValueError(f"unknown breaking {breaking!r}; expected one of {BREAKINGS}.")
  paddle = tf.clip_by_value(paddle + move, 0, columns - 1)
  if breaking == "global":
    ball_col = tf.where(coin, tf.minimum(ball_col + 1, columns - 1), ball_col)
  return tf.stack([ball_row + 1, ball_col, paddle], axis=-1)
