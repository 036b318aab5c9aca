"""Every setting of a probe, declared once: :class:`ProbeConfig` (the probe's own) and
:class:`RunOptions` (what a probe *run* adds: which training inputs, which stages).

Each field carries its description and how front ends treat it in its metadata (:func:`option`):

* ``help``: one line, the command line's help and this module's docs;
* ``flag``: the command-line flag (None: Python only);
* ``resume``: ``"always"``: a sweep records the value with every point, and resuming needs the same;
  ``"when_set"``: recorded only when it differs from the default (options added after sweeps
  existed, so that those sweeps still resume);
* ``minimum`` / ``above`` / ``maximum`` / ``choices`` / ``odd``: the checks of :meth:`ProbeConfig.validate`,
  which the command line turns into its option types.

The command-line options (``reprobe.cli.options.probe_options``), a sweep's defaults
(``reprobe.experiments.sweep.SWEEP_PROBE_DEFAULTS``) and compare's routing of ``model:key=value``
options (``reprobe.experiments.compare.PROBE_KEYS``) are all made from :func:`probe_option_fields`.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from .. import metrics as metric_registry
from ..core.errors import ReprobeError, param
from ..core.io import is_finite_number
from .decoders import OUTPUT_ACTIVATIONS
from .hooks import MULTI_CALL_MODES

FIT_METHODS = ("ridge", "adam", "sgd")
#: The largest whole number an option takes: larger ones are typos, and overflow torch's indices.
MAX_WHOLE = 2**31 - 1
#: Seeds torch takes (``torch.Generator.manual_seed``).
SEED_RANGE = (-(2**63), 2**64 - 1)

ALWAYS, WHEN_SET = "always", "when_set"


def option(default: Any, help: str, *, flag: Optional[str] = None, resume: str = ALWAYS, details: str = "",
           minimum: Optional[float] = None, above: Optional[float] = None, maximum: Optional[float] = None,
           choices: Union[None, Sequence[str], Callable[[], Sequence[str]]] = None, odd: bool = False) -> Any:
    """A dataclass field with the metadata described in the module docstring. ``minimum``: the value
    must be at least this; ``above``: greater than this; ``choices``: a tuple, or a function giving
    a registry's names (checked by the registry, with close matches)."""
    meta = {"help": help, "flag": flag, "resume": resume, "details": details, "minimum": minimum,
            "above": above, "maximum": maximum, "choices": choices, "odd": odd}
    return field(default=default, metadata=meta)


def _metric_names() -> List[str]:
    return metric_registry.METRICS.names()


def _cutoff_names() -> List[str]:
    return metric_registry.CUTOFFS.names()


