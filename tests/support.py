"""Shared test support: representations for several groups and the one layer harness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.groups import FiniteGroup, Representation, cyclic, dihedral, direct_sum
from tf_equirl.testing import assert_equivariant

keras = tf.keras
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GROUPS = {"C2": cyclic(2), "C4": cyclic(4), "D4": dihedral(4), "D3": dihedral(3)}
# Groups every layer is checked under (at least C2, C4 and D4; D3 is non-abelian).
LAYER_GROUPS = ["C2", "C4", "D4", "D3"]
# `@over_layer_groups` runs a test (argument `gname`) once per group of LAYER_GROUPS.
over_layer_groups = pytest.mark.parametrize("gname", LAYER_GROUPS)


def planar_matrices(group: FiniteGroup) -> np.ndarray:
  """2-D rotation/reflection matrices of C_n / D_n in the element order of cyclic/dihedral."""
  n_rot = group.order // 2 if group.name.startswith("D") else group.order
  mats = []
  for g in range(group.order):
    k, m = g % n_rot, g // n_rot
    c, s = np.cos(2 * np.pi * k / n_rot), np.sin(2 * np.pi * k / n_rot)
    rot = np.array([[c, s * -1], [s, c]])
    mats.append(rot @ (np.diag([1.0, -1.0]) if m else np.eye(2)))
  return np.round(np.array(mats), 12)


def state_rep(group: FiniteGroup) -> Representation:
  """A non-trivial, orthogonal, signed-permutation (for C2/C4/D4) state representation:
  the planar action on a 2-vector plus the regular action on |G| more coordinates."""
  return direct_sum(
    Representation(group, planar_matrices(group), name="planar"), Representation.regular(group)
  )


def skewed_rep(group: FiniteGroup, seed: int = 0) -> Representation:
  """`state_rep` conjugated by a random invertible matrix: neither orthogonal nor sparse."""
  base = state_rep(group)
  rng = np.random.default_rng(seed)
  q = np.eye(base.dim) + 0.25 * rng.standard_normal((base.dim, base.dim))
  return Representation(group, q @ base.matrices @ np.linalg.inv(q), name="skewed", atol=1e-4)


def move_action_rep(group: FiniteGroup) -> Representation:
  """Actions = planar moves (unit vectors in the orbit of e_x) plus a no-op that every
  element fixes: 4 moves + no-op under C4/D4, 2 moves + no-op under C2, 3 + no-op under D3.
  Non-regular whenever some element fixes a move (reflections in D_n)."""
  mats = planar_matrices(group)
  moves = []
  for m in mats:
    v = np.round(m @ np.array([1.0, 0.0]), 9)
    if not any(np.allclose(v, u) for u in moves):
      moves.append(v)
  perms = []
  for m in mats:
    p = [next(j for j, u in enumerate(moves) if np.allclose(np.round(m @ v, 9), u)) for v in moves]
    perms.append(p + [len(moves)])
  return Representation.from_permutations(group, perms, name="moves+noop")


def group_setting(gname: str):
  """`(group, state_rep(group), move_action_rep(group))` of `GROUPS[gname]`: the group, the
  state representation and the action representation most layer tests check under."""
  group = GROUPS[gname]
  return group, state_rep(group), move_action_rep(group)


def random_input(shape, seed=0, dtype=np.float32):
  return tf.constant(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def functional_model(layer_or_fn, input_shape):
  """Wraps a layer (or a function of Keras tensors) as a functional Keras model."""
  inp = keras.Input(shape=input_shape[1:], batch_size=None)
  return keras.Model(inp, layer_or_fn(inp))


def check_layer(
  make_layer,
  x,
  input_rep,
  output_rep,
  expected_params: int | None = None,
  atol: float = 1e-5,
  check_equivariance: bool = True,
  input_axis=None,
  output_axis=None,
):
  """The harness every layer test calls. Returns the built layer.

  Checks output shape against compute_output_shape, the trainable parameter count,
  get_config/from_config round trip (identical outputs), in-process .keras save/reload
  (`keras_round_trip`), eager == tf.function == XLA, a training step that moves the weights
  and keeps the loss finite, and equivariance before and after that step
  (`input_axis`/`output_axis`: where the representations act, as in `assert_equivariant`).
  `make_layer` may also return a functional model (a stack of layers).
  """
  layer = make_layer()
  y = layer(x)
  ys = y if isinstance(y, (list, tuple)) else [y]
  expected_shape = layer.compute_output_shape(
    [t.shape for t in x] if isinstance(x, (list, tuple)) else x.shape
  )
  for t, s in zip(ys, expected_shape if isinstance(expected_shape, tuple) else [expected_shape]):
    assert t.shape == s, (t.shape, s)
  for t in ys:  # the output depends on the input (a constant would pass every check below)
    if t.dtype.is_floating and t.shape[0] > 1:
      assert np.std(t.numpy(), axis=0).max() > 1e-6, f"{layer.name}: output constant over the batch"
  params = int(sum(np.prod(v.shape) for v in layer.trainable_variables))
  if expected_params is not None:
    assert params == expected_params, (params, expected_params)

  clone = type(layer).from_config(layer.get_config())
  clone(x)
  clone.set_weights(layer.get_weights())
  for a, b in zip(ys, _listify(clone(x))):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
  assert json.dumps(layer.get_config())  # the config is plain JSON
  keras_round_trip(layer, x)

  for jit in (False, True):
    compiled = tf.function(lambda v: layer(v), jit_compile=jit)
    for a, b in zip(ys, _listify(compiled(x))):
      np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)

  if check_equivariance:
    assert_equivariant(
      layer, x, input_rep, output_rep, atol=atol, input_axis=input_axis, output_axis=output_axis
    )

  if layer.trainable_variables:
    before = [v.numpy().copy() for v in layer.trainable_variables]
    opt = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
      loss = tf.add_n(
        [
          tf.reduce_mean(tf.square(tf.cast(t, tf.float32) - 1.0))
          for t in _listify(layer(x))
          if t.dtype.is_floating
        ]
      )
    grads = tape.gradient(loss, layer.trainable_variables)
    opt.apply_gradients([(g, v) for g, v in zip(grads, layer.trainable_variables) if g is not None])
    assert np.isfinite(loss.numpy())
    assert any(not np.allclose(b, v.numpy()) for b, v in zip(before, layer.trainable_variables))
    if check_equivariance:
      assert_equivariant(
        layer, x, input_rep, output_rep, atol=atol, input_axis=input_axis, output_axis=output_axis
      )
  return layer


def keras_round_trip(layer, x, atol: float = 1e-6):
  """Saves `layer` (inside a functional model on inputs shaped like `x`) as a .keras file,
  reloads it in Keras' safe mode without custom_objects and asserts the same outputs on `x`.
  Returns the reloaded model."""
  inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype) for t in _listify(x)]
  model = keras.Model(inputs, layer(inputs if isinstance(x, (list, tuple)) else inputs[0]))
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "layer.keras")
    model.save(path)
    reloaded = keras.models.load_model(path, compile=False, safe_mode=True)
  for a, b in zip(_listify(model(x)), _listify(reloaded(x))):
    np.testing.assert_allclose(b.numpy(), a.numpy(), atol=atol)
  return reloaded


def _listify(y):
  return list(y) if isinstance(y, (list, tuple)) else [y]


# Environments and symmetry groups the network kinds are checked on (None: the environment's
# own symmetry). CartPole: C2 on -I; Catch: C2 permuting columns; the grid world: D4, C4, C2
# on the planes.
def randomize_biases(model, seed: int = 0, scale: float = 0.5) -> int:
  """Sets every bias variable of `model` (a name ending in `bias:0`) to N(0, scale^2) draws;
  returns how many it set."""
  rng = np.random.default_rng(seed)
  biases = [v for v in model.variables if v.name.endswith("bias:0")]
  for v in biases:
    v.assign(scale * rng.standard_normal(v.shape).astype(v.dtype.as_numpy_dtype))
  return len(biases)


NETWORK_SETTINGS = [
  ("CartPole-v1", None),
  ("Catch-v0", None),
  ("GridWorld-v0", "D4"),
  ("GridWorld-v0", "C4"),
  ("GridWorld-v0", "C2"),
]


def env_symmetry(env_name: str, group: str | None = None):
  """The symmetry of environment `env_name`, or the one of its subgroup `group`."""
  from tf_equirl.envs import make

  env = make(env_name)
  return env.symmetry if group is None else env.get_symmetry(group)


def check_network_kind(kind: str, env_name: str, group: str | None, param_tolerance: float):
  """Builds the actor and critic of network `kind` for the environment's symmetry (or its
  subgroup `group`) and checks them: equivariant (the critic invariant) on random states,
  logits that depend on the state, and parameter counts within `param_tolerance` (a
  fraction) of the MLP's. Returns `(symmetry, x, actor, critic)`."""
  from tf_equirl.networks import build_actor, build_critic
  from tf_equirl.params import count_params
  from tf_equirl.testing import invariant

  sym = env_symmetry(env_name, group)
  x = random_input((32, sym.state_dim), seed=1)
  actor, critic = build_actor(kind, sym), build_critic(kind, sym)
  assert_equivariant(actor, x, sym.state_rep, sym.action_rep, atol=1e-5)
  assert_equivariant(critic, x, sym.state_rep, invariant(sym.group), atol=1e-5)
  assert np.std(actor(x).numpy(), axis=0).max() > 1e-4  # not trivially equivariant
  # The biases start at 0, which can hide a bias that breaks the symmetry (and on CartPole's
  # sign flip leaves a mean-pooled critic constant at initialisation): with random biases
  # both still commute with the group and the critic depends on the state.
  for model in (actor, critic):
    randomize_biases(model)
  assert_equivariant(actor, x, sym.state_rep, sym.action_rep, atol=1e-5)
  assert_equivariant(critic, x, sym.state_rep, invariant(sym.group), atol=1e-5)
  assert np.std(critic(x).numpy()) > 1e-4  # not trivially invariant
  for model, mlp in ((actor, build_actor("mlp", sym)), (critic, build_critic("mlp", sym))):
    assert abs(count_params(model) - count_params(mlp)) <= param_tolerance * count_params(mlp)
  return sym, x, actor, critic


