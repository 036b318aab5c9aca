"""Send probe results to an experiment tracker: TensorBoard (and W&B through it).

:func:`log_result` writes one result to a TensorBoard ``SummaryWriter`` (or anything with its
``add_scalar``/``add_image``/``add_text`` methods):

* ``<prefix>/<metric>``: each per-stage curve as scalars, **the stage ℓ as the step** (1 … L), and
  ``<prefix>/decoder_mse`` likewise;
* ``<prefix>/xi``, ``<prefix>/max_trainable_depth``, ``<prefix>/score`` (≥ 1 exactly when
  ``trainable``), ``<prefix>/depth``: the prediction's numbers, at ``step``;
* ``<prefix>/reconstructions``: the reconstruction grid as an image (rows: held-out inputs;
  columns: the input, then its reconstruction from evenly spaced stages);
* ``<prefix>/verdict`` and ``<prefix>/config``: the verdict line and the probe's settings as text.

:func:`log_sweep` writes a sweep's points as TensorBoard hparams (σ_w², σ_b², depth, width → ξ̂,
predicted depth, score, ℓ*), one run per point, each with its curves. W&B shows the same files:
``wandb.init(sync_tensorboard=True)`` before logging (or ``wandb.tensorboard.patch(root_logdir=DIR)``).

TensorBoard is optional: :func:`summary_writer` says ``pip install "reprobe[tensorboard]"`` when it
is missing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from ..analysis import Prediction, predict_trainability
from ..analysis.prediction import describe_prediction, trainability_score
from ..analysis.records import as_point
from ..core.errors import ReprobeError

__all__ = ["INSTALL", "require_tensorboard", "summary_writer", "log_result", "log_curves", "reconstruction_image", "log_sweep"]

#: What to install for TensorBoard logging.
INSTALL = 'pip install "reprobe[tensorboard]"'


def summary_writer(logdir) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter`` writing into ``logdir``.

    Raises:
        ReprobeError: TensorBoard is not installed (one line naming the extra), or ``logdir`` cannot
            be created.
    """
    require_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    try:
        Path(logdir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReprobeError(f"cannot create the TensorBoard folder {logdir}: {e.strerror}") from None
    return SummaryWriter(log_dir=str(logdir))


def log_curves(metrics: Mapping[str, Sequence[Optional[float]]], writer: Any, prefix: str = "reprobe") -> int:
    """Each per-stage curve as scalars ``<prefix>/<metric>`` with the stage (1 … L) as the step;
    values that are missing or not finite are left out.

    Returns:
        How many scalars were written.
    """
    n = 0
    for name, values in metrics.items():
        for stage, v in enumerate(values or (), start=1):
            if v is not None and math.isfinite(float(v)):
                writer.add_scalar(f"{prefix}/{name}", float(v), global_step=stage)
                n += 1
    return n


def _prediction(result) -> Prediction:
    """The result's recorded prediction when complete, else one computed now."""
    if result.prediction and set(result.prediction) == set(Prediction.__dataclass_fields__):
        return Prediction(**result.prediction)
    return predict_trainability(result)


def _prediction_scalars(pred: Prediction) -> Dict[str, float]:
    values = {"xi": pred.xi, "max_trainable_depth": pred.max_trainable_depth, "score": trainability_score(pred),
              "depth": float(pred.depth)}
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def log_result(result, writer: Any, prefix: str = "reprobe", step: int = 0) -> None:
    """Write a probe result to a TensorBoard-style writer (see the module docstring for the tags).

    Args:
        result: a :class:`~reprobe.probe.ProbeResult`.
        writer: a ``SummaryWriter`` (:func:`summary_writer`) or an object with its methods.
        prefix: the tag prefix.
        step: the step of the one-off values (prediction numbers, image, text).
    """
    log_curves({**result.metrics, "decoder_mse": result.decoder_mse}, writer, prefix)
    pred = _prediction(result)
    for name, v in _prediction_scalars(pred).items():
        writer.add_scalar(f"{prefix}/{name}", v, global_step=step)
    if result.reconstructions is not None:
        writer.add_image(f"{prefix}/reconstructions", reconstruction_image(result.reconstructions.detach().cpu().float().numpy()),
                         global_step=step, dataformats="HWC")
    writer.add_text(f"{prefix}/verdict", describe_prediction(pred), global_step=step)
    config = {"config": result.config, "model": result.model, "data": result.data}
    writer.add_text(f"{prefix}/config", "```\n" + json.dumps(config, indent=2, default=str) + "\n```", global_step=step)
    if hasattr(writer, "flush"):
        writer.flush()


def reconstruction_image(recon: np.ndarray, examples: int = 6, max_columns: int = 10, gap: int = 1,
                         min_tile: int = 32) -> np.ndarray:
    """The reconstruction grid as one RGB image (H, W, 3) in [0, 1]: a row per held-out input, the
    input first, then its reconstructions from evenly spaced stages; scaled by the inputs' range.

    Args:
        recon: array (L + 1, N, *input_shape); index 0 holds the inputs.
        examples: rows at most.
        max_columns: stages at most.
        gap: pixels between tiles (white).
        min_tile: small inputs are enlarged (each pixel repeated) to at least this many pixels high.
    """
    from ..figures.run import as_image, pick_columns

    columns = [0] + pick_columns(recon.shape[0] - 1, max_columns)
    rows = min(examples, recon.shape[1])
    tiles = [[_enlarge(_rgb(as_image(recon[c, r])), min_tile) for c in columns] for r in range(rows)]
    inputs = recon[0, :rows]
    finite = inputs[np.isfinite(inputs)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    h, w = tiles[0][0].shape[:2]
    grid = np.ones((rows * (h + gap) - gap, len(columns) * (w + gap) - gap, 3), dtype=np.float32)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            scaled = np.clip((np.nan_to_num(tile, nan=lo) - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(tile)
            grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = scaled
    return grid


def _enlarge(img: np.ndarray, min_tile: int) -> np.ndarray:
    k = max(1, -(-min_tile // img.shape[0]))
    return img if k == 1 else np.repeat(np.repeat(img, k, axis=0), k, axis=1)


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img


def _hparams(p) -> Dict[str, Any]:
    out = {k: getattr(p, k) for k in ("sigma_w2", "sigma_b2", "depth", "width", "seed")}
    return {k: v for k, v in out.items() if v is not None}


def _as_prediction(d: Optional[Mapping[str, Any]]) -> Optional[Prediction]:
    """The :class:`Prediction` a record holds (None without one, or one this version cannot read)."""
    fields = Prediction.__dataclass_fields__
    try:
        return Prediction(**{k: v for k, v in d.items() if k in fields}) if d else None
    except TypeError:
        return None


def _point_metrics(p) -> Dict[str, float]:
    pred = _as_prediction(p.prediction)
    out = _prediction_scalars(pred) if pred is not None else {}
    out.pop("depth", None)
    for m, c in (p.cutoffs or {}).items():
        if c is not None:
            out[f"cutoff_{m}"] = float(c)
    return {f"hparam/{k}": v for k, v in out.items()}


def log_sweep(points: Iterable[Any], logdir, prefix: str = "reprobe") -> int:
    """Write a sweep's probed points to ``logdir`` as TensorBoard hparams: one run per point (named
    by σ_w², σ_b², depth, width), its grid values as hparams, ξ̂, the predicted depth, the score and
    each ℓ* as ``hparam/…`` metrics, and its per-stage curves (:func:`log_curves`).

    Args:
        points: records of ``points.jsonl`` (dicts or :class:`~reprobe.analysis.records.SweepPoint`).
        logdir: the TensorBoard folder.
        prefix: the curves' tag prefix.

    Returns:
        How many points were written (unprobed records are skipped).
    """
    n = 0
    for rec in points:
        p = as_point(rec)
        if not p.probed:
            continue
        name = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in _hparams(p).items())
        writer = summary_writer(Path(logdir) / name)
        try:
            writer.add_hparams(_hparams(p), _point_metrics(p), run_name=".")
            log_curves(p.metrics, writer, prefix)
        finally:
            writer.close()
        n += 1
    return n


def require_tensorboard() -> None:
    """Raise the one-line :class:`ReprobeError` naming the extra when TensorBoard is not installed."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ReprobeError(f"TensorBoard logging needs the tensorboard package: {INSTALL}") from None
