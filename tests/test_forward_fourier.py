"""The Fourier forms of GroupConv, GroupLift and PermutationEquivariantDense equal their
spatial forms (the computation before the Fourier forms existed) under C2, C4, D4 and D3,
stay equivariant, and leave weights, configs and saved models as they were."""

import json
import os
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.envs import make
from tf_equirl.groups import cyclic, dihedral
from tf_equirl.groups import Representation
from tf_equirl.layers import EquivariantLogits, GroupConv, GroupLift, PermutationEquivariantDense
from tf_equirl.layers._fourier import execution_mode, lift_fourier_plan, regular_fourier_basis
from tf_equirl.networks import build_actor, build_critic
from tf_equirl.testing import assert_equivariant, invariant

import support

keras = tf.keras
BATCH = 16
FAST_PATH_ATOL = 1e-5

pytestmark = pytest.mark.seed(4321)  # tests/conftest.py seeds each test


def _same_weights(make_layer, x):
  """The layer in its spatial and its Fourier form, sharing one set of weights."""
  spatial, fourier = make_layer("spatial"), make_layer("fourier")
  spatial(x)
  fourier(x)
  strip = lambda name: name.split("/", 1)[1]  # the layer's own prefix differs
  assert [strip(w.name) for w in spatial.weights] == [strip(w.name) for w in fourier.weights]
  assert [w.shape for w in spatial.weights] == [w.shape for w in fourier.weights]
  fourier.set_weights(spatial.get_weights())
  return spatial, fourier


def _assert_fast_equals_reference(spatial, fourier, x):
  np.testing.assert_allclose(fourier(x).numpy(), spatial(x).numpy(), atol=FAST_PATH_ATOL)
  xla = tf.function(lambda v: fourier(v), jit_compile=True)
  np.testing.assert_allclose(xla(x).numpy(), spatial(x).numpy(), atol=FAST_PATH_ATOL)


@pytest.mark.parametrize("gname,expected", [("C2", 2), ("C4", 6), ("D4", 12), ("D3", 10)])
def test_fourier_basis_block_diagonalises_the_group_convolution(gname, expected):
  group = support.GROUPS[gname]
  fb = regular_fourier_basis(group)
  q = fb.basis
  np.testing.assert_allclose(q.T @ q, np.eye(group.order), atol=1e-10)
  assert fb.multiply_adds == expected  # sum over irreducibles of copies * dim^2
  # A random 1 -> 1 channel group convolution is block-diagonal in the basis.
  layer = GroupConv(1, group, use_bias=False, implementation="spatial")
  layer.build((None, group.order, 1))
  layer.set_weights([np.random.default_rng(0).standard_normal((group.order, 1, 1))])
  k = q.T @ layer.expanded_kernel().numpy() @ q
  mask = np.zeros_like(k, dtype=bool)
  for b in fb.blocks:
    for i in range(b.copies):
      lo = b.start + i * b.dim
      mask[lo : lo + b.dim, lo : lo + b.dim] = True
  assert np.max(np.abs(k[~mask])) < 1e-6


def _check_fourier_form(
  make, x, input_rep, output_rep, expected_params, atol=1e-5, harness_activation="tanh"
):
  """`make(implementation, activation)`'s Fourier form equals its spatial form with the same
  weights (tanh), and the Fourier form passes the layer harness (`harness_activation`)."""
  spatial, fourier = _same_weights(lambda impl: make(impl, "tanh"), x)
  _assert_fast_equals_reference(spatial, fourier, x)
  support.check_layer(
    lambda: make("fourier", harness_activation),
    x,
    input_rep,
    output_rep,
    expected_params=expected_params,
    atol=atol,
  )


@support.over_layer_groups
def test_group_conv_fourier_equals_spatial(gname):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3))
  _check_fourier_form(
    lambda impl, act: GroupConv(5, group, activation=act, implementation=impl),
    x,
    group,
    group,
    expected_params=group.order * 3 * 5 + 5,
    harness_activation="relu",
  )


@support.over_layer_groups
def test_group_lift_fourier_equals_spatial(gname):
  group = support.GROUPS[gname]
  for rep in (support.state_rep(group), support.skewed_rep(group)):
    x = support.random_input((BATCH, rep.dim))
    _check_fourier_form(
      lambda impl, act, rep=rep: GroupLift(6, rep, activation=act, implementation=impl),
      x,
      rep,
      group,
      expected_params=rep.dim * 6 + 6,
      atol=1e-5 if rep.name != "skewed" else 1e-4,
    )


@support.over_layer_groups
def test_permutation_equivariant_dense_fourier_equals_spatial(gname):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3))
  _check_fourier_form(
    lambda impl, act: PermutationEquivariantDense(4, activation=act, implementation=impl),
    x,
    group,
    group,
    expected_params=2 * 3 * 4 + 4,
  )


def _stack(rep, units, implementation):
  """GroupLift, GroupConv and PermutationEquivariantDense (tanh) in one `implementation`."""
  inp = keras.Input((rep.dim,))
  h = GroupLift(units, rep, activation="tanh", implementation=implementation)(inp)
  h = GroupConv(units, rep.group, activation="tanh", implementation=implementation)(h)
  h = PermutationEquivariantDense(units, activation="tanh", implementation=implementation)(h)
  return keras.Model(inp, h)


