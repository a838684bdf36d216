"""mkdocs hooks (`hooks:` in mkdocs.yml).

griffe checks the docstrings against the Google style while mkdocstrings renders the API
pages: a parameter without a type annotation, several parameters documented on one line
("activation, use_bias: as in keras.layers.Dense"). The library's docstrings state types in
the signatures where they help and group the Keras-standard arguments on one line, so these
style notes are logged as information; every other warning (a module that cannot be found, a
broken cross-reference, a missing page) still fails `mkdocs build --strict`.
"""

import logging
import re

_STYLE_NOTES = re.compile(r"No type or annotation for |does not appear in the function signature"
                          r"|Failed to get 'name: description' pair")


class _StyleNotesAsInfo(logging.Filter):

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno == logging.WARNING and _STYLE_NOTES.search(record.getMessage()):
      record.levelno, record.levelname = logging.INFO, "INFO"
    return True


def on_startup(command, dirty):  # pylint: disable=unused-argument
  logging.getLogger("mkdocs.plugins.griffe").addFilter(_StyleNotesAsInfo())
