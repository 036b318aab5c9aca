"""A PyTorch Lightning callback that checks the net before the first training step.

::

    from reprobe.integrations.lightning import TrainabilityCheck

    trainer = lightning.Trainer(max_epochs=5, callbacks=[TrainabilityCheck(abort_on="untrainable")])
    trainer.fit(model, datamodule=dm)      # raises TrainabilityCheckFailed before step 1 if untrainable

At fit start the callback runs :func:`reprobe.check` on the trainer's own training data — no loader
is passed again. Lightning builds ``trainer.train_dataloader`` only after ``on_fit_start`` (it is
None there), so the callback asks the source the fit loop will ask:

1. ``trainer.datamodule.train_dataloader()`` when the fit was given a datamodule;
2. else ``trainer.fit_loop._data_source.dataloader()`` (lightning 2.x: the loader given to
   ``trainer.fit``, or the LightningModule's own ``train_dataloader()``);
3. else ``trainer.train_dataloader`` if it is already set.

A list or dict of loaders gives its first. Only ``fit_samples + samples`` inputs are read.

What it does with the verdict:

* logs ``reprobe/score`` (≥ 1 exactly when ``trainable``, 0.5–1 ``marginal``, below 0.5
  ``untrainable``), ``reprobe/trainable`` (1/0), ``reprobe/xi`` and ``reprobe/max_trainable_depth``
  to every logger of the trainer (``log_metrics``), and to loggers with a TensorBoard writer
  (``logger.experiment.add_text``) also the curves, the reconstruction grid, the verdict and the
  config (:func:`reprobe.report.tracker.log_result`); prints the verdict line (rank zero);
* with ``abort_on="untrainable"`` (or ``"marginal"``), a verdict at or below that level raises
  :class:`TrainabilityCheckFailed` from ``on_fit_start``: ``trainer.fit`` stops before the first
  step with the reason (setting ``trainer.should_stop`` would not: Lightning's fit loop honours it
  only once ``min_epochs``/``min_steps`` are met). ``undecidable`` never aborts; it warns.

The model is given back exactly as found: train/eval mode, ``requires_grad`` and ``.grad``, device,
hooks and buffers; and the check uses up none of the run's randomness (global random states and the
loader's generators are restored), so a run that is not aborted trains bit for bit as without the
callback. Under DDP every rank runs the check (the same verdict everywhere, so all ranks abort together).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..analysis.prediction import check_gate_level, fails_gate
from ..core.errors import ReprobeError, param
from ..experiments.check import Check, check
from ..probe.held_out import SAMPLES, rng_kept
from . import MissingExtra

try:
    import lightning.pytorch as pl
except ImportError:  # pragma: no cover - exercised by a test that hides the package
    raise MissingExtra('the Lightning callback needs lightning: pip install "reprobe[lightning]"') from None

__all__ = ["TrainabilityCheck", "TrainabilityCheckFailed", "train_data"]


class TrainabilityCheckFailed(ReprobeError):
    """Raised by :class:`TrainabilityCheck` at fit start when the verdict is at or below ``abort_on``.

    Attributes:
        check: the :class:`~reprobe.experiments.check.Check` that failed.
    """

    def __init__(self, message: str, found: Check):
        super().__init__(message)
        self.check = found


class TrainabilityCheck(pl.Callback):
    """Check the net at fit start; log the verdict; optionally stop before the first step.

    Args:
        abort_on: ``None``/``"none"`` (never abort), ``"untrainable"`` or ``"marginal"``: raise
            :class:`TrainabilityCheckFailed` when the verdict is at or below it.
        samples: held-out inputs to measure.
        fit_samples: at most this many inputs to fit the decoders on (default: 2048).
        module: what to probe: None (the LightningModule itself: ``pl_module(x)`` must run the net),
            a submodule name (``"net"``) or a function of the LightningModule returning a module.
        batch_input: the model input of one training batch (default: the batch, or its first element;
            dict batches need one, e.g. ``lambda b: b["x"]``).
        log_details: also send curves, reconstructions and text to loggers with a TensorBoard writer.
        seed: the split's and the decoders' seed.
        **probe_options: more :func:`reprobe.check` / ``CascadeProbe`` options (``stages``, ``ridge`` …);
            ``device`` defaults to the model's own.

    Attributes:
        result: the :class:`~reprobe.experiments.check.Check` of the last fit (None before).
    """

    def __init__(self, abort_on: Optional[str] = None, *, samples: int = SAMPLES, fit_samples: Optional[int] = None,
                 module: Union[None, str, Callable[[Any], nn.Module]] = None,
                 batch_input: Optional[Callable[[Any], torch.Tensor]] = None, log_details: bool = True,
                 seed: int = 0, **probe_options: Any):
        self.abort_on = check_gate_level("none" if abort_on is None else abort_on, "abort_on")
        self.samples, self.fit_samples, self.module, self.batch_input = samples, fit_samples, module, batch_input
        self.log_details, self.seed, self.probe_options = log_details, seed, probe_options
        self.result: Optional[Check] = None

    def on_fit_start(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        """Run the check, log it, and raise :class:`TrainabilityCheckFailed` if it fails ``abort_on``."""
        net = self._net(pl_module)
        options = dict(self.probe_options)
        options.setdefault("device", str(_device(net)))
        with rng_kept():  # the datamodule's train_dataloader() may draw random numbers too
            data = train_data(trainer)
            self.result = check(net, data, samples=self.samples, fit_samples=self.fit_samples, seed=self.seed,
                                batch_input=self.batch_input, **options)
        self._report(trainer, self.result)
        if self.result.verdict == "undecidable" and self.abort_on != "none":
            from lightning.pytorch.utilities import rank_zero_warn

            rank_zero_warn(f"reprobe: the verdict is undecidable, so abort_on={self.abort_on!r} cannot apply; "
                           "training goes on")
        if fails_gate(self.result.verdict, self.abort_on):
            raise TrainabilityCheckFailed(f"stopped before the first step (abort_on={self.abort_on!r}): {self.result}",
                                          self.result)

    def _net(self, pl_module: nn.Module) -> nn.Module:
        if self.module is None:
            return pl_module
        if isinstance(self.module, str):
            try:
                return pl_module.get_submodule(self.module)
            except AttributeError:
                raise ReprobeError(f"{param('module')}: the LightningModule has no submodule {self.module!r}") from None
        net = self.module(pl_module)
        if not isinstance(net, nn.Module):
            raise ReprobeError(f"{param('module')} must return an nn.Module, got {type(net).__name__}")
        return net

    def _report(self, trainer: "pl.Trainer", found: Check) -> None:
        """Print the verdict line and log the numbers (and, where possible, the details) to every logger."""
        from lightning.pytorch.utilities import rank_zero_info

        rank_zero_info(f"reprobe: {found}")
        numbers = _numbers(found)
        for logger in trainer.loggers:
            logger.log_metrics(numbers, step=trainer.global_step)
            writer = getattr(logger, "experiment", None)
            if self.log_details and writer is not None and hasattr(writer, "add_text") and hasattr(writer, "add_image"):
                found.log_to(writer, step=trainer.global_step)


def _numbers(found: Check) -> Dict[str, float]:
    values = {"reprobe/score": found.score, "reprobe/trainable": float(found.trainable), "reprobe/xi": found.xi,
              "reprobe/max_trainable_depth": found.max_trainable_depth}
    return {k: float(v) for k, v in values.items() if v is not None}


def _device(net: nn.Module) -> torch.device:
    first = next(net.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def train_data(trainer: "pl.Trainer") -> Any:
    """The training data the fit will use, as available at fit start (see the module docstring).

    Raises:
        ReprobeError: the trainer has no training data.
    """
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is not None:
        return _first_loader(datamodule.train_dataloader())
    source = getattr(getattr(trainer, "fit_loop", None), "_data_source", None)
    if source is not None and getattr(source, "instance", None) is not None and source.is_defined():
        return _first_loader(source.dataloader())
    if getattr(trainer, "train_dataloader", None) is not None:
        return _first_loader(trainer.train_dataloader)
    raise ReprobeError("the trainer has no training data to check the net on; give trainer.fit a train loader, "
                       "a datamodule, or a LightningModule with train_dataloader()")


def _first_loader(loaders: Any) -> Any:
    """The first of a list, tuple or dict of loaders; a single loader as it is."""
    if isinstance(loaders, Mapping) and loaders:
        return next(iter(loaders.values()))
    if isinstance(loaders, Sequence) and not isinstance(loaders, (str, bytes)) and loaders \
            and not isinstance(loaders[0], torch.Tensor):
        return loaders[0]
    return loaders