@dataclass
class ProbeConfig:
    """Every setting of a probe (stored in ``result.json`` under ``config``); the fields are listed
    below with their defaults."""

    metrics: Tuple[str, ...] = option(
        metric_registry.DEFAULT_METRICS, "metric to measure (repeatable)", flag="--metric", resume=WHEN_SET,
        choices=_metric_names, details="Names from ``reprobe.metrics.available()``; each at most once.")
    cutoff: str = option("threshold", "cutoff detector reported as ℓ*", flag="--cutoff", choices=_cutoff_names,
                         details="All detectors are computed; this one is ``result.cutoffs``.")
    eta: float = option(0.005, "cutoff tolerance η (relative)", flag="--eta", minimum=0)
    fit: str = option(
        "ridge", "decoder fit: ridge (exact least squares, one pass) or adam/sgd (the paper: Adam, 1 epoch)",
        flag="--fit", choices=FIT_METHODS,
        details="``ridge``: exact least-squares decoders in one pass (fast and sharp); ``adam``: the paper's "
                "procedure (Adam on the MSE, ``epochs`` epochs); ``sgd``. Decoders without a closed form "
                "train by gradient, with Adam under ``ridge``.")
    lr: float = option(1e-3, "learning rate for gradient-trained decoders", flag="--lr", above=0,
                       details="Paper: 1e-3.")
    epochs: int = option(1, "epochs for gradient-trained decoders", flag="--epochs", minimum=1,
                         details="Paper: 1. Closed-form fits need one pass.")
    batch_size: int = option(64, "batch size", flag="--batch-size", minimum=1,
                             details="Also the batch size when the probe makes its own loader (a Dataset or a tensor).")
    ridge: float = option(
        0.1, "ridge strength relative to activation power (the probe's noise floor)", flag="--ridge", minimum=0,
        details="Directions of a stage that carry less than about this share of its power count as lost. 0.1 puts "
                "the ordered-phase cutoff of tanh MLPs near the mean-field 6ξ_c; smaller values reconstruct "
                "better but see through more contraction.")
    samples: int = option(100, "held-out inputs to reconstruct and measure (paper: 100)", flag="--samples", minimum=2,
                          details="At least 2: entropies are taken over a sample set.")
    ridge_samples: Optional[int] = option(
        2048, "closed-form decoders use at most the first this-many training inputs (None: all)", minimum=2,
        details="Their statistics have converged by then: on MNIST (depth 100, width 784) the cutoffs with 1024, "
                "2048 and all 4500 images are identical, at less than half the time. Vector decoders with few "
                "features stop earlier (8 inputs per feature, at least 256); feature-map decoders sample one patch "
                "position per feature (see :mod:`reprobe.probe.ridge`). Pass a shuffled loader. Gradient-trained "
                "decoders still see every input.")
    max_fit_samples: Optional[int] = option(None, "stop fitting after this many training inputs (None: all of them)",
                                            minimum=1)
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps", flag="--device")
    seed: int = option(0, "seed of weights, split, shuffling, decoders", flag="--seed", minimum=SEED_RANGE[0],
                       maximum=SEED_RANGE[1], details="In a probe: the decoders' initialisation and the fit's shuffling.")
    decoder_activation: str = option("auto", "output activation of decoders",
                                     choices=OUTPUT_ACTIVATIONS,
                                     details="``auto``: by the target's range; ``tanh``: the paper's.")
    decoder_kernel: int = option(
        3, "k×k kernel of feature-map decoders (odd); larger undoes more of a conv stage, at k² the cost",
        flag="--decoder-kernel", resume=WHEN_SET, minimum=1, odd=True,
        details="The inverse of a convolution is not local, so a small kernel caps how much of a conv stage a "
                "decoder can undo: on 8×8 digits, 16-channel tanh CNNs, ξ̂ at the edge of chaos is 8.5 stages with "
                "k = 3 and 14.3 with k = 7. Cost grows with k²; a stage with C·k² above 4608 features gets the "
                "largest odd kernel that fits (:func:`reprobe.probe.conv_decoders.fitting_kernel`).")
    multi_call: str = option("error", "a stage module that runs more than once per forward", choices=MULTI_CALL_MODES)
    keep_examples: int = option(8, "how many reconstructions per stage the result keeps for pictures", minimum=0)
    progress: bool = option(True, "show progress bars")
    recalibrate_bn: bool = option(
        True, "re-estimate untouched BatchNorm statistics on the training inputs before probing", resume=WHEN_SET,
        details="At initialisation eval-mode BatchNorm is the identity (running mean 0, variance 1), which is not "
                "the net training sees; layers that never tracked a batch get statistics estimated on the training "
                "inputs for the probe, and the model keeps its own buffers (:mod:`reprobe.probe.batchnorm`). "
                "Layers with tracked statistics keep theirs.")

    def validate(self) -> None:
        """Check every field against its declaration (type, range, choices); one line naming the field."""
        self.metrics = tuple(self.metrics) if isinstance(self.metrics, (list, tuple)) else (self.metrics,)
        for f in dataclasses.fields(self):
            check_option(f, getattr(self, f.name))
        resolve_device(self.device)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        return d


@dataclass(frozen=True)
class RunOptions:
    """What a probe run takes besides the :class:`ProbeConfig`: which training inputs and which stages
    (``reprobe.experiments.run.probe_model``'s keywords)."""

    train_samples: Optional[int] = option(None, "use at most this many training inputs", flag="--train-samples",
                                          minimum=1, details="A seeded random subset of the training split.")
    stages: Optional[Tuple[str, ...]] = option(
        None, "module name of a stage (repeatable); default: found by the model's adapter", flag="--stage",
        resume=WHEN_SET)


def check_probe_options(options: Dict[str, Any]) -> None:
    """Check a run's probe options (:class:`ProbeConfig` fields and :class:`RunOptions`) before any
    work: one :class:`ReprobeError` naming the first bad one. Other keys are left to their users."""
    config = {k: v for k, v in options.items() if k in ProbeConfig.__dataclass_fields__}
    ProbeConfig(**config).validate()
    for name in RunOptions.__dataclass_fields__:
        value = options.get(name)
        if name == "stages" and not _all_names(value):
            continue  # module types, or one name: CascadeProbe takes them too, and checks them
        if name in options:
            coerce_option(name, value)


