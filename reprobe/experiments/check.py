"""Check before you train: one call that probes a net and says whether it will train.

:func:`check` fits the decoders on one part of the data and measures on inputs it holds out itself
(:func:`reprobe.probe.held_out.probe_held_out`), predicts (:func:`reprobe.analysis.predict_trainability`)
and gives back a :class:`Check`::

    import reprobe
    c = reprobe.check(model, train_loader)          # a DataLoader, Dataset, tensor or DatasetBundle
    if not c.trainable:
        print(c)                                    # "untrainable at depth 100: input information falls …"

The model comes back as it was found: train/eval mode, ``requires_grad`` and ``.grad``, device,
hooks and buffer values; and nothing of the caller's randomness is used up (global random states
and a read DataLoader's generators are restored), so training after a check is bit-for-bit the
training without it.

``check``'s verdict, its :attr:`Check.score` and the ``reconstruction`` predictor
(:func:`reprobe.predictors.score`) are one computation: score ≥ 1 exactly when the verdict is
``trainable`` (:func:`reprobe.analysis.prediction.trainability_score`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn as nn

from ..analysis import Prediction, correlation_lengths, describe_prediction, predict_trainability
from ..analysis.prediction import trainability_score
from ..predictors.reconstruction import score_of_prediction
from ..probe.state import restored
from ..probe import ProbeResult
from ..probe.held_out import SAMPLES, probe_held_out

__all__ = ["Check", "check"]


@dataclass(frozen=True)
class Check:
    """What :func:`check` found.

    Attributes:
        prediction: the full :class:`~reprobe.analysis.Prediction` (ξ̂, its error, c, the evidence).
        result: the full :class:`~reprobe.probe.ProbeResult` (per-stage curves, reconstructions …);
            its ``prediction`` and ``predictors["reconstruction"]`` are filled in.
        score: the ``reconstruction`` predictor's score: ≥ 1 exactly when ``trainable``, [0.5, 1)
            ``marginal``, below 0.5 ``untrainable``, None ``undecidable``.
        fit_inputs: inputs the decoders were fitted on.
        held_out: inputs measured (none of them seen by the fit).
        seconds: wall time of the check.
    """

    prediction: Prediction
    result: ProbeResult
    score: Optional[float]
    fit_inputs: int
    held_out: int
    seconds: float

    @property
    def verdict(self) -> str:
        """``trainable``, ``marginal``, ``untrainable`` or ``undecidable``."""
        return self.prediction.verdict

    @property
    def trainable(self) -> bool:
        """True only for the verdict ``trainable``."""
        return self.prediction.verdict == "trainable"

    @property
    def max_trainable_depth(self) -> Optional[float]:
        """The predicted deepest trainable net, in stages (None when undecidable)."""
        return self.prediction.max_trainable_depth

    @property
    def xi(self) -> Optional[float]:
        """ξ̂, stages per e-fold of the input information (None when undecidable)."""
        return self.prediction.xi

    @property
    def reason(self) -> str:
        """The evidence in words."""
        return self.prediction.reason

    def __str__(self) -> str:
        return describe_prediction(self.prediction)

    def save(self, directory, plots: bool = True) -> Path:
        """Write the result's files (``result.json`` with the prediction, the pictures) into ``directory``.

        Returns:
            The folder.
        """
        return self.result.save(directory, plots=plots)

    def figure(self):
        """The metric curves with ℓ* and the ξ̂ fit, titled with the verdict (a matplotlib Figure)."""
        return self.result.figure(title=f"{self.verdict} at depth {self.prediction.depth}"
                                  + ("" if self.xi is None else f" (ξ̂ = {self.xi:.3g})"))

    def log_to(self, writer, prefix: str = "reprobe", step: int = 0) -> None:
        """:meth:`ProbeResult.log_to <reprobe.probe.ProbeResult.log_to>` of the result."""
        self.result.log_to(writer, prefix=prefix, step=step)


def check(model: nn.Module, data: Any, *, samples: int = SAMPLES, fit_samples: Optional[int] = None,
          seed: int = 0, stages: Any = None, batch_input: Optional[Callable[[Any], torch.Tensor]] = None,
          **probe_options: Any) -> Check:
    """Probe ``model`` and predict whether it trains at its depth: fit, evaluate, predict in one call.

    The decoders are fitted on some inputs and measured on ``samples`` others
    (:func:`reprobe.probe.held_out.split_inputs`): a DatasetBundle's own train/test splits, else a
    seeded random split of the data.

    Args:
        model: the untrained network.
        data: a DataLoader, Dataset, tensor of inputs, ``(x, y)`` pair of tensors, or DatasetBundle.
            A DataLoader is read only as far as needed (``fit_samples + samples`` inputs).
        samples: held-out inputs to measure (fewer when the data is small: half of it, with a warning).
        fit_samples: at most this many inputs to fit on (default: ``ridge_samples`` if given, else 2048).
        seed: the split, the decoders' initialisation and shuffling.
        stages: the stages (module names, a type, …; default: found by the adapters), as ``CascadeProbe``.
        batch_input: how to get the model's input from one batch of a DataLoader (default: the
            batch, or its first element).
        **probe_options: more ``CascadeProbe`` options (``ridge``, ``device``, ``metrics``, ``progress`` …).

    Returns:
        A :class:`Check`.

    Raises:
        ReprobeError: bad options, data with fewer than 4 inputs, a model whose stages cannot be found.
    """
    t0 = time.perf_counter()
    with restored(model, values=False):
        result, info = probe_held_out(model, data, samples=samples, fit_samples=fit_samples, seed=seed,
                                      stages=stages, batch_input=batch_input, **probe_options)
    return _finish(result, info, time.perf_counter() - t0)


def _finish(result: ProbeResult, info: Dict[str, Any], seconds: float) -> Check:
    """Attach ξ̂, the prediction and the ``reconstruction`` score to ``result``; the :class:`Check`."""
    fits = correlation_lengths(result.metrics, [s["shape"] for s in result.stage_dicts()], result.saturation)
    result.extra["correlation_length"] = {m: f.to_dict() for m, f in fits.items()}
    pred = predict_trainability(result)
    result.prediction = pred.to_dict()
    own = score_of_prediction(pred, result.metrics)
    result.predictors = {"reconstruction": {**own.to_dict(), "name": "reconstruction"}}
    result.timings["check"] = seconds
    return Check(pred, result, trainability_score(pred), info["fit_inputs"], info["held_out"], seconds)