@support.over_layer_groups
def test_fourier_stack_is_equivariant_under_xla(gname):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  x = support.random_input((64, rep.dim))
  model = _stack(rep, 8, "fourier")
  assert_equivariant(model, x, rep, group, atol=FAST_PATH_ATOL)
  assert_equivariant(tf.function(model, jit_compile=True), x, rep, group, atol=FAST_PATH_ATOL)


def _sign_character(group):
  """A +-1 character: the parity of the rotation for C_n (n even), of the reflection for D_n."""
  if group.name.startswith("D"):
    return np.array([(-1.0) ** (g // (group.order // 2)) for g in range(group.order)])
  return np.array([(-1.0) ** g for g in range(group.order)])


@support.over_layer_groups
def test_equivariant_logits_scalar_fold_equals_the_general_fold(gname):
  group = support.GROUPS[gname]
  chi = _sign_character(group)
  sign = Representation(group, chi[:, None, None] * np.eye(5), name="sign")
  # The moves of D_n do not contain the reflection parity (a reflection fixes a move), so from
  # the sign representation only constant logits would be equivariant: D_n acts on its
  # elements instead (the regular representation holds every character).
  if group.name.startswith("D"):
    actions = Representation.regular(group)
  else:
    actions = support.move_action_rep(group)
  x = support.random_input((BATCH, 5))
  fast = EquivariantLogits(actions, input_rep=sign)
  reference = EquivariantLogits(actions, input_rep=sign)
  assert fast._scalar_fold is not None
  reference._scalar_fold = None  # the general einsum over rho(h^-1)
  fast(x)
  reference(x)
  reference.set_weights(fast.get_weights())
  np.testing.assert_allclose(fast(x).numpy(), reference(x).numpy(), atol=FAST_PATH_ATOL)
  support.check_layer(lambda: EquivariantLogits(actions, input_rep=sign), x, sign, actions)


def test_catch_lift_uses_a_sparse_gather_and_half_the_multiply_adds():
  rep = make("Catch-v0").symmetry.state_rep
  plan = lift_fourier_plan(rep)
  assert plan.gather_index is not None and plan.gather_index.shape == (rep.dim, 2)
  assert plan.multiply_adds == rep.dim  # instead of |G| d = 2 d


@pytest.mark.parametrize("env_name", ["CartPole-v1", "Catch-v0", "GridWorld-v0"])
def test_default_actors_and_critics_equal_their_spatial_form(env_name):
  symmetry = make(env_name).symmetry
  x = support.random_input((32, symmetry.state_dim), seed=3)
  models = [(build_actor(k, symmetry), symmetry.action_rep) for k in ("gcnn", "symmetrizer")]
  models += [(build_critic("invariant", symmetry), invariant(symmetry.group))]
  models += [(build_actor("gcnn", symmetry, hidden="group_conv"), symmetry.action_rep)]
  switched = 0
  for model, out_rep in models:
    # random biases: at zero biases CartPole's mean-pooled critic is constant
    support.randomize_biases(model)
    config = model.get_config()
    for layer in config["layers"]:
      if "implementation" in layer["config"]:
        assert layer["config"]["implementation"] == "auto"
        layer["config"]["implementation"] = "spatial"
        switched += 1
    spatial = keras.Model.from_config(config)
    spatial.set_weights(model.get_weights())
    for layer in spatial.layers:  # the reference forms of the other fast paths
      if getattr(layer, "_scalar_fold", None) is not None:
        layer._scalar_fold = None
      if hasattr(layer, "_kron_bias_under_xla"):
        layer._kron_bias_under_xla = False
    reference = spatial(x).numpy()
    np.testing.assert_allclose(model(x).numpy(), reference, atol=FAST_PATH_ATOL)
    for jit in (False, True):
      fast = tf.function(lambda v, m=model: m(v), jit_compile=jit)
      np.testing.assert_allclose(fast(x).numpy(), reference, atol=FAST_PATH_ATOL)
      ref = tf.function(lambda v, m=spatial: m(v), jit_compile=jit)
      np.testing.assert_allclose(ref(x).numpy(), reference, atol=FAST_PATH_ATOL)
    assert_equivariant(model, x, symmetry.state_rep, out_rep, atol=FAST_PATH_ATOL)
    assert np.std(reference, axis=0).max() > 1e-4  # the forms agree on a non-constant output
  assert switched > 0  # automatic layers were compared with their spatial form


def test_auto_knows_whether_it_is_compiled_with_xla():
  seen = []

  def record(x):
    seen.append(execution_mode())
    return x

  record(tf.ones(1))
  tf.function(record)(tf.ones(1))
  tf.function(record, jit_compile=True)(tf.ones(1))
  assert seen == ["eager", "function", "xla"]
  # "auto" decides per mode and batch size: a wide C16 convolution goes to the Fourier
  # basis at large batches, a batch of one stays spatial outside XLA (fewer operations).
  layer = GroupConv(64, cyclic(16))
  layer.build((None, 16, 64))
  assert layer.uses_fourier("function") and layer.uses_fourier("xla")
  assert not layer.uses_fourier("eager", batch=1)
  assert not GroupConv(4, cyclic(2), implementation="spatial").uses_fourier("xla")


def test_bad_implementation_fails_clearly():
  with pytest.raises(ValueError, match="GroupConv: implementation must be one of"):
    GroupConv(3, cyclic(2), implementation="fft")
  with pytest.raises(ValueError, match="GroupLift: implementation must be one of"):
    GroupLift(3, support.state_rep(cyclic(2)), implementation="dense")
  with pytest.raises(ValueError, match="PermutationEquivariantDense: implementation must be"):
    PermutationEquivariantDense(3, implementation=None)


def _strip_implementation(path):
  """Rewrites a .keras file as the code before the `implementation` option wrote it."""
  with zipfile.ZipFile(path) as z:
    files = {name: z.read(name) for name in z.namelist()}
  config = json.loads(files["config.json"])

  def strip(node):
    if isinstance(node, dict):
      if node.get("class_name") in ("GroupConv", "GroupLift", "PermutationEquivariantDense"):
        node["config"].pop("implementation")
      for v in node.values():
        strip(v)
    elif isinstance(node, list):
      for v in node:
        strip(v)

  strip(config)
  files["config.json"] = json.dumps(config).encode()
  with zipfile.ZipFile(path, "w") as z:
    for name, data in files.items():
      z.writestr(name, data)


def test_saved_models_without_the_option_load_and_give_the_same_outputs(tmp_path):
  group = dihedral(4)
  rep = support.state_rep(group)
  x = support.random_input((8, rep.dim))
  model = _stack(rep, 6, "spatial")
  path = os.path.join(tmp_path, "old.keras")
  model.save(path)
  _strip_implementation(path)
  loaded = keras.models.load_model(path)
  assert all(layer.get_config().get("implementation", "auto") == "auto" for layer in loaded.layers)
  np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=FAST_PATH_ATOL)
  for gname, group in (("C2", cyclic(2)), ("C4", cyclic(4))):
    old_config = GroupConv(4, group).get_config()
    old_config.pop("implementation")
    assert GroupConv.from_config(old_config).implementation == "auto", gname


def test_auto_keeps_the_measured_lifts_spatial():
  """Calibration: on the representations measured (Catch's flip, the grid world's D4 on its
  planes) the spatial lift was faster in tf.function and under XLA at batch 10,000, so
  "auto" must pick it; both forms stay available and equal (tests above)."""
  from tf_equirl.envs import make  # pylint: disable=import-outside-toplevel

  for env, units in (("Catch-v0", 49), ("GridWorld-v0", 51)):
    layer = GroupLift(units, make(env).symmetry.state_rep)
    layer.build((None, layer.input_rep.dim))
    assert not layer.uses_fourier("xla", batch=10_000), env
    assert not layer.uses_fourier("function", batch=10_000), env


@pytest.mark.parametrize("case", ["catch", "cartpole", "gridworld", "D3_planar", "C4_skewed"])
def test_lift_fold_gathers_signed_permutations_and_equals_the_einsum(case):
  """`LiftFold` (the spatial lift's kernel fold): a gather for signed permutation matrices,
  the einsum otherwise; the same floats forward, the same dense kernel gradient."""
  from tf_equirl.layers._base import LiftFold  # pylint: disable=import-outside-toplevel

  rep = {
    "catch": lambda: make("Catch-v0").symmetry.state_rep,
    "cartpole": lambda: make("CartPole-v1").symmetry.state_rep,
    "gridworld": lambda: make("GridWorld-v0").symmetry.state_rep,
    "D3_planar": lambda: support.state_rep(dihedral(3)),
    "C4_skewed": lambda: support.skewed_rep(cyclic(4)),
  }[case]()
  matrices = np.transpose(rep.inverse_matrices(), (0, 2, 1))
  fold = LiftFold(matrices)
  assert (fold.index is not None) == (case in ("catch", "cartpole", "gridworld")), case
  assert (fold.sign is not None) == (case == "cartpole"), case
  kernel = tf.Variable(support.random_input((rep.dim, 5)))
  weights = tf.constant(support.random_input((rep.dim, rep.group.order, 5), seed=1))
  einsum = lambda w: tf.einsum("hij,ju->ihu", tf.constant(matrices, tf.float32), w)  # noqa: E731
  for mode, run in (
    ("eager", lambda f: f()),
    ("xla", lambda f: tf.function(f, jit_compile=True, autograph=False)()),
  ):

    def both():
      with tf.GradientTape(persistent=True) as tape:
        a, b = fold(kernel), einsum(kernel)
        la, lb = tf.reduce_sum(a * weights), tf.reduce_sum(b * weights)
      return a, b, tape.gradient(la, kernel), tape.gradient(lb, kernel)

    a, b, ga, gb = run(both)
    assert isinstance(ga, tf.Tensor), type(ga)  # dense: clipping norms see the real gradient
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{case} {mode}")
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), atol=1e-6, err_msg=f"{case} {mode}")
