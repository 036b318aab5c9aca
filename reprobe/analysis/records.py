"""Typed records: a sweep point (a line of ``points.jsonl`` / ``trained.jsonl``) and a compared
model (an entry of a comparison's ``summary.json``).

Both are frozen dataclasses read from the JSON objects the files hold and written back to exactly
those objects: ``Record.from_dict(d).to_dict() == d``, with the keys in their order. Older records
that lack a field load with it empty (None, ``{}`` or ``[]``) and write back without it; keys this
module does not know, and values of the wrong JSON type (``"cutoffs": null``), are kept verbatim for
the round trip while the typed field reads empty. The file formats do not change.

The accessors answer the questions the analysis asks of a record without digging into dicts::

    p = SweepPoint.from_dict(line)
    p.cutoff("relative_entropy"), p.final("differential_entropy"), p.predictor_score("grad_norm")

Layer: analysis (pure, no files). The stores (:mod:`reprobe.experiments.store`) keep handing out
the dicts; functions that take records accept either form (:func:`as_point`, :func:`as_entry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..core.io import finite_or_none

__all__ = ["KEY_FIELDS", "point_key", "SweepPoint", "CompareEntry", "as_point", "as_points", "as_entry"]

#: The fields that name a grid point.
KEY_FIELDS = ("sigma_w2", "sigma_b2", "depth", "width", "seed")


def point_key(p: Union[Mapping[str, Any], "SweepPoint"]) -> Tuple:
    """Identity of a grid point: (σ_w², σ_b², depth, width, seed), floats rounded to 6 decimals.

    Args:
        p: a record (dict or :class:`SweepPoint`) or a task holding the key fields.

    Returns:
        The key tuple (None for a missing field).
    """
    def r(v):
        return None if v is None else (round(float(v), 6) if isinstance(v, float) else v)

    get = p.get if isinstance(p, Mapping) else (lambda k: getattr(p, k))
    return tuple(r(get(k)) for k in KEY_FIELDS)


def _copy(v: Any) -> Any:
    """A copy of a JSON value (dicts and lists copied all the way down)."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


#: What a typed field holds: its JSON type and the empty value it reads as when missing.
_DICT, _LIST, _ANY = "dict", "list", "any"


def _fits(kind: str, v: Any) -> bool:
    return (kind == _DICT and isinstance(v, dict)) or (kind == _LIST and isinstance(v, list)) or kind == _ANY


def _empty(kind: str) -> Any:
    return {} if kind == _DICT else [] if kind == _LIST else None


class _Record:
    """The JSON round trip shared by the records. A subclass lists ``_KINDS`` (field → kind) and
    ``_RENAMED`` (JSON key → field name where they differ)."""

    _KINDS: Dict[str, str] = {}
    _RENAMED: Dict[str, str] = {}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        """The record of the JSON object ``d`` (copied; missing fields read empty).

        Args:
            d: a JSON object as the file holds it.

        Returns:
            The record; ``to_dict()`` gives ``d`` back.
        """
        kw: Dict[str, Any] = {}
        extra: Dict[str, Any] = {}
        for key, value in d.items():
            name = cls._RENAMED.get(key, key)
            kind = cls._KINDS.get(name)
            if kind is None:
                extra[key] = _copy(value)
            elif _fits(kind, value):
                kw[name] = _copy(value)
            else:  # null or a wrong type: read empty, written back as it was
                kw[name] = _empty(kind)
                extra[key] = _copy(value)
        return cls(**kw, extra=extra, keys=tuple(d))

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object of this record: exactly what :meth:`from_dict` read (a new copy).

        Returns:
            A dict; a record built directly (not from a dict) gives every field that is set.
        """
        back = {v: k for k, v in self._RENAMED.items()}
        keys = self.keys or tuple(back.get(f.name, f.name) for f in fields(self)
                                  if f.name in self._KINDS and getattr(self, f.name) not in (None, {}, []))
        out = {}
        for key in keys:
            if key in self.extra:
                out[key] = _copy(self.extra[key])
            else:
                out[key] = _copy(getattr(self, self._RENAMED.get(key, key)))
        return out

    def json_value(self, key: str) -> Any:
        """The JSON key's value exactly as loaded (None when absent; a null stays None where the
        typed field reads empty). For writing a field back out; read through the typed fields."""
        if key in self.extra:
            return self.extra[key]
        name = self._RENAMED.get(key, key)
        return getattr(self, name) if name in self._KINDS and (not self.keys or key in self.keys) else None

    def has(self, key: str) -> bool:
        """Does the record hold the JSON key ``key`` (an older record may not)?"""
        return key in self.keys if self.keys else self.json_value(key) not in (None, {}, [])

    def cutoff(self, metric: str) -> Optional[int]:
        """ℓ* of ``metric`` (None: undecidable or not probed)."""
        c = self.cutoffs.get(metric)
        return c if isinstance(c, (int, float)) and not isinstance(c, bool) else None

    @property
    def verdict(self) -> Optional[str]:
        """The prediction's verdict (None without a prediction)."""
        return self.prediction.get("verdict")

    @property
    def predicted_depth(self) -> Optional[float]:
        """The prediction's deepest trainable net in stages, when finite."""
        return finite_or_none(self.prediction.get("max_trainable_depth"))

    def predictor_score(self, name: str) -> Optional[Any]:
        """The score of predictor ``name`` (None where it was not run)."""
        d = self.predictors.get(name)
        return d.get("score") if isinstance(d, dict) else None


