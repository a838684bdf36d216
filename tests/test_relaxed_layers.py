"""Relaxed group layers and residual-pathway layers through the one harness, over C2, C4, D4, D3."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers import (
  EquivariantLogits,
  GroupConv,
  GroupLift,
  GroupPool,
  RelaxedGroupConv,
  RelaxedGroupLift,
  ResidualGroupConv,
  ResidualGroupLift,
)
from tf_equirl.testing import (
  assert_equivariant,
  equivariance_error,
  equivariance_error_by_element,
  relaxed_weight_spread,
)

import support

keras = tf.keras
BATCH = 16

pytestmark = pytest.mark.seed(1234)  # tests/conftest.py seeds each test


def _orbit(x, rep):
  """`x` and all its images `rho(g) x`, stacked on the batch axis (exactly symmetric data)."""
  return tf.concat([rep.transform(x, g) for g in rep.group.elements()], axis=0)


# ------------------------------------------------------------------ the harness
def _free_step_breaks_equivariance(make, x, input_rep, output_rep):
  """Without the projection a training step on asymmetric data breaks a relaxed layer's
  equivariance; at initialisation it holds."""
  free = support.check_layer(make, x, input_rep, output_rep, check_equivariance=False)
  assert equivariance_error(free, x, input_rep, output_rep) > 1e-3
  assert_equivariant(make(), x, input_rep, output_rep, atol=1e-5)


@support.over_layer_groups
def test_relaxed_group_lift(gname):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  x = support.random_input((BATCH, rep.dim))
  # spread_decay=1 projects the relaxed weights back to equal values after every step, so the
  # harness' equivariance check after its training step holds too.
  layer = support.check_layer(
    lambda: RelaxedGroupLift(6, rep, num_kernels=3, spread_decay=1.0, activation="tanh"),
    x,
    rep,
    group,
    expected_params=3 * rep.dim * 6 + group.order * 3 + 6,
  )
  assert layer(x).shape == (BATCH, group.order, 6)
  _free_step_breaks_equivariance(lambda: RelaxedGroupLift(6, rep, activation="tanh"), x, rep, group)


@support.over_layer_groups
def test_relaxed_group_conv(gname):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3))
  support.check_layer(
    lambda: RelaxedGroupConv(5, group, num_kernels=2, spread_decay=1.0, activation="relu"),
    x,
    group,
    group,
    expected_params=2 * group.order * 3 * 5 + group.order * 2 + 5,
  )
  _free_step_breaks_equivariance(
    lambda: RelaxedGroupConv(5, group, activation="tanh"), x, group, group
  )
  layer = support.check_layer(
    lambda: RelaxedGroupConv(5, group, num_kernels=2, spread_decay=1.0, implementation="fourier"),
    x,
    group,
    group,
  )
  assert layer.uses_fourier() and layer.get_config()["implementation"] == "fourier"


@support.over_layer_groups
def test_residual_pathway_layers(gname):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  x = support.random_input((BATCH, rep.dim))
  n = group.order
  lift = support.check_layer(
    lambda: ResidualGroupLift(4, rep, activation="tanh"),
    x,
    rep,
    group,
    expected_params=rep.dim * 4 + 4 + rep.dim * n * 4,
    check_equivariance=False,
  )
  assert equivariance_error(lift, x, rep, group) > 1e-4  # the free path moved
  assert_equivariant(ResidualGroupLift(4, rep, activation="tanh"), x, rep, group, atol=1e-5)
  h = support.random_input((BATCH, n, 3))
  conv = support.check_layer(
    lambda: ResidualGroupConv(5, group),
    h,
    group,
    group,
    expected_params=n * 3 * 5 + 5 + n * 3 * n * 5,
    check_equivariance=False,
  )
  assert equivariance_error(conv, h, group, group) > 1e-4
  assert_equivariant(ResidualGroupConv(5, group), h, group, group, atol=1e-5)


# ------------------------------------------------------- the output, as specified
@pytest.mark.parametrize("gname", ["C4", "D3"])
def test_relaxed_output_is_the_weighted_sum_of_exact_layers(gname):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  rng = np.random.default_rng(0)
  x = support.random_input((BATCH, rep.dim))
  h = support.random_input((BATCH, group.order, 3))
  num_kernels = 3
  w = rng.standard_normal((group.order, num_kernels)).astype(np.float32)
  init = keras.initializers.Constant(w)
  lift = RelaxedGroupLift(4, rep, num_kernels=num_kernels, use_bias=False, relaxed_initializer=init)
  conv = RelaxedGroupConv(
    5, group, num_kernels=num_kernels, use_bias=False, relaxed_initializer=init
  )
  y_lift, y_conv = lift(x).numpy(), conv(h).numpy()
  np.testing.assert_allclose(lift.relaxed_weights.numpy(), w)
  expect_lift, expect_conv = 0.0, 0.0
  for k in range(num_kernels):  # f[h] = sum_k w_k(h) (exact layer with kernel k)[h]
    exact_lift = GroupLift(4, rep, use_bias=False, implementation="spatial")
    exact_lift.build(x.shape)
    exact_lift.set_weights([lift.kernel.numpy()[k]])
    expect_lift = expect_lift + w[None, :, k, None] * exact_lift(x).numpy()
    exact_conv = GroupConv(5, group, use_bias=False, implementation="spatial")
    exact_conv.build(h.shape)
    exact_conv.set_weights([conv.kernel.numpy()[k]])
    expect_conv = expect_conv + w[None, :, k, None] * exact_conv(h).numpy()
  np.testing.assert_allclose(y_lift, expect_lift, atol=1e-5)
  np.testing.assert_allclose(y_conv, expect_conv, atol=1e-5)
  # Equal weights over h give the exact layer with the summed kernel.
  lift.relaxed_weights.assign(np.tile(w[:1], (group.order, 1)))
  exact_lift = GroupLift(4, rep, use_bias=False)
  exact_lift.build(x.shape)
  exact_lift.set_weights([np.einsum("l,ldu->du", w[0], lift.kernel.numpy())])
  np.testing.assert_allclose(lift(x).numpy(), exact_lift(x).numpy(), atol=1e-5)


@support.over_layer_groups
@pytest.mark.parametrize("num_kernels", [1, 3])
def test_relaxed_conv_fourier_form_equals_the_spatial_form(gname, num_kernels):
  """The Fourier form (the L convolutions in the Fourier basis, then the mixing) and the
  spatial form (one convolution with the assembled kernel) give the same outputs and
  gradients, eagerly and under XLA, for relaxed weights that differ between elements."""
  group = support.GROUPS[gname]
  rng = np.random.default_rng(3)
  h = support.random_input((BATCH, group.order, 3))
  weights = rng.standard_normal((group.order, num_kernels)).astype(np.float32)
  forms = {}
  for form in ("spatial", "fourier"):
    forms[form] = RelaxedGroupConv(
      5,
      group,
      num_kernels=num_kernels,
      relaxed_initializer=keras.initializers.Constant(weights),
      bias_initializer="glorot_uniform",
      activation="tanh",
      implementation=form,
    )
    forms[form].build(h.shape)
  forms["fourier"].set_weights(forms["spatial"].get_weights())
  assert forms["fourier"].uses_fourier("xla") and not forms["spatial"].uses_fourier("xla")

  def value_and_gradients(layer):
    def run():
      with tf.GradientTape() as tape:
        y = layer(h)
        loss = tf.reduce_sum(tf.sin(3.0 * y))
      return [y] + tape.gradient(loss, layer.trainable_variables)

    return run

  for compiled in (False, True):
    got = {}
    for form, layer in forms.items():
      run = value_and_gradients(layer)
      got[form] = [t.numpy() for t in (tf.function(run, jit_compile=True)() if compiled else run())]
    assert len(got["spatial"]) == 4  # output; kernel, relaxed weights, bias gradients
    for spatial, fourier in zip(got["spatial"], got["fourier"]):
      # The two forms sum the same float32 products in different orders, so an entry that
      # cancels to near zero keeps an error relative to the tensor's largest entries (the
      # gradients reach about 25): the absolute tolerance scales with them.
      scale = max(1.0, float(np.abs(spatial).max()))
      np.testing.assert_allclose(fourier, spatial, rtol=1e-4, atol=1e-5 * scale)


@support.over_layer_groups
def test_centered_parameterization_is_the_same_layer(gname):
  """`parameterization="centered"` stores `w = m + d - mean_h d`: the same outputs for the same
  effective weights, exact at initialisation, the harness' checks, one more weight per kernel."""
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  x = support.random_input((BATCH, rep.dim))
  h = support.random_input((BATCH, group.order, 3))
  w = np.random.default_rng(2).standard_normal((group.order, 2)).astype(np.float32)
  init = keras.initializers.Constant(w)
  for make, inp in (
    (lambda **kw: RelaxedGroupLift(4, rep, **kw), x),
    (lambda **kw: RelaxedGroupConv(4, group, **kw), h),
  ):
    direct, centered = (
      make(relaxed_initializer=init, parameterization=p) for p in ("direct", "centered")
    )
    direct(inp), centered(inp)
    np.testing.assert_allclose(centered.mixing_weights().numpy(), w, atol=1e-6)
    centered.kernel.assign(direct.kernel)
    np.testing.assert_allclose(centered(inp).numpy(), direct(inp).numpy(), atol=1e-5)
    assert len(centered.trainable_weights) == len(direct.trainable_weights) + 1
    assert_equivariant(
      make(parameterization="centered", activation="tanh"),
      inp,
      rep if inp is x else group,
      group,
      atol=1e-5,
    )
  support.check_layer(
    lambda: RelaxedGroupConv(5, group, spread_decay=1.0, parameterization="centered"),
    h,
    group,
    group,
    expected_params=2 * group.order * 3 * 5 + 2 + group.order * 2 + 5,
  )


