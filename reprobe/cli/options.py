"""Option groups shared by CLI commands (run, stages, sweep, compare …)."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import click

from ..core.errors import ReprobeError
from ..probe.config import MAX_WHOLE, check_probe_options, field_type, probe_option_fields, recorded_options


class FiniteFloat(click.FloatRange):
    """A float option that must be finite (``inf``/``nan`` read as numbers to float()) and in range."""

    name = "float"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


class WholeRange(click.IntRange):
    """A whole number in range whose help names only the lower bound: the upper one (default
    :data:`~reprobe.probe.config.MAX_WHOLE`) only refuses typos such as 10**20."""

    def __init__(self, min: Optional[int] = None, max: int = MAX_WHOLE) -> None:
        super().__init__(min=min, max=max)

    def _describe_range(self) -> str:
        return "" if self.min is None or self.min < 0 else f"x>={self.min}"


#: Whole numbers that must be at least 1 (batch size, depth, width, image size, channels …), and not huge.
POSITIVE_INT = WholeRange(min=1)
#: Finite floats: any, >= 0, > 0.
FINITE = FiniteFloat()
NON_NEGATIVE = FiniteFloat(min=0)
POSITIVE = FiniteFloat(min=0, min_open=True)


#: How the CLI spells the options that library messages name by their Python names.
FLAG_NAMES = {"depth": "--depth", "width": "--width", "channels": "--channels", "image_size": "--image-size",
              "root": "--data-root", **{f.name: f.metadata["flag"] for f in probe_option_fields()}}


def flag_for(name: str, value: str = "") -> str:
    """How the CLI spells a parameter that a library message names (:func:`reprobe.core.errors.param`):
    ``batch_size`` → ``--batch-size``, with its value when it has one (``--device cpu``)."""
    flag = FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
    return f"{flag} {value}" if value else flag


def command_line(ctx=None) -> Optional[str]:
    """The command line that is running, as people would type it (``reprobe …``).

    Uses ``sys.argv`` when the process is the reprobe CLI; otherwise (e.g. click's test runner)
    rebuilds it from the click context's explicitly given parameters.
    """
    argv0 = Path(sys.argv[0]).name if sys.argv else ""
    if argv0 == "reprobe" or (sys.argv and "reprobe" in sys.argv[0] and argv0 in ("__main__.py", "main.py")):
        return "reprobe " + shlex.join(sys.argv[1:])
    if ctx is None:
        try:
            ctx = click.get_current_context(silent=True)
        except Exception:
            ctx = None
    if ctx is None:
        return None
    parts = [ctx.command_path.replace(ctx.find_root().info_name or "", "reprobe", 1)]
    for p in ctx.command.params:
        src = ctx.get_parameter_source(p.name)
        if src is None or src.name not in ("COMMANDLINE", "ENVIRONMENT"):
            continue
        v = ctx.params.get(p.name)
        if isinstance(p, click.core.Argument):
            parts += [shlex.quote(str(x)) for x in (v if isinstance(v, (list, tuple)) else [v])]
            continue
        flag = max(p.opts, key=len)
        if getattr(p, "is_flag", False):
            if v:
                parts.append(flag)
            elif p.secondary_opts:
                parts.append(max(p.secondary_opts, key=len))
            continue
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            parts += [flag, shlex.quote(str(x))]
    return " ".join(parts)


def stacked(*decorators: Callable) -> Callable:
    def apply(f: Callable) -> Callable:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def model_options(f: Callable) -> Callable:
    """--model and the options of the paper's model families."""
    return stacked(
        click.option("--model", "model", default="mlp", show_default=True,
                     help="model name (`reprobe list models`)"),
        click.option("--depth", type=POSITIVE_INT, default=50, show_default=True,
                     help="number of layers (stages) for mlp-style models"),
        click.option("--width", type=POSITIVE_INT, default=None, help="hidden width (default: the input size, 784 for MNIST)"),
        click.option("--sigma-w2", type=POSITIVE, default=1.76, show_default=True, help="weight variance σ_w² (× 1/fan-in)"),
        click.option("--sigma-b2", type=NON_NEGATIVE, default=0.05, show_default=True, help="bias variance σ_b²"),
        click.option("--activation", default="tanh", show_default=True, help="activation of the random net"),
        click.option("--shape", "net_shape", type=click.Choice(["wide", "shrinking"]), default="wide", show_default=True,
                     help="mlp layer widths: wide (width…width, 400, classes) or shrinking (linear taper)"),
        vision_model_options,
    )(f)


def vision_model_options(f: Callable) -> Callable:
    """Options of CNNs and vision models (cnn, resnet, torchvision names, timm:NAME, file.py:factory)."""
    return stacked(
        click.option("--channels", type=POSITIVE_INT, default=None, help="conv channels of the cnn/resnet families (default 32)"),
        click.option("--weights", default="none", show_default=True,
                     help="none (probe at initialisation), imagenet (pretrained; needs the download/cache) or PATH"),
        click.option("--preset", default=None,
                     help="stage preset of the adapter: VGG layers|blocks, ResNet blocks|stages, timm features|blocks; "
                          "add +head for the classifier layers (e.g. layers+head)"),
        click.option("--image-size", type=POSITIVE_INT, default=None,
                     help="resize images to this size (default: the model's; e.g. 64 keeps CPU runs short)"),
        click.option("--subset", type=POSITIVE_INT, default=None, help="a random subsample of this many images (train + test)"),
        click.option("--no-adapt", "no_adapt", is_flag=True,
                     help="do not convert data to the model's input (grey→RGB, resize): mismatches are errors"),
    )(f)


def model_kwargs(params: Dict[str, Any]) -> Dict[str, Any]:
    """The model-builder options from parsed CLI parameters (builders take what they use)."""
    out = {
        "depth": params.get("depth"),
        "width": params.get("width"),
        "sigma_w2": params.get("sigma_w2"),
        "sigma_b2": params.get("sigma_b2"),
        "activation": params.get("activation"),
        "shape": params.get("net_shape"),
        "seed": params.get("seed"),
        "channels": params.get("channels"),
        "weights": params.get("weights") if params.get("weights") not in (None, "none") else None,
        "image_size": params.get("image_size"),
        "subset": params.get("subset"),
        "adapt_data": False if params.get("no_adapt") else None,
    }
    spec = params.get("model")
    if isinstance(spec, str) and spec not in _registered_models():
        # Our defaults (--depth 50, --sigma-w2 1.76 …) describe reprobe's own families; a user's
        # factory or a library model only gets the architecture options the user actually typed.
        for key, param in _ARCH_PARAMS.items():
            if not _given_on_command_line(param):
                out.pop(key, None)
    return {k: v for k, v in out.items() if v is not None}


#: model-builder option → click parameter name, for options with reprobe-family defaults.
_ARCH_PARAMS = {"depth": "depth", "width": "width", "sigma_w2": "sigma_w2", "sigma_b2": "sigma_b2",
                "activation": "activation", "shape": "net_shape", "channels": "channels"}


def check_options_apply(model: str) -> None:
    """Refuse architecture options typed for a registered model whose builder does not take them
    (``--model cnn --width 64`` would be ignored, and still recorded with the run)."""
    import inspect

    from ..core.errors import ReprobeError
    from ..models import MODELS

    if model not in MODELS.names():
        return  # factories and library models take what they take; their builders say so
    takes = inspect.signature(MODELS.get(model)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in takes.values()):
        return
    for key, param in _ARCH_PARAMS.items():
        if key not in takes and _given_on_command_line(param):
            flag = "--shape" if param == "net_shape" else "--" + param.replace("_", "-")
            valid = ", ".join("--" + k.replace("_", "-") for k in _ARCH_PARAMS if k in takes)
            raise ReprobeError(f"{flag} does not apply to model {model!r}; its options: {valid}")


def _registered_models() -> list:
    from ..models import MODELS

    return MODELS.names()


def _given_on_command_line(param: str) -> bool:
    """True when ``param`` was typed (or set from the environment), not left at its default."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True
    source = ctx.get_parameter_source(param)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def data_options(f: Callable) -> Callable:
    return stacked(
        click.option("--data", default="mnist-5k", show_default=True, help="dataset name (`reprobe list datasets`)"),
        click.option("--data-root", type=click.Path(file_okay=False), default=None,
                     help="cache folder for downloadable data (default: $REPROBE_DATA or ~/.cache/reprobe)"),
        click.option("--test-fraction", type=FiniteFloat(min=0, max=1, min_open=True, max_open=True), default=0.1, show_default=True,
                     help="share held out for evaluation (data without an official split)"),
        *[probe_option(fld) for fld in probe_option_fields() if fld.name in DATA_GROUP],
    )(f)


def data_kwargs(params: Dict[str, Any]) -> Dict[str, Any]:
    out = {"root": params.get("data_root"), "seed": params.get("seed", 0), "test_fraction": params.get("test_fraction", 0.1)}
    for key in ("image_size", "subset"):  # image folders load at this size / draw this subsample
        if params.get(key) is not None:
            out[key] = params[key]
    return out


def probe_options(f: Callable) -> Callable:
    """The probe's options, one per flagged field of :class:`~reprobe.probe.config.ProbeConfig` and
    :class:`~reprobe.probe.config.RunOptions` (``--train-samples`` is among the data options)."""
    return stacked(*[probe_option(fld) for fld in probe_option_fields() if fld.name not in DATA_GROUP],
                  click.option("--no-recalibrate-bn", "no_recalibrate_bn", is_flag=True,
                               help="probe BatchNorm layers with their own running statistics even when untouched "
                                    "(at initialisation the probe re-estimates them on the training inputs)"))(f)


#: Probe options shown with the data options (they pick the training inputs).
DATA_GROUP = ("train_samples",)


def probe_option(fld) -> Callable:
    """The click option of one declared probe option: its flag, type, range, default and help."""
    meta = fld.metadata
    base, optional, many = field_type(fld)
    help_text = meta["help"]
    choices = meta["choices"]
    if callable(choices):  # a registry: checked by the library, which lists close matches
        help_text += f" ({', '.join(choices())})"
    kind = _click_type(fld, base)
    default = None if many and fld.default is None else fld.default
    return click.option(meta["flag"], fld.name, type=kind, multiple=many, default=default,
                        show_default=default is not None, help=help_text)


def _click_type(fld, base: type):
    meta = fld.metadata
    if isinstance(meta["choices"], tuple):
        return click.Choice(meta["choices"])
    low = meta["minimum"] if meta["minimum"] is not None else meta["above"]
    if base is int:
        return WholeRange(min=low, max=meta["maximum"] if meta["maximum"] is not None else MAX_WHOLE)
    if base is float:
        return FiniteFloat(min=low, min_open=meta["above"] is not None, max=meta["maximum"])
    return None


def probe_kwargs(params: Dict[str, Any], progress: bool = True) -> Dict[str, Any]:
    """The library's probe options from parsed CLI parameters: every declared option (``when_set``
    ones only when they differ from their defaults, so that older sweeps still resume), ``progress``
    and the adapter's ``preset``."""
    out: Dict[str, Any] = {}
    for fld in probe_option_fields():
        value = params.get(fld.name, fld.default)
        out[fld.name] = list(value) if fld.name == "stages" and value else (
            tuple(value) if isinstance(value, list) else value)
    out = recorded_options(out)
    if params.get("no_recalibrate_bn"):
        out["recalibrate_bn"] = False
    check_probe_options(out)  # a bad value (--metric mse --metric mse) fails before any work
    out["progress"] = progress
    if params.get("preset"):
        out["adapter_options"] = {"preset": params["preset"]}
    return out


