"""``reprobe critical``: the σ_w² of deepest signal propagation, by bisection for χ = 1 or a search over probes."""

from __future__ import annotations

import json
from typing import Optional

import click

from ..core.errors import ReprobeError
from .options import NON_NEGATIVE, POSITIVE, POSITIVE_INT, data_kwargs, data_options, probe_kwargs, probe_options
from .grid_options import family_options, model_options_of


@click.command("critical")
@family_options
@click.option("--depth", type=POSITIVE_INT, default=50, show_default=True, help="number of layers (stages)")
@click.option("--width", type=POSITIVE_INT, default=None, help="hidden width (default: the model's)")
@click.option("--sigma-b2", type=NON_NEGATIVE, default=0.05, show_default=True, help="bias variance σ_b²")
@click.option("--bracket", default="1.0:4.0", show_default=True, metavar="LO:HI", help="σ_w² interval to search")
@click.option("--tol", type=POSITIVE, default=0.05, show_default=True, help="stop when the bracket is this narrow")
@click.option("--score-metric", default="relative_entropy", show_default=True,
              help="metric whose ξ̂ (or cutoff ℓ*) ranks first")
@click.option("--rank-by", type=click.Choice(["chi", "xi", "cutoff"]), default="chi", show_default=True,
              help="chi: bisect for where the partial Jacobian's depth scale ξ_χ = 1/|ln χ| diverges (χ = 1; no "
                   "decoders fitted: fast and precise); xi: the largest reconstruction ξ̂, "
                   "reported with the band within its error of the peak (flat and ridge-dependent near the edge); "
                   "cutoff: ℓ*, then --tie-break")
@click.option("--tie-break", type=click.Choice(["mean-relative-entropy", "final-differential-entropy",
                                                 "mean-differential-entropy"]),
              default="mean-relative-entropy", show_default=True, help="ranks points with equal ℓ* (e.g. ℓ* = L)")
@data_options
@probe_options
@click.option("--json", "as_json", is_flag=True, help="print a JSON object (sigma_w2, probes, bracket, evaluated)")
@click.option("--quiet", "-q", is_flag=True, help="no per-probe lines")
def critical_cmd(bracket, tol, score_metric, rank_by, tie_break, as_json, quiet, **params):
    """Find the edge of chaos: the σ_w² where signals propagate deepest.

    By default bisects for the partial Jacobian's χ = 1, where its depth scale ξ_χ = 1/|ln χ| (stages
    per e-fold of a perturbation's decay or growth) diverges: one backward pass per net, no decoders,
    8 probes for [1, 4] at --tol 0.05. --rank-by cutoff instead runs a golden-section search over
    probes ranked by ℓ* (ties at L broken by --tie-break); --rank-by xi scans σ_w² for the largest
    reconstruction ξ̂, refines where a peak stands out, and prints the band within ξ̂'s error of the
    peak (or says the peak is flat). Both depend on the ridge and find a band, not the point.
    """
    from ..analysis.critical import describe_tie_break, find_critical
    from ..analysis.records import as_point
    from ..experiments.critical import probe_evaluator

    parts = bracket.split(":")
    try:
        lo, hi = (float(parts[0]), float(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None:
        raise ReprobeError(f"cannot read --bracket {bracket!r}; use LO:HI, e.g. 1.0:4.0")
    if params["depth"] < 1:
        raise ReprobeError(f"--depth must be at least 1, got {params['depth']}")
    if rank_by == "chi":
        return _critical_by_chi(lo, hi, tol, as_json, quiet, params)
    evaluate = probe_evaluator(
        params["model"], params["data"], depth=params["depth"], width=params["width"], sigma_b2=params["sigma_b2"],
        seed=params["seed"], model_options=model_options_of(params), data_options=data_kwargs(params),
        probe_options=probe_kwargs(params, progress=False))

    def on_probe(sw, rec, s):
        if not quiet and not as_json:
            point = as_point(rec)
            ell = point.cutoff(score_metric)
            xi = f"ξ̂ = {s[0]:.3g}, " if rank_by == "xi" and s[0] >= 0 else ""
            click.echo(f"  probe σ_w² = {sw:.4f}: {xi}ℓ* = {'-' if ell is None else ell} of {point.depth}, "
                       f"{describe_tie_break(tie_break, s[1])}", err=True)

    res = find_critical(evaluate, lo, hi, tol, metric=score_metric, tie_break=tie_break, rank_by=rank_by,
                        on_probe=on_probe)
    obj = res.to_dict()
    obj.update({"model": params["model"], "depth": params["depth"], "width": params["width"],
                "sigma_b2": params["sigma_b2"]})
    obj["mean_field_sigma_w2"] = _mean_field_sigma_w2(params)
    if as_json:
        click.echo(json.dumps(obj, allow_nan=False, default=str))
        return
    mfs = obj["mean_field_sigma_w2"]
    ell = res.l_star
    xi = f"ξ̂ = {res.score[0]:.3g}, " if rank_by == "xi" and res.score[0] >= 0 else ""
    click.echo(f"critical σ_w² ≈ {res.sigma_w2:.3f} ({xi}ℓ* = {'-' if ell is None else ell} of {params['depth']}; "
               f"{res.location()}) after {res.probes} probes in {res.time:.1f}s"
               + (f"; mean field: {mfs:.3f}" if mfs is not None else ""))


def _mean_field_sigma_w2(params) -> Optional[float]:
    from .. import theory as mf

    try:
        return mf.critical_sigma_w2(params["activation"], params["sigma_b2"])
    except ReprobeError:
        return None


def _format_xi_chi(chi: float) -> str:
    from ..analysis.chi_crossing import chi_depth_scale

    xi = chi_depth_scale(chi)
    return "∞" if xi is None else f"{xi:.3g} stages"


def _critical_by_chi(lo: float, hi: float, tol: float, as_json: bool, quiet: bool, params) -> None:
    """``critical --rank-by chi``: bisect for the partial Jacobian's χ = 1."""
    from ..analysis.chi_crossing import find_chi_crossing
    from ..experiments.critical import chi_evaluator

    log_chi = chi_evaluator(params["model"], params["data"], depth=params["depth"], width=params["width"],
                            sigma_b2=params["sigma_b2"], seed=params["seed"], model_options=model_options_of(params),
                            data_options=data_kwargs(params))

    def on_probe(sw, chi):
        if not quiet and not as_json:
            click.echo(f"  probe σ_w² = {sw:.4f}: partial Jacobian χ = {chi:.4f}, ξ_χ = {_format_xi_chi(chi)}", err=True)

    res = find_chi_crossing(log_chi, lo, hi, tol, on_probe=on_probe)
    obj = {**res.to_dict(), "model": params["model"], "depth": params["depth"], "width": params["width"],
           "sigma_b2": params["sigma_b2"], "mean_field_sigma_w2": _mean_field_sigma_w2(params)}
    if as_json:
        click.echo(json.dumps(obj, allow_nan=False, default=str))
        return
    mfs = obj["mean_field_sigma_w2"]
    click.echo(f"critical σ_w² ≈ {res.sigma_w2:.3f} (partial Jacobian χ = 1; bracket [{res.bracket[0]:.3f}, "
               f"{res.bracket[1]:.3f}]) after {res.probes} probes in {res.time:.1f}s"
               + (f"; mean field: {mfs:.3f}" if mfs is not None else ""))


COMMANDS = [critical_cmd]