def _all_names(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def probe_option_fields() -> List[dataclasses.Field]:
    """The probe options a user sets by name: the fields of :class:`ProbeConfig` and :class:`RunOptions`
    that have a command-line flag, in declaration order."""
    return [f for cls in (ProbeConfig, RunOptions) for f in dataclasses.fields(cls) if f.metadata.get("flag")]


def probe_option_defaults() -> Dict[str, Any]:
    """Name → default of every :func:`probe_option_fields` option."""
    return {f.name: f.default for f in probe_option_fields()}


def recorded_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """``options`` without the ``when_set`` options left at their defaults: what a sweep stores with
    every point (so that sweeps made before such an option existed still resume)."""
    fields = {f.name: f for f in probe_option_fields()}
    return {k: v for k, v in options.items()
            if not (k in fields and fields[k].metadata["resume"] == WHEN_SET and _same(v, fields[k].default))}


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return tuple(value) == tuple(default)
    return value == default or (default is None and isinstance(value, (list, tuple)) and not value)


def option_field(name: str) -> dataclasses.Field:
    """The declaration of probe option ``name`` (a :class:`ProbeConfig` or :class:`RunOptions` field)."""
    for cls in (ProbeConfig, RunOptions):
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f
    raise ReprobeError(f"unknown probe option {name!r}")


@functools.lru_cache(maxsize=None)
def field_type(f: dataclasses.Field) -> Tuple[type, bool, bool]:
    """(base type, None allowed, a tuple of them) of a field, read from its annotation."""
    owner = ProbeConfig if f.name in ProbeConfig.__dataclass_fields__ else RunOptions
    hint = typing.get_type_hints(owner)[f.name]
    optional = type(None) in typing.get_args(hint)
    if optional:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    many = typing.get_origin(hint) is tuple
    return (typing.get_args(hint)[0] if many else hint), optional, many


TYPE_WORDS = {int: "a whole number", float: "a finite number", str: "a name", bool: "true or false"}


def coerce_option(name: str, value: Any) -> Any:
    """``value`` for probe option ``name`` as the option takes it (one name → a tuple of one), checked;
    a :class:`ReprobeError` names the option and what it expects."""
    f = option_field(name)
    base, optional, many = field_type(f)
    if many and isinstance(value, str):
        value = (value,)
    if many and isinstance(value, list):
        value = tuple(value)
    check_option(f, value)
    return value


def check_option(f: dataclasses.Field, value: Any) -> None:
    """Check ``value`` against field ``f``'s type and declared range."""
    base, optional, many = field_type(f)
    if (value is None and optional) or f.name == "device":  # devices: resolve_device checks them
        return
    if many:
        if not isinstance(value, tuple) or not all(isinstance(v, base) for v in value):
            raise ReprobeError(f"{param(f.name)} must be a list of names, got {value!r}")
        if not value and f.name == "metrics":
            raise ReprobeError("give at least one metric")
        if len(set(value)) != len(value):
            twice = sorted({v for v in value if value.count(v) > 1})
            raise ReprobeError(f"{param(f.name)} lists {', '.join(map(repr, twice))} twice; give each once")
        for v in value:
            _check_choice(f, v)
        return
    _check_type(f, base, value)
    _check_range(f, value)
    _check_choice(f, value)


def _check_type(f: dataclasses.Field, base: type, value: Any) -> None:
    ok = {int: _is_whole, float: is_finite_number, bool: lambda v: isinstance(v, bool),
          str: lambda v: isinstance(v, str)}[base](value)
    if not ok:
        raise ReprobeError(f"{param(f.name)} must be {TYPE_WORDS[base]}, got {value!r}")


def _check_range(f: dataclasses.Field, value: Any) -> None:
    meta = f.metadata
    lo, above, hi = meta["minimum"], meta["above"], meta["maximum"]
    if hi is None and isinstance(value, numbers.Integral):
        hi = MAX_WHOLE
    if meta["odd"] and (value % 2 == 0 or value < lo):
        raise ReprobeError(f"{param(f.name)} must be odd and >= {lo} (3, 5, 7, …), got {value}")
    if lo is not None and value < lo:
        raise ReprobeError(f"{param(f.name)} must be >= {lo:g}{_why(f)}, got {value}")
    if above is not None and value <= above:
        raise ReprobeError(f"{param(f.name)} must be > {above:g}, got {value}")
    if hi is not None and value > hi:
        raise ReprobeError(f"{param(f.name)} must be at most {hi}, got {value}")


def _why(f: dataclasses.Field) -> str:
    return " (entropies are taken over a sample set)" if f.name == "samples" else ""


def _check_choice(f: dataclasses.Field, value: Any) -> None:
    choices = f.metadata["choices"]
    if f.name == "metrics":
        metric_registry.get(value)
    elif f.name == "cutoff":
        metric_registry.get_cutoff(value)
    elif choices is not None and not callable(choices) and value not in choices:
        raise ReprobeError(f"{param(f.name)} must be one of {', '.join(choices)}, got {value!r}")


def _is_whole(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def resolve_device(device: Union[str, torch.device, None]) -> torch.device:
    """``auto`` → cuda if available, else mps, else cpu; other strings are checked."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ReprobeError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ReprobeError(f"device {device!r} asked for, but CUDA is not available here; use {param('device', 'cpu')} or auto")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ReprobeError(f"device {device!r} asked for, but MPS is not available here; use {param('device', 'cpu')} or auto")
    return dev


def _attribute_docs(cls: type) -> str:
    """The ``Attributes:`` section of ``cls``'s docstring, from its fields' metadata."""
    lines = ["", "", "    Attributes:"]
    for f in dataclasses.fields(cls):
        text = f"{f.name} (default {f.default!r}): {f.metadata['help']}."
        if f.metadata["details"]:
            text += " " + f.metadata["details"]
        lines.append(f"        {text}")
    return "\n".join(lines) + "\n"


ProbeConfig.__doc__ = (ProbeConfig.__doc__ or "") + _attribute_docs(ProbeConfig)
RunOptions.__doc__ = (RunOptions.__doc__ or "") + _attribute_docs(RunOptions)