@dataclass(frozen=True, eq=True)
class SweepPoint(_Record):
    """One finished grid point: a probed net (``points.jsonl``) or a trained one (``trained.jsonl``).

    Attributes:
        sigma_w2, sigma_b2, depth, width, seed: the point (None where an old record lacks one).
        model: the model name.
        settings: the options the point was made with (model, data, probe, train).
        stages: the number of probed stages.
        stage_shapes: each stage's output shape.
        metrics: metric name → per-stage values (None where not finite).
        saturation: metric name → the level a curve saturates at (the inputs against their mean;
            empty in records made before it was measured).
        stage_scale: per stage, the mean square of its activations (empty in older records).
        activations: the kinds of activation modules of the net (``["relu"]``; empty in older records).
        cutoffs: metric name → ℓ* (None: undecidable).
        cutoff_detector: the detector that chose ``cutoffs``.
        cutoffs_by_detector: detector → metric → ℓ*.
        decoder_mse: per-stage decoder error.
        warnings: the probe's warnings.
        prediction: the trainability prediction (``Prediction.to_dict()``).
        predictors: predictor name → {score, direction, values, ...}.
        accuracy: test accuracy of the trained net.
        training: the training's record (losses, steps, ...).
        timings: seconds per phase.
        extra: keys this module does not know, and values of a wrong type, as loaded.
        keys: the JSON keys in the order they were loaded (empty for a record built directly).
    """

    sigma_w2: Optional[float] = None
    sigma_b2: Optional[float] = None
    depth: Optional[int] = None
    width: Optional[int] = None
    seed: Optional[int] = None
    model: Optional[str] = None
    settings: Dict[str, Any] = field(default_factory=dict)
    stages: Optional[int] = None
    stage_shapes: List[List[int]] = field(default_factory=list)
    metrics: Dict[str, List[Optional[float]]] = field(default_factory=dict)
    saturation: Dict[str, Optional[float]] = field(default_factory=dict)
    stage_scale: List[Optional[float]] = field(default_factory=list)
    activations: List[str] = field(default_factory=list)
    cutoffs: Dict[str, Optional[int]] = field(default_factory=dict)
    cutoff_detector: Optional[str] = None
    cutoffs_by_detector: Dict[str, Dict[str, Optional[int]]] = field(default_factory=dict)
    decoder_mse: List[Optional[float]] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    prediction: Dict[str, Any] = field(default_factory=dict)
    predictors: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    accuracy: Optional[float] = None
    training: Dict[str, Any] = field(default_factory=dict)
    timings: Dict[str, float] = field(default_factory=dict)
    extra: Dict[str, Any] = field(default_factory=dict)
    keys: Tuple[str, ...] = ()

    _KINDS = {
        "sigma_w2": _ANY, "sigma_b2": _ANY, "depth": _ANY, "width": _ANY, "seed": _ANY, "model": _ANY,
        "settings": _DICT, "stages": _ANY, "stage_shapes": _LIST, "metrics": _DICT, "saturation": _DICT,
        "stage_scale": _LIST, "activations": _LIST, "cutoffs": _DICT,
        "cutoff_detector": _ANY, "cutoffs_by_detector": _DICT, "decoder_mse": _LIST, "warnings": _LIST,
        "prediction": _DICT, "predictors": _DICT, "accuracy": _ANY, "training": _DICT, "timings": _DICT,
    }

    @property
    def activation_kinds(self) -> List[str]:
        """The net's activation kinds: as probed, else the ``activation`` its model was built with."""
        if self.activations:
            return list(self.activations)
        built = (self.settings.get("model_options") or {}).get("activation")
        return [str(built).lower()] if built else []

    @property
    def key(self) -> Tuple:
        """The point's identity (:func:`point_key`)."""
        return point_key(self)

    @property
    def probed(self) -> bool:
        """Does the record hold a probe (its ``cutoffs``)?"""
        return self.has("cutoffs")

    def metric(self, name: str) -> List[Optional[float]]:
        """The per-stage values of metric ``name`` ([] where it was not measured)."""
        v = self.metrics.get(name)
        return list(v) if isinstance(v, list) else []

    def final(self, metric: str) -> Optional[float]:
        """The last stage's value of ``metric`` (None where it was not measured)."""
        v = self.metric(metric)
        return v[-1] if v else None


