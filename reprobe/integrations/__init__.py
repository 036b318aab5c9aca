"""Integrations with training frameworks, each behind an optional extra.

* :mod:`reprobe.integrations.lightning` — :class:`~reprobe.integrations.lightning.TrainabilityCheck`,
  a PyTorch Lightning callback that checks the net at fit start (``pip install "reprobe[lightning]"``).

Importing a module whose framework is missing raises :class:`MissingExtra` (a :class:`ReprobeError`
and an ``ImportError``) with one line naming the extra to install.

Layer: beside :mod:`reprobe.figures` and :mod:`reprobe.report`, above :mod:`reprobe.experiments`.
"""

from ..core.errors import ReprobeError


class MissingExtra(ReprobeError, ImportError):
    """An optional dependency is not installed; the message names the extra (``pip install "reprobe[…]"``)."""