def network_reload_cases(kind: str):
  """`(name, model, x)` for `reload_in_fresh_process`: the actor and critic of network `kind`
  on CartPole and on the grid world under D4."""
  from tf_equirl.networks import build_actor, build_critic

  cases = []
  for env_name, group in (("CartPole-v1", None), ("GridWorld-v0", "D4")):
    sym = env_symmetry(env_name, group)
    x = random_input((8, sym.state_dim), seed=3)
    cases += [
      (f"{env_name}_actor", build_actor(kind, sym), x),
      (f"{env_name}_critic", build_critic(kind, sym), x),
    ]
  return cases


def reload_in_fresh_process(models_and_inputs, tmp_dir):
  """Saves each `(name, model, x)` as .keras, reloads all in ONE fresh interpreter that only
  does `import tf_equirl`, and asserts identical outputs. Returns the checked names."""
  manifest = []
  for name, model, x in models_and_inputs:
    path = os.path.join(tmp_dir, f"{name}.keras")
    model.save(path)
    np.save(os.path.join(tmp_dir, f"{name}_x.npy"), np.asarray(x))
    np.save(os.path.join(tmp_dir, f"{name}_y.npy"), np.asarray(model(x)))
    manifest.append(name)
  script = textwrap.dedent(f"""
      import json, os, sys
      import numpy as np
      import tensorflow as tf
      import tf_equirl  # registers the layers; no custom_objects below
      tmp = {tmp_dir!r}
      failures = []
      for name in {manifest!r}:
          model = tf.keras.models.load_model(os.path.join(tmp, name + ".keras"))
          x = np.load(os.path.join(tmp, name + "_x.npy"))
          y = np.load(os.path.join(tmp, name + "_y.npy"))
          err = float(np.max(np.abs(model(x).numpy() - y)))
          if not err <= 1e-6:
              failures.append((name, err))
      print(json.dumps(failures))
      sys.exit(1 if failures else 0)
  """)
  env = dict(
    os.environ,
    PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    TF_CPP_MIN_LOG_LEVEL="2",
  )
  proc = subprocess.run(
    [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
  )
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
  return manifest


def held_out_episodes(env, count: int, train: int, seed: int):
  """`count` random episodes of `env` (`tf_equirl.models.collect_episodes`): the first
  `train` for training, the rest held out, as two dicts of columns."""
  from tf_equirl.models import collect_episodes  # pylint: disable=import-outside-toplevel

  data = collect_episodes(env, count, seed=seed)
  keep = data["episode"] < train
  return {k: v[keep] for k, v in data.items()}, {k: v[~keep] for k, v in data.items()}


def run_python(*args: str, env=None, timeout: int = 300, stdin=None):
  """`python <args>` from the repository root, its output captured as text; `env` adds
  variables to this process' environment, `stdin` is the text written to its input."""
  return subprocess.run(
    [sys.executable, *args],
    input=stdin,
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=timeout,
    env=None if env is None else {**os.environ, **env},
  )


def run_module(module: str, *args: str, env=None, timeout: int = 300):
  """`python -m <module> <args>` (`run_python`)."""
  return run_python("-m", module, *args, env=env, timeout=timeout)


def check_launcher_flags(launchers):
  """`tests/test_docs.py` run as a script: in one child process it imports each launcher of
  `launchers` (`(where, module, args)` triples) and parses each command's flags with absl's
  FLAGS. Returns its report, `{"checked": n, "errors": [...]}`."""
  proc = run_python(
    os.path.join(REPO, "tests", "test_docs.py"),
    stdin=json.dumps(launchers),
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def tiny_ppo_config(env: str, network: str, iterations: int = 2, **fields):
  """A `PPOConfig` of `env`'s defaults for `iterations` iterations of 4 envs x 32 steps, 2
  epochs of 2 minibatches, 2 iterations per compiled call; `fields` override."""
  from tf_equirl.agents.ppo import default_config  # pylint: disable=import-outside-toplevel

  settings = dict(
    total_steps=iterations * 4 * 32,
    num_envs=4,
    num_steps=32,
    num_epochs=2,
    num_minibatches=2,
    iterations_per_call=2,
  )
  settings.update(fields)
  return default_config(env, network=network, **settings)


# ACConfig fields of tiny actor-critic runs (sweep and seed-batch tests): two calls of 200
# env steps, 8-wide networks, 16-sample minibatches.
TINY_AC_FIELDS = dict(
  total_steps=400,
  eval_every=200,
  random_steps=50,
  batch_size=16,
  replay_capacity=1_000,
  eval_episodes=2,
  width=8,
  critic_width=8,
)


# PPOConfig fields of tiny CartPole runs (sweep tests): 4 envs x 16 steps, 2 minibatches, 1
# epoch, 3 iterations. jit_compile=False: XLA compilation would triple such tests' time (each
# configuration compiles its own graph); benchmarks/sweep_throughput.py checks identity with
# XLA on full runs.
TINY_PPO_FIELDS = dict(
  network="mlp",
  num_envs=4,
  num_steps=16,
  num_minibatches=2,
  num_epochs=1,
  total_steps=192,
  iterations_per_call=1,
  jit_compile=False,
)