@pytest.mark.parametrize("gname", ["C2", "C4", pytest.param("D4", marks=pytest.mark.slow)])
def test_centered_weights_spread_where_the_data_is_nearly_symmetric(gname):
  """On the orbit of a batch with a small asymmetric target, Adam moves every `w_l(h)` of the
  direct form almost alike; the centered form's deviation moves at Adam's step size."""
  group, rep, actions = support.group_setting(gname)
  x = _orbit(support.random_input((64, rep.dim)), rep)
  teacher = support.functional_model(
    lambda inp: EquivariantLogits(actions)(GroupLift(4, rep, activation="tanh")(inp)), x.shape
  )
  targets = teacher(x) + 0.05 * tf.one_hot(tf.zeros([x.shape[0]], tf.int32), actions.dim)
  spread = {}
  for param in ("direct", "centered"):
    keras.utils.set_random_seed(7)

    def actor(inp, param=param):
      h = RelaxedGroupLift(8, rep, activation="tanh", parameterization=param)(inp)
      h = RelaxedGroupConv(8, group, activation="tanh", parameterization=param)(h)
      return EquivariantLogits(actions)(h)

    model = support.functional_model(actor, x.shape)
    opt = keras.optimizers.Adam(1e-3)
    for _ in range(100):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - targets))
      opt.apply_gradients(
        zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
      )
    spread[param] = sum(relaxed_weight_spread(model).values())
  print(gname, spread)
  assert spread["centered"] > 2 * spread["direct"]