def executor_options(f: Callable) -> Callable:
    """--executor, --address, --cpus-per-point, --gpus-per-point, --retries: where the points run."""
    return stacked(
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: processes on this machine (--jobs); ray: a Ray cluster (pip install -e \".[ray]\")"),
        click.option("--address", default=None, metavar="ADDR",
                     help="ray: the cluster's HOST:PORT (`ray start --head` prints it); auto: the cluster running "
                          "here; none: start a local one"),
        click.option("--cpus-per-point", type=FiniteFloat(min=0, min_open=True), default=1.0, show_default=True,
                     help="ray: CPUs (and torch threads) one point takes"),
        click.option("--gpus-per-point", type=FiniteFloat(min=0), default=0.0, show_default=True,
                     help="ray: GPUs one point takes; fractions share a GPU (0.25: four probes per GPU)"),
        click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
                     help="ray: reruns of a point whose worker or node died"),
    )(f)


def executor_kwargs(params: Dict[str, Any]) -> Dict[str, Any]:
    """The library's executor options from :func:`executor_options`' values (a wrong mix is an error
    before any work: --address or a --jobs count with the local or Ray executor that ignores it)."""
    from ..experiments.executors import check_run_options

    kw = {k: params[k] for k in ("executor", "address", "cpus_per_point", "gpus_per_point", "retries")}
    if kw["executor"] == "ray" and params.get("jobs") is not None:
        raise ReprobeError("--jobs counts local processes; with --executor ray, --cpus-per-point shares out the "
                           "cluster's CPUs")
    check_run_options(**kw)
    return kw
