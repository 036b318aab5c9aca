"""Option groups of the grid commands (``sweep``, ``train-grid``, ``critical``): the model family, the
grid axes, the run, and training."""

from __future__ import annotations

from typing import Any, Dict

import click

from .options import NON_NEGATIVE, POSITIVE, POSITIVE_INT, FiniteFloat, stacked

GRID_HELP = "START:STOP:STEP (inclusive) or a list a,b,c"


def family_options(f):
    """--model, --activation, --shape (the grid axes are separate options)."""
    return stacked(
        click.option("--model", "model", default="mlp", show_default=True,
                     help="model name; any builder taking sigma_w2/sigma_b2 (`reprobe list models`)"),
        click.option("--activation", default="tanh", show_default=True, help="activation of the random net"),
        click.option("--shape", "net_shape", type=click.Choice(["wide", "shrinking"]), default="wide",
                     show_default=True, help="mlp layer widths"),
    )(f)


def grid_options(f):
    axis = dict(show_default=True, metavar="GRID")
    return stacked(
        click.option("--sigma-w2", "sigma_w2", default="1.0:4.0:0.25", help=f"weight variances σ_w²: {GRID_HELP}", **axis),
        click.option("--sigma-b2", "sigma_b2", default="0.05", help=f"bias variances σ_b²: {GRID_HELP}", **axis),
        click.option("--depth", "depth", default="50", help=f"depths (stages) L: {GRID_HELP}", **axis),
        click.option("--width", "width", default=None, metavar="GRID",
                     help=f"hidden widths (cnn/resnet: channels): {GRID_HELP} (default: the model's, 784 for MNIST MLPs)"),
    )(f)


def run_options(f):
    return stacked(
        click.option("--out", type=click.Path(file_okay=False), required=True, help="output folder"),
        click.option("--resume", is_flag=True, help="continue a sweep in --out: skip the points already finished"),
        click.option("--jobs", "-j", type=POSITIVE_INT, default=None,
                     help="parallel worker processes (default: number of cores; 1 = in this process)"),
        click.option("--acc-threshold", type=FiniteFloat(min=0, max=1), default=None,
                     help="accuracy that counts as trained (default: the protocol's: v2 halfway from chance to perfect on the "
                          "training set, v1 2 × chance held out)"),
        click.option("--quiet", "-q", is_flag=True, help="no progress bar, no table"),
    )(f)


def train_options(prefix: str):
    """Training options; ``prefix`` is "" for train-grid and "train-" for sweep --verify."""
    p, n = f"--{prefix}", prefix.replace("-", "_")
    return lambda f: stacked(
        click.option(f"{p}lr", f"{n}lr", type=POSITIVE, multiple=True, metavar="LR",
                     help="learning rate, repeatable. None (default): protocol v2, the best of 0.001, 0.00464, 0.0215 "
                          "and 0.1, judged on training accuracy; several: v2 over those; once: the single-rate protocol "
                          "v1, judged on held-out accuracy"),
        click.option(f"{p}epochs", f"{n}epochs", type=POSITIVE_INT, default=None,
                     help="passes over the training data per rate (v1 default: 1)"),
        click.option(f"{p}steps", f"{n}steps", type=POSITIVE_INT, default=None, help="optimizer steps per rate (v2 default: 1000)"),
        click.option(f"{p}batch-size", f"{n}batch_size", type=POSITIVE_INT, default=64, show_default=True,
                     help="training batch size"),
        click.option(f"{p}momentum", f"{n}momentum", type=NON_NEGATIVE, default=0.0, show_default=True, help="SGD momentum"),
        click.option(f"{p}optimizer", f"{n}optimizer", type=click.Choice(["sgd", "adam"]), default="sgd",
                     show_default=True, help="optimizer"),
    )(f)


def training_kwargs(params: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """The library's training options from the parsed ``train_options(prefix)``."""
    return {"lr": list(params[f"{prefix}lr"]) or None, "epochs": params[f"{prefix}epochs"],
            "steps": params[f"{prefix}steps"], "batch_size": params[f"{prefix}batch_size"],
            "momentum": params[f"{prefix}momentum"], "optimizer": params[f"{prefix}optimizer"],
            "train_samples": params.get("train_samples"),
            "device": "cpu" if params.get("device") in (None, "auto") else params["device"]}


def model_options_of(params: Dict[str, Any]) -> Dict[str, Any]:
    """The model builder's options of :func:`family_options`."""
    return {"activation": params["activation"], "shape": params["net_shape"]}
