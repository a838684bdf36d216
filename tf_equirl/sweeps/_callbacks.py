"""The driver's Tune callbacks, kept out of Tune's pickled experiment state.

Tune pickles `RunConfig.callbacks` with the experiment and `Tuner.restore` brings the old
ones back, so a resumed sweep would run the callbacks of the driver that started it (one that
stopped that driver would stop the resuming one too). The sweep therefore hands Tune one
`ForwardCallbacks`, which calls whatever callbacks the current driver set with `use`.
"""

from typing import Sequence

from ray import tune

_ACTIVE: list = []


def use(callbacks: Sequence[tune.Callback]) -> None:
  _ACTIVE[:] = list(callbacks)


class ForwardCallbacks(tune.Callback):
  """Calls each hook on the callbacks of this driver (`use`)."""


def _forward(name):
  def hook(self, *args, **kwargs):
    for callback in _ACTIVE:
      getattr(callback, name)(*args, **kwargs)

  hook.__name__ = name
  return hook


for _name in [n for n in dir(tune.Callback) if n.startswith("on_") or n == "setup"]:
  setattr(ForwardCallbacks, _name, _forward(_name))
