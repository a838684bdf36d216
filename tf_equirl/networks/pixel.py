"""Pixel encoders: 85x85 stacked RGB frames down to a 7x7 latent, plain or equivariant.

The layout follows the pixel agent of Park et al. 2025 (DrQ-v2 on 85x85 RGB, 3 stacked
frames, an approximately equivariant encoder, the latent reduced to 7x7), built from the
plane layers (`tf_equirl.layers`) so that every stage keeps the grid's centre at its centre:

1. `x - 0.5` (observations are in `[0, 1]`),
2. a 5x5 stride-2 convolution, ReLU (85 -> 41),
3. a 5x5 stride-2 convolution, ReLU (41 -> 19),
4. a 3x3 stride-2 max pool (19 -> 9),
5. a 3x3 convolution, ReLU (9 -> 7),
6. the 7x7 latent flattened.

Kinds (`PIXEL_ENCODER_KINDS`):

| kind | convolutions | equivariance |
|---|---|---|
| "cnn" | `Conv2D` (DrQ-v2-like) | none |
| "gcnn" | `GroupLiftConv2D`, then `GroupConv2D` | exact |
| "relaxed" | `RelaxedGroupLiftConv2D`, `RelaxedGroupConv2D` (L = `num_kernels`) | exact at init |
| "rpp" | `ResidualGroupLiftConv2D`, `ResidualGroupConv2D` (residual pathway) | exact at init |

Output contract (`output`):
  "regular": `[B, |G|, 49 C]`, regular features (`GroupFlatten2D`: each group element's
    7x7 grid read in its own frame), `E(T_g x)[h] = E(x)[g^-1 h]`, for the vector layers
    (`GroupConv`, `GroupPool`, an equivariant actor's head). Not offered for "cnn".
  "vector": `[B, 49 C]`; for the group kinds the regular features pooled over the group axis
    (max), invariant, `E(T_g x) = E(x)`; for "cnn" the flattened latent.

Image sizes: any odd size whose grid stays centred through the four strided stages (85 -> 7,
53 -> 3, 37 -> 1); others fail with a message naming the size.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from tensorflow import keras

from tf_equirl.groups.plane import plane_group_name
from tf_equirl.layers import (
  CentredPool2D,
  GroupConv2D,
  GroupFlatten2D,
  GroupLiftConv2D,
  GroupPool,
  RelaxedGroupConv2D,
  RelaxedGroupLiftConv2D,
  ResidualGroupConv2D,
  ResidualGroupLiftConv2D,
)
from tf_equirl.networks.pixel_layout import PIXEL_ENCODER_KINDS, STAGES, latent_size
from tf_equirl.params import count_params, match_width

__all__ = [
  "PIXEL_ENCODER_KINDS",
  "PIXEL_OUTPUTS",
  "CNN_CHANNELS",
  "build_pixel_encoder",
  "latent_size",
]

PIXEL_OUTPUTS = ("regular", "vector")
CNN_CHANNELS = 32  # DrQ-v2's encoder width


def _check_int(value: Any, name: str, low: int = 1) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < low:
    raise ValueError(
      f"build_pixel_encoder: expected an integer {name} >= {low}, received {name}={value!r}."
    )
  return value


def _convolutions(kind: str, group: str, num_kernels: int) -> List[Callable[..., Any]]:
  """`(lift, conv)` constructors `(units, kernel_size, strides, name) -> layer` for `kind`."""
  relu: Dict[str, Any] = {"activation": "relu"}
  if kind == "cnn":
    conv = lambda units, k, s, name: keras.layers.Conv2D(units, k, s, name=name, **relu)  # noqa: E731
    return [conv, conv]
  if kind == "gcnn":
    return [
      lambda units, k, s, name: GroupLiftConv2D(units, group, k, s, name=name, **relu),
      lambda units, k, s, name: GroupConv2D(units, group, k, s, name=name, **relu),
    ]
  if kind == "relaxed":
    relaxed: Dict[str, Any] = dict(num_kernels=num_kernels, **relu)
    return [
      lambda units, k, s, name: RelaxedGroupLiftConv2D(units, group, k, s, name=name, **relaxed),
      lambda units, k, s, name: RelaxedGroupConv2D(units, group, k, s, name=name, **relaxed),
    ]
  return [
    lambda units, k, s, name: ResidualGroupLiftConv2D(units, group, k, s, name=name, **relu),
    lambda units, k, s, name: ResidualGroupConv2D(units, group, k, s, name=name, **relu),
  ]


def _build(kind, group, image_size, frame_stack, channels, output, num_kernels, name):
  lift, conv = _convolutions(kind, group, num_kernels)
  inputs = keras.Input(shape=(image_size, image_size, 3 * frame_stack), name="pixels")
  x = keras.layers.Rescaling(1.0, offset=-0.5, name="centre_values")(inputs)
  (k1, s1), (k2, s2), (kp, sp), (k3, s3) = STAGES
  # Named layers: the same names in every build, so per-layer reports (the relaxed spread)
  # read alike across seeds, processes and resumed runs.
  x = lift(channels, k1, s1, "conv_1")(x)
  x = conv(channels, k2, s2, "conv_2")(x)
  x = CentredPool2D(kp, sp, mode="max", name="pool")(x)
  x = conv(channels, k3, s3, "conv_3")(x)
  if kind == "cnn":
    x = keras.layers.Flatten(name="flatten")(x)
  else:
    x = GroupFlatten2D(group, name="flatten")(x)
    if output == "vector":
      x = GroupPool("max", name="group_pool")(x)
  return keras.Model(inputs, x, name=name or f"{kind}_pixel_encoder")


def build_pixel_encoder(
  plane_group: Any = "D1",
  kind: str = "gcnn",
  image_size: int = 85,
  frame_stack: int = 3,
  channels: Optional[int] = None,
  output: str = "regular",
  num_kernels: int = 2,
  name: Optional[str] = None,
) -> keras.Model:
  """A pixel encoder (module docstring: stages, kinds and the output contract).

  Args:
    plane_group: the plane group of the pictures ("C2", "C4", "D1", "D2",
      "D4", or that `FiniteGroup`); for a pixel environment, its renderer's
      (`tf_equirl.envs.render.renderer_for(env).plane_group`). Unused by "cnn" but checked.
    kind: one of `PIXEL_ENCODER_KINDS`.
    image_size: odd side of the pictures (85; see the module docstring for the others).
    frame_stack: stacked RGB frames, `3 * frame_stack` input channels.
    channels: channels per convolution (per group element for the group kinds). Default
      None: `CNN_CHANNELS` for "cnn", and for the group kinds the width whose encoder's
      parameter count is closest to the "cnn" encoder's (`tf_equirl.params.match_width`).
    output: "regular" (`[B, |G|, 49 C]`) or "vector" (`[B, 49 C]`), see the module docstring.
    num_kernels: L, kernels mixed by the "relaxed" convolutions.
    name: the model's name; default `"{kind}_pixel_encoder"`.

  Returns:
    An uncompiled functional `keras.Model` on float32 `[B, image_size, image_size, 3 *
    frame_stack]`, saved and reloaded as `.keras` in safe mode.

  Raises:
    ValueError: for an unknown kind, group or output, output="regular" with kind="cnn", a
      non-positive frame stack, channels or num_kernels, or an image size whose grid does
      not stay centred (the message names sizes that work).
  """
  group = plane_group_name(plane_group, "plane_group")
  if kind not in PIXEL_ENCODER_KINDS:
    raise ValueError(
      f"build_pixel_encoder: unknown kind={kind!r}; expected one of {PIXEL_ENCODER_KINDS}."
    )
  if output not in PIXEL_OUTPUTS:
    raise ValueError(
      f"build_pixel_encoder: output must be one of {PIXEL_OUTPUTS}, received output={output!r}."
    )
  if kind == "cnn" and output == "regular":
    raise ValueError(
      "build_pixel_encoder: kind='cnn' has no group axis, so output='regular' is not "
      "offered; use output='vector' (the flattened latent)."
    )
  _check_int(image_size, "image_size", 3)
  if latent_size(image_size) is None:
    working = [n for n in range(3, 130) if latent_size(n) is not None]
    raise ValueError(
      f"build_pixel_encoder: image_size={image_size!r} does not keep the grid centred through "
      f"the strided stages {STAGES} (kernel, stride); sizes that work: {working}."
    )
  _check_int(frame_stack, "frame_stack")
  _check_int(num_kernels, "num_kernels")
  args = (group, image_size, frame_stack)
  if channels is None:
    if kind == "cnn":
      channels = CNN_CHANNELS
    else:
      target = count_params(_build("cnn", *args, CNN_CHANNELS, "vector", 1, None))
      channels, _ = match_width(
        lambda width: _build(kind, *args, width, output, num_kernels, None),
        target,
        tolerance=0.5,
        widths=range(1, CNN_CHANNELS + 1),
      )
  _check_int(channels, "channels")
  return _build(kind, *args, channels, output, num_kernels, name)
