"""``reprobe theory``: mean-field reference numbers (edge of chaos, correlation depth)."""

from __future__ import annotations

import json
import math

import click

from ..core.errors import ReprobeError
from ..core.format import format_number
from .. import theory as mf

_ACTIVATION_HELP = "Activation: " + ", ".join(mf.ACTIVATIONS) + "."


def _fmt(x: float, digits: int = 4) -> str:
    return format_number(x, digits, fixed=True, missing="nan", inf=True)


activation_option = click.option(
    "--activation", "-a", default="tanh", show_default=True, metavar="NAME", help=_ACTIVATION_HELP
)
#: ``reprobe run``'s σ_b², so that ``theory critical`` answers for the net that ``run`` probes.
RUN_SIGMA_B2 = 0.05

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group("theory")
def theory() -> None:
    """Mean-field theory of wide random nets (reference numbers for the probes).

    For an infinitely wide MLP with weights N(0, sigma_w2/N) and biases N(0, sigma_b2), the
    pre-activation variance settles at q* and the correlation between two inputs at c*.
    chi1 = sigma_w2 E[phi'(sqrt(q*) z)^2] separates the ordered phase (chi1 < 1, all inputs
    become alike) from the chaotic one (chi1 > 1); chi1 = 1 is the edge of chaos.
    Correlations relax over xi_c layers, and nets train roughly while depth <= 6 xi_c
    (Poole et al. 2016; Schoenholz et al. 2017).
    """


@theory.command("critical")
@activation_option
@click.option("--sigma-b2", type=float, default=RUN_SIGMA_B2, show_default=True,
              help="Bias variance sigma_b^2 (default: the one `reprobe run` uses).")
@json_option
def critical_cmd(activation: str, sigma_b2: float, as_json: bool) -> None:
    """Critical sigma_w2 (edge of chaos, chi1 = 1) for a bias variance."""
    act = mf.get_activation(activation)
    sw = mf.critical_sigma_w2(act, sigma_b2)
    if as_json:
        click.echo(json.dumps({"activation": act.name, "sigma_b2": sigma_b2, "sigma_w2": sw}))
    else:
        click.echo(f"critical sigma_w2 = {sw:.4f} ({act.name}, sigma_b2 = {sigma_b2:g})")


@theory.command("xi")
@activation_option
@click.option("--sigma-w2", type=float, required=True, help="Weight variance sigma_w^2.")
@click.option("--sigma-b2", type=float, default=RUN_SIGMA_B2, show_default=True,
              help="Bias variance sigma_b^2 (default: the one `reprobe run` uses).")
@click.option("--factor", type=float, default=6.0, show_default=True, help="Trainable depth = FACTOR * xi_c.")
@json_option
def xi_cmd(activation: str, sigma_w2: float, sigma_b2: float, factor: float, as_json: bool) -> None:
    """q*, chi1, c*, chi_c, correlation depth xi_c and phase at one (sigma_w2, sigma_b2)."""
    point = mf.mean_field(activation, sigma_w2, sigma_b2)
    if not (math.isfinite(factor) and factor > 0):
        raise ReprobeError(f"--factor must be a finite number > 0, got {factor!r}")
    depth = point.trainable_depth(factor)
    if as_json:
        out = point.to_dict()
        out["trainable_depth"] = "inf" if math.isinf(depth) else depth
        out["trainable_depth_factor"] = factor
        click.echo(json.dumps(out))
        return
    click.echo(f"{point.activation}, sigma_w2 = {point.sigma_w2:g}, sigma_b2 = {point.sigma_b2:g}: {point.phase} phase")
    click.echo(f"  q*      = {_fmt(point.q_star, 6)}")
    click.echo(f"  chi1    = {_fmt(point.chi1, 6)}")
    click.echo(f"  c*      = {_fmt(point.c_star, 6)}")
    click.echo(f"  chi_c   = {_fmt(point.chi_c, 6)}")
    click.echo(f"  xi_c    = {_fmt(point.xi_c, 3)} layers")
    click.echo(f"  {factor:g}*xi_c  = {_fmt(depth, 1)} layers (expected trainable depth)")


@theory.command("line")
@activation_option
@click.option(
    "--sigma-b2", "sigma_b2", default="0:0.5:0.05", show_default=True, metavar="START:STOP:STEP|LIST",
    help="Bias variances: an inclusive range or a comma-separated list.",
)
@json_option
def line_cmd(activation: str, sigma_b2: str, as_json: bool) -> None:
    """The critical line: critical sigma_w2 for a range of sigma_b2."""
    from ..experiments.grid import parse_values

    act = mf.get_activation(activation)
    values = parse_values(sigma_b2, name="sigma_b2")  # a:b:step or a,b,c (same rules as sweeps)
    if not values:
        raise ReprobeError("--sigma-b2 gave no values")
    crit = mf.critical_line(act, values)
    if as_json:
        click.echo(json.dumps({"activation": act.name, "sigma_b2": values, "sigma_w2": [float(v) for v in crit]}))
        return
    click.echo(f"critical line ({act.name})")
    click.echo(f"{'sigma_b2':>10}  {'sigma_w2':>10}")
    for sb, sw in zip(values, crit):
        click.echo(f"{sb:>10g}  {sw:>10.4f}")


COMMANDS = [theory]
