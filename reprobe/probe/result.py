"""ProbeResult: what a probe measured, with ``save``/``load``.

``result.save(dir)`` writes (each file atomically: a crash never leaves a half-written file):

* ``result.json`` — schema ``reprobe.result/1``::

    {
      "schema": "reprobe.result/1",
      "depth": L,
      "input_shape": [1, 28, 28],
      "stages": [{"index": 1, "name": "2", "type": "Tanh", "shape": [784],
                  "channels": null, "reduction": null, "decoder": "linear"}, ...],
      "metrics": {"relative_entropy": [v1, ..., vL], "differential_entropy": [...], "mse": [...]},
      "cutoffs": {"relative_entropy": l_star, ...},        # by the detector in "cutoff_detector"
      "cutoff_detector": "threshold",
      "cutoffs_by_detector": {"threshold": {...}, "plateau": {...}},
      "decoder_mse": [...],     # per stage: one decoder's MSE on its own target, held-out data
      "saturation": {"relative_entropy": v, ...},  # each metric of the inputs against their mean:
                                # the level a curve reaches once every input reconstructs alike
      "stage_scale": [q1, ..., qL],  # per stage: mean square of its activations
      "nonfinite": {"stage name": {"activations": n, "reconstructions": n}},
      "samples": 100, "config": {...}, "timings": {"fit": s, "evaluate": s},
      "fit": {..., "least_determined": {"stage": name, "rows": n, "features": d}},
      "model": {...}, "data": {...}, "warnings": [...], "extra": {...},
      "prediction": {"metric": ..., "xi": ..., "xi_err": ..., "max_trainable_depth": ..., "depth": L,
                     "verdict": "trainable|marginal|untrainable|undecidable", "reason": "...",
                     "failed": [checks of reprobe.analysis.verdict that failed], ...}
    }

  Metric values are in stage order (stage 1 first); ``null`` marks a value that is not finite.
  :meth:`ProbeResult.load` refuses a file whose parts disagree (per-stage lengths, non-finite values,
  ℓ* outside 1 … L, a ``depth`` that is not the number of stages, reconstructions of another shape)
  in one line naming the file and the field.
  Cutoffs are 1-based stage indices (ℓ* = L: no saturation), ``null`` when undecidable.
* ``reconstructions.npy`` — float32 array (L + 1, k, *input_shape): index 0 the inputs, ℓ the
  reconstructions from stage ℓ, for the first k held-out inputs.
* ``entropy.png`` and ``reconstructions.png`` — the pictures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..core.errors import ReprobeError
from ..core.io import atomic_write, json_safe, nan_array, write_json
from ..metrics import RANK_METRIC
from .stages import StageInfo

SCHEMA = "reprobe.result/1"


#: What the probe layer cannot do itself (it imports neither figures nor trackers), set by
#: :mod:`reprobe` on import: ``plots`` draws a result's pictures into a folder (``save(plots=True)``;
#: :func:`reprobe.figures.run.save_plots`), ``figure`` makes its matplotlib figure (:meth:`ProbeResult.figure`),
#: ``log`` sends it to a TensorBoard-style writer (:meth:`ProbeResult.log_to`; :func:`reprobe.report.tracker.log_result`).
_hooks: Dict[str, Callable[..., Any]] = {}


def set_plot_writer(writer: Optional[Callable[["ProbeResult", Path], Any]]) -> None:
    """Set the function ``ProbeResult.save(folder, plots=True)`` calls as ``writer(result, folder)``."""
    set_result_hook("plots", writer)


def set_result_hook(name: str, fn: Optional[Callable[..., Any]]) -> None:
    """Set (or with None clear) the hook ``name`` (``plots``, ``figure`` or ``log``; see :data:`_hooks`)."""
    if fn is None:
        _hooks.pop(name, None)
    else:
        _hooks[name] = fn


def _hook(name: str, what: str) -> Callable[..., Any]:
    fn = _hooks.get(name)
    if fn is None:
        raise ReprobeError(f"{what} needs the full package: import reprobe (it sets the {name!r} hook)")
    return fn


@dataclass
class ProbeResult:
    """Per-stage reconstruction measurements of one probed network.

    Attributes:
        stages: :class:`~reprobe.probe.stages.StageInfo` per stage, before a save and after a ``load``
            (dicts given to the constructor become StageInfo).
        input_shape: shape of one input.
        metrics: metric name → per-stage values (None = not finite).
        cutoffs: metric name → ℓ* from ``cutoff_detector``.
        cutoffs_by_detector: detector → metric → ℓ*.
        reconstructions: tensor (L + 1, k, *input_shape); index 0 holds the inputs.
        decoder_mse: per-stage single-decoder MSE on held-out data (decoder quality).
        saturation: metric name → the metric of the inputs against their mean (None where not finite):
            the level a curve saturates at once every input reconstructs to the same image; ξ̂ is
            fitted with its asymptote fixed there (:func:`reprobe.analysis.correlation.fit_saturation`).
        stage_scale: per stage, the mean square of its finite activations over the evaluated inputs
            (empty for results saved before it was recorded): a signal that only grows keeps its
            information but not its trainability (:mod:`reprobe.analysis.growth`).
        nonfinite: stage name → counts of non-finite activations/reconstructions.
        timings, config, fit, model, data, warnings: run details.
        prediction: the trainability prediction (``reprobe.predict_trainability(result).to_dict()``),
            set by runs and sweeps; written to ``result.json`` as ``prediction`` when present.
        predictors: other trainability predictors' scores (name → score, direction, per_stage,
            depth_scale, applicable, reason), set by runs given ``predictors``.
    """

    stages: List[StageInfo]
    input_shape: Tuple[int, ...]
    metrics: Dict[str, List[Optional[float]]]
    cutoffs: Dict[str, Optional[int]]
    cutoffs_by_detector: Dict[str, Dict[str, Optional[int]]] = field(default_factory=dict)
    cutoff_detector: str = "threshold"
    decoder_mse: List[Optional[float]] = field(default_factory=list)
    nonfinite: Dict[str, Dict[str, int]] = field(default_factory=dict)
    saturation: Dict[str, Optional[float]] = field(default_factory=dict)
    stage_scale: List[Optional[float]] = field(default_factory=list)
    reconstructions: Optional[torch.Tensor] = None
    timings: Dict[str, float] = field(default_factory=dict)
    config: Dict[str, Any] = field(default_factory=dict)
    fit: Dict[str, Any] = field(default_factory=dict)
    model: Dict[str, Any] = field(default_factory=dict)
    data: Dict[str, Any] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    samples: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)
    prediction: Optional[Dict[str, Any]] = None
    predictors: Optional[Dict[str, Dict[str, Any]]] = None

    def __post_init__(self) -> None:
        self.stages = [s if isinstance(s, StageInfo) else StageInfo.from_dict(s) for s in self.stages]

    @property
    def depth(self) -> int:
        """L, the number of stages."""
        return len(self.stages)

    def stage_dicts(self) -> List[dict]:
        """The stages as ``result.json`` writes them."""
        return [s.to_dict() for s in self.stages]

    def cutoff(self, metric: str = RANK_METRIC, detector: Optional[str] = None) -> Optional[int]:
        """ℓ* for ``metric`` (by the probe's detector, or ``detector``)."""
        table = self.cutoffs if detector is None else self.cutoffs_by_detector.get(detector)
        if table is None:
            raise ReprobeError(f"no cutoffs by detector {detector!r}; have: {', '.join(self.cutoffs_by_detector)}")
        if metric not in table:
            raise ReprobeError(f"metric {metric!r} was not measured; measured: {', '.join(table)}")
        return table[metric]

    def values(self, metric: str) -> np.ndarray:
        """Per-stage values of ``metric`` as a float array (NaN where not finite)."""
        if metric not in self.metrics:
            raise ReprobeError(f"metric {metric!r} was not measured; measured: {', '.join(self.metrics)}")
        return nan_array(self.metrics[metric])

    def final(self, metric: str) -> Optional[float]:
        """The value at the last stage."""
        v = self.metrics[metric][-1] if self.metrics.get(metric) else None
        return v

    def to_dict(self) -> dict:
        extra = {} if self.prediction is None else {"prediction": self.prediction}
        if self.predictors:
            extra["predictors"] = self.predictors
        return json_safe({
            "schema": SCHEMA,
            "depth": self.depth,
            "input_shape": list(self.input_shape),
            "stages": self.stage_dicts(),
            "metrics": self.metrics,
            "cutoffs": self.cutoffs,
            "cutoff_detector": self.cutoff_detector,
            "cutoffs_by_detector": self.cutoffs_by_detector,
            "decoder_mse": self.decoder_mse,
            "nonfinite": self.nonfinite,
            "saturation": self.saturation,
            "stage_scale": self.stage_scale,
            "samples": self.samples,
            "config": self.config,
            "timings": self.timings,
            "fit": self.fit,
            "model": self.model,
            "data": self.data,
            "warnings": self.warnings,
            "extra": self.extra,
            **extra,
        })

    def save(self, directory, plots: bool = True) -> Path:
        """Write ``result.json``, ``reconstructions.npy``, ``entropy.png``, ``reconstructions.png``.

        Returns:
            The folder.
        """
        d = Path(directory)
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ReprobeError(f"cannot create output folder {d}: {e.strerror}") from None
        write_json(d / "result.json", self.to_dict())
        if self.reconstructions is not None:
            arr = self.reconstructions.detach().cpu().float().numpy()

            def w(tmp):
                with open(tmp, "wb") as f:
                    np.save(f, arr)

            atomic_write(d / "reconstructions.npy", w)
        if plots and "plots" in _hooks:
            _hooks["plots"](self, d)
        return d

    def figure(self, title: Optional[str] = None):
        """A matplotlib figure: each metric against the stage, with ℓ* and the fit that gives ξ̂.

        Args:
            title: the figure's title (default: "Reconstruction entropy vs depth (L = …)").

        Returns:
            A ``matplotlib.figure.Figure`` (``fig.savefig(path)`` writes it).
        """
        return _hook("figure", "ProbeResult.figure")(self, title=title)

    def log_to(self, writer, prefix: str = "reprobe", step: int = 0) -> None:
        """Send the result to a TensorBoard ``SummaryWriter`` (or anything with its ``add_scalar``,
        ``add_image`` and ``add_text``): per-stage curves with the stage as the step, the reconstruction
        grid as an image, the verdict and the config as text (:func:`reprobe.report.tracker.log_result`).

        Args:
            writer: e.g. ``torch.utils.tensorboard.SummaryWriter(logdir)`` (needs ``pip install "reprobe[tensorboard]"``).
            prefix: the tag prefix (``prefix/relative_entropy``, …).
            step: the step of the one-off values (ξ̂, the predicted depth, the text).
        """
        _hook("log", "ProbeResult.log_to")(self, writer, prefix=prefix, step=step)

    @classmethod
    def load(cls, directory) -> "ProbeResult":
        """Read a folder written by :meth:`save` (clear error if missing or corrupt)."""
        d = Path(directory)
        path = d / "result.json"
        if not path.is_file():
            raise ReprobeError(f"{d} is not a reprobe run folder (no result.json)")
        try:
            obj = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ReprobeError(f"{path} is corrupt ({e}); re-run the probe") from None
        if not isinstance(obj, dict) or obj.get("schema") != SCHEMA or "metrics" not in obj or "stages" not in obj:
            raise ReprobeError(f"{path} is not a reprobe result (schema {SCHEMA} expected)")
        check_result_fields(obj, str(path))
        recon = None
        npy = d / "reconstructions.npy"
        if npy.is_file():
            try:
                recon = torch.from_numpy(np.load(npy))
            except Exception:
                raise ReprobeError(f"{npy} is corrupt; re-run the probe") from None
            _check_reconstructions(recon, obj, npy)
        return cls(
            stages=obj["stages"],
            input_shape=tuple(obj.get("input_shape") or ()),
            metrics=obj["metrics"],
            cutoffs=obj.get("cutoffs", {}),
            cutoffs_by_detector=obj.get("cutoffs_by_detector", {}),
            cutoff_detector=obj.get("cutoff_detector", "threshold"),
            decoder_mse=obj.get("decoder_mse", []),
            nonfinite=obj.get("nonfinite", {}),
            saturation=obj.get("saturation", {}),
            stage_scale=obj.get("stage_scale", []),
            reconstructions=recon,
            timings=obj.get("timings", {}),
            config=obj.get("config", {}),
            fit=obj.get("fit", {}),
            model=obj.get("model", {}),
            data=obj.get("data", {}),
            warnings=obj.get("warnings", []),
            samples=obj.get("samples", 0),
            extra=obj.get("extra", {}),
            prediction=obj.get("prediction"),
            predictors=obj.get("predictors"),
        )


# -- read-side checks: a result that contradicts itself is refused, naming the file and the field ----
def _refuse(where: str, field_name: str, problem: str) -> ReprobeError:
    return ReprobeError(f"{where}: field {field_name} {problem}; re-run the probe (or restore the file)")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_curve(values: Any, depth: int, where: str, field_name: str, allow_empty: bool = False) -> None:
    """A per-stage list of ``depth`` finite numbers or nulls (nulls mark non-finite values)."""
    if not isinstance(values, list):
        raise _refuse(where, field_name, f"is {type(values).__name__}, not a list of per-stage values")
    if allow_empty and not values:
        return
    if len(values) != depth:
        raise _refuse(where, field_name, f"has {len(values)} values for {depth} stages")
    for i, v in enumerate(values):
        if v is None:
            continue
        if not _is_number(v) or not np.isfinite(v):
            raise _refuse(where, f"{field_name}[{i}]", f"is {v!r}, not a finite number (non-finite values are "
                                                      "written as null)")


def check_cutoffs(cutoffs: Any, depth: int, where: str, field_name: str = "cutoffs") -> None:
    """metric → ℓ* in 1 … L, or null."""
    if not isinstance(cutoffs, dict):
        raise _refuse(where, field_name, f"is {type(cutoffs).__name__}, not an object of metric → ℓ*")
    for m, c in cutoffs.items():
        if c is not None and (not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= depth):
            raise _refuse(where, f"{field_name}.{m}", f"is {c!r}, not a stage in 1…{depth} or null")


def check_result_fields(obj: Dict[str, Any], where: str) -> None:
    """Refuse a ``result.json`` object whose parts disagree: stages, per-stage lengths, finite values,
    cutoffs within the stages, a prediction with a verdict (one line naming ``where`` and the field)."""
    stages = obj["stages"]
    if not isinstance(stages, list) or not all(isinstance(s, dict) and isinstance(s.get("shape"), list) for s in stages):
        raise _refuse(where, "stages", "is not a list of stages with a shape each")
    depth = len(stages)
    if obj.get("depth", depth) != depth:
        raise _refuse(where, "depth", f"is {obj.get('depth')!r} but {depth} stages are listed")
    if not isinstance(obj["metrics"], dict):
        raise _refuse(where, "metrics", "is not an object of metric → per-stage values")
    for m, values in obj["metrics"].items():
        check_curve(values, depth, where, f"metrics.{m}")
    check_curve(obj.get("decoder_mse", []), depth, where, "decoder_mse", allow_empty=True)
    check_cutoffs(obj.get("cutoffs", {}), depth, where)
    for m, v in (obj.get("saturation") or {}).items():
        if v is not None and (not _is_number(v) or not np.isfinite(v)):
            raise _refuse(where, f"saturation.{m}", f"is {v!r}, not a finite number or null")
    pred = obj.get("prediction")
    if pred is not None and (not isinstance(pred, dict) or not isinstance(pred.get("verdict"), str)):
        raise _refuse(where, "prediction", "has no verdict")


def _check_reconstructions(recon: torch.Tensor, obj: Dict[str, Any], npy: Path) -> None:
    """reconstructions.npy holds (L + 1, k, *input_shape)."""
    depth, shape = len(obj["stages"]), tuple(obj.get("input_shape") or ())
    if recon.dim() < 2 or recon.shape[0] != depth + 1 or (shape and tuple(recon.shape[2:]) != shape):
        raise ReprobeError(f"{npy}: shape {tuple(recon.shape)} does not hold the inputs and {depth} stages of "
                           f"inputs shaped {shape} (expected ({depth + 1}, k, {', '.join(map(str, shape))})); "
                           "re-run the probe (or restore the file)")