@dataclass(frozen=True, eq=True)
class CompareEntry(_Record):
    """One compared model: an entry of ``summary.json``'s ``models``.

    Attributes:
        name: the displayed name (e.g. ``mlp(depth=5)``).
        spec: the model's registry name.
        options: the model options given.
        slug: its folder name under ``runs/``.
        run: its run folder, relative to the comparison.
        depth: L, the number of probed stages.
        cutoff_detector: the detector that chose ``cutoffs``.
        cutoffs: metric → ℓ* (None: undecidable).
        cutoff_fractions: metric → ℓ*/L (JSON key ``cutoff_fraction``).
        finals: metric → the last stage's value (JSON key ``final``).
        saturation: metric → the level its curve reaches once the input is lost (absent in older
            summaries).
        parameters, model_class, adapter: what the run says of the model.
        timings: seconds per phase.
        warnings: the probe's warnings.
        prediction: the trainability prediction.
        predictors: predictor name → {score, ...}.
        rank: 1 = predicted most trainable (set by ranking).
        reason: the rank in one sentence (set by ranking).
        extra: keys this module does not know, and values of a wrong type, as loaded.
        keys: the JSON keys in the order they were loaded (empty for a record built directly).
    """

    name: Optional[str] = None
    spec: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)
    slug: Optional[str] = None
    run: Optional[str] = None
    depth: Optional[int] = None
    cutoff_detector: Optional[str] = None
    cutoffs: Dict[str, Optional[int]] = field(default_factory=dict)
    cutoff_fractions: Dict[str, Optional[float]] = field(default_factory=dict)
    finals: Dict[str, Optional[float]] = field(default_factory=dict)
    saturation: Dict[str, Optional[float]] = field(default_factory=dict)
    parameters: Optional[int] = None
    model_class: Optional[str] = None
    adapter: Optional[str] = None
    timings: Dict[str, float] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    prediction: Dict[str, Any] = field(default_factory=dict)
    predictors: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    rank: Optional[int] = None
    reason: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)
    keys: Tuple[str, ...] = ()

    _KINDS = {
        "name": _ANY, "spec": _ANY, "options": _DICT, "slug": _ANY, "run": _ANY, "depth": _ANY,
        "cutoff_detector": _ANY, "cutoffs": _DICT, "cutoff_fractions": _DICT, "finals": _DICT, "saturation": _DICT,
        "parameters": _ANY, "model_class": _ANY, "adapter": _ANY, "timings": _DICT, "warnings": _LIST,
        "prediction": _DICT, "predictors": _DICT, "rank": _ANY, "reason": _ANY,
    }
    _RENAMED = {"cutoff_fraction": "cutoff_fractions", "final": "finals"}

    def cutoff_fraction(self, metric: str) -> Optional[float]:
        """ℓ*/L of ``metric``, when finite."""
        return finite_or_none(self.cutoff_fractions.get(metric))

    def final(self, metric: str) -> Optional[float]:
        """The last stage's value of ``metric``, when finite."""
        return finite_or_none(self.finals.get(metric))

    @property
    def probe_time(self) -> Optional[float]:
        """Fit + evaluate seconds (None when neither was timed)."""
        t = self.timings
        return (t.get("fit") or 0) + (t.get("evaluate") or 0) if ("fit" in t or "evaluate" in t) else None


def as_point(p: Union[Mapping[str, Any], SweepPoint]) -> SweepPoint:
    """``p`` as a :class:`SweepPoint` (a dict is read with :meth:`SweepPoint.from_dict`)."""
    return p if isinstance(p, SweepPoint) else SweepPoint.from_dict(p)


def as_entry(e: Union[Mapping[str, Any], CompareEntry]) -> CompareEntry:
    """``e`` as a :class:`CompareEntry` (a dict is read with :meth:`CompareEntry.from_dict`)."""
    return e if isinstance(e, CompareEntry) else CompareEntry.from_dict(e)


def as_points(points: Sequence[Union[Mapping[str, Any], SweepPoint]]) -> List[SweepPoint]:
    """Every record of ``points`` as a :class:`SweepPoint`."""
    return [as_point(p) for p in points]