def test_residual_output_is_exact_plus_free_path():
  group = support.GROUPS["D4"]
  rep = support.state_rep(group)
  x = support.random_input((BATCH, rep.dim))
  layer = ResidualGroupLift(3, rep, use_bias=False)
  layer(x)
  v = np.random.default_rng(1).standard_normal(layer.free_kernel.shape).astype(np.float32)
  layer.free_kernel.assign(v)
  exact = GroupLift(3, rep, use_bias=False, implementation="spatial")
  exact.build(x.shape)
  exact.set_weights([layer.kernel.numpy()])
  expect = exact(x).numpy() + (x.numpy() @ v).reshape(BATCH, group.order, 3)
  np.testing.assert_allclose(layer(x).numpy(), expect, atol=1e-5)


# ---------------------------------------------- training on symmetric data stays exact
@pytest.mark.parametrize("gname", ["C4", "D4"])
def test_training_on_symmetric_data_keeps_a_relaxed_network_equivariant(gname):
  group, rep, actions = support.group_setting(gname)

  def relaxed_actor(inp):
    h = RelaxedGroupLift(8, rep, activation="tanh")(inp)
    h = RelaxedGroupConv(8, group, activation="tanh")(h)
    return EquivariantLogits(actions)(h)

  x = support.random_input((32, rep.dim))
  sym_x = _orbit(x, rep)
  teacher = support.functional_model(
    lambda inp: EquivariantLogits(actions)(GroupLift(4, rep, activation="tanh")(inp)), x.shape
  )
  results = {}
  for name, data in (("symmetric", sym_x), ("asymmetric", x)):
    keras.utils.set_random_seed(7)
    model = support.functional_model(relaxed_actor, x.shape)
    targets = teacher(data) + (
      0.0 if name == "symmetric" else tf.one_hot(tf.zeros([data.shape[0]], tf.int32), actions.dim)
    )
    opt = keras.optimizers.Adam(0.02)
    for _ in range(40):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(data) - targets))
      opt.apply_gradients(
        zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
      )
    results[name] = (
      equivariance_error(model, x, rep, actions),
      max(relaxed_weight_spread(model).values()),
    )
  print(gname, results)
  assert results["symmetric"][0] < 1e-4 and results["symmetric"][1] < 1e-4
  assert results["asymmetric"][0] > 1e-2 and results["asymmetric"][1] > 1e-2


