"""Moved to :mod:`zerosearch.common.datasets` (the trainer and tuning use the registry too)."""

import warnings

from zerosearch.common.datasets import *  # noqa: F403
from zerosearch.common.datasets import __all__  # noqa: F401

warnings.warn(
    "zerosearch.evaluator.datasets moved to zerosearch.common.datasets", DeprecationWarning, stacklevel=2
)