def test_spread_decay_pulls_relaxed_weights_together_under_adam():
  group = support.GROUPS["C4"]
  x = support.random_input((BATCH, group.order, 3))
  spreads = {}
  for decay in (0.0, 0.5):
    keras.utils.set_random_seed(3)
    layer = RelaxedGroupConv(4, group, spread_decay=decay)
    layer(x)
    opt = keras.optimizers.Adam(0.05)
    for _ in range(10):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(layer(x) - 1.0))
      opt.apply_gradients(
        zip(tape.gradient(loss, layer.trainable_variables), layer.trainable_variables)
      )
    spreads[decay] = relaxed_weight_spread(layer)[layer.name]
  assert spreads[0.0] > 1e-2
  assert spreads[0.5] < 0.5 * spreads[0.0]


# ------------------------------------------------------------------- the helpers
def test_error_by_element_and_spread_report():
  group = support.GROUPS["C4"]
  x = support.random_input((BATCH, group.order, 2))
  layer = RelaxedGroupConv(3, group, use_bias=False)
  layer(x)
  assert relaxed_weight_spread(layer) == {layer.name: 0.0}
  np.testing.assert_allclose(equivariance_error_by_element(layer, x, group, group), 0, atol=1e-5)
  w = np.full((4, 2), 1.0, np.float32)
  w[2] = 3.0  # element 2 (rotation by 180 degrees) weighted differently
  layer.relaxed_weights.assign(w)
  per_element = equivariance_error_by_element(layer, x, group, group, reduce="max")
  assert per_element.shape == (4,) and per_element[0] == 0.0
  assert np.all(per_element[1:] > 1e-2)
  # std over h of (1, 1, 3, 1) = sqrt(0.75), mean over h = 1.5, for both kernels
  np.testing.assert_allclose(
    relaxed_weight_spread(layer)[layer.name], np.sqrt(0.75) / 1.5, rtol=1e-5
  )
  with pytest.raises(ValueError, match="reduce must be 'mean' or 'max'"):
    equivariance_error_by_element(layer, x, group, group, reduce="median")


# ---------------------------------------------------------------- save and reload
def test_relaxed_models_save_and_reload_in_a_fresh_process(tmp_path):
  cases = []
  for gname in ("C2", "D4"):
    group, rep, actions = support.group_setting(gname)
    x = support.random_input((8, rep.dim))

    def relaxed(inp, group=group, rep=rep, actions=actions):
      h = RelaxedGroupLift(6, rep, num_kernels=3, spread_decay=0.1, activation="tanh")(inp)
      h = RelaxedGroupConv(6, group, activation="tanh", parameterization="centered")(h)
      return EquivariantLogits(actions)(h)

    def residual(inp, group=group, rep=rep):
      h = ResidualGroupLift(6, rep, free_decay=0.01, activation="tanh")(inp)
      h = ResidualGroupConv(6, group, activation="tanh")(h)
      return GroupPool("mean")(h)

    for name, fn in (("relaxed", relaxed), ("residual", residual)):
      model = support.functional_model(fn, x.shape)
      rng = np.random.default_rng(5)  # non-default weights, so the reload is really checked
      model.set_weights(
        [w + 0.1 * rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
      )
      cases.append((f"{gname}_{name}", model, x))
  assert len(support.reload_in_fresh_process(cases, str(tmp_path))) == 4


# ---------------------------------------------------------------------- bad input
def test_bad_input_fails_clearly():
  c2, c4 = support.GROUPS["C2"], support.GROUPS["C4"]
  rep2 = Representation(c2, [np.eye(4), -np.eye(4)])
  with pytest.raises(ValueError, match="expected a positive integer, received num_kernels=0"):
    RelaxedGroupConv(3, c2, num_kernels=0)
  with pytest.raises(ValueError, match=r"spread_decay in \[0, 1\], received spread_decay=2"):
    RelaxedGroupLift(3, rep2, spread_decay=2)
  with pytest.raises(ValueError, match="expects a group axis of size 4.*different group"):
    RelaxedGroupConv(4, c4)(RelaxedGroupLift(3, rep2)(tf.ones([2, 4])))
  with pytest.raises(ValueError, match="has dimension 4 but the input has width 5"):
    RelaxedGroupLift(3, rep2)(tf.ones([2, 5]))
  with pytest.raises(ValueError, match="unknown parameterization 'mean'; expected one of"):
    RelaxedGroupConv(3, c2, parameterization="mean")
  with pytest.raises(
    ValueError, match="implementation must be one of .*received implementation='fft'"
  ):
    RelaxedGroupConv(3, c2, implementation="fft")
  with pytest.raises(ValueError, match=r"free_decay in \[0, 1\), received free_decay=1"):
    ResidualGroupConv(3, c2, free_decay=1)
  with pytest.raises(ValueError, match="only implementation='spatial'"):
    ResidualGroupLift(3, rep2, implementation="fourier")
