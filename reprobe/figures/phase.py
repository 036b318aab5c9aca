"""Phase diagrams of a sweep (paper Fig. 4): entropy over (σ_w², stage ℓ), with ℓ*, reprobe's predicted
deepest trainable net (c·ξ̂) and mean field's 6ξ_c on top.

``plot_phase(points, path, theory=…)`` — one panel per σ_b² and depth L: σ_w² on the horizontal axis, stage ℓ
vertical, colour = differential entropy of the reconstruction from stage ℓ (each probed net's
per-stage curve is one column), the measured cutoff ℓ*(σ_w²) and the mean-field 6ξ_c drawn over it.
``plot_trained(trained, path, …)`` — the ground truth: test accuracy over (σ_w², depth).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..analysis.critical_lines import critical_lines  # noqa: E402
from ..analysis.records import SweepPoint, as_points  # noqa: E402
from ..core.io import nan_array  # noqa: E402
from ..metrics import DEFAULT_METRIC, RANK_METRIC  # noqa: E402
from .run import metric_label  # noqa: E402


def _edges(x: Sequence[float]) -> np.ndarray:
    x = np.asarray(sorted(x), dtype=float)
    if len(x) == 1:
        return np.array([x[0] - 0.05, x[0] + 0.05])
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def _theory_curve(sigma_b2: float, sws: np.ndarray, activation: str, cap: float):
    from .. import theory as mf

    try:
        act = mf.get_activation(activation)
    except Exception:
        return None, None, None
    xs = np.linspace(sws.min(), sws.max(), 300) if len(sws) > 1 else sws
    ys = []
    for s in xs:
        try:
            ys.append(min(mf.trainable_depth(act, float(s), sigma_b2), cap * 10))
        except Exception:
            ys.append(np.nan)
    try:
        crit = mf.critical_sigma_w2(act, sigma_b2)
    except Exception:
        crit = None
    return xs, np.array(ys), crit


def _select(points: List[dict]) -> Dict[Tuple[float, int], List[dict]]:
    """Per (σ_b², depth L): the probed points of the first width, one per σ_w² (one panel each)."""
    out: Dict[Tuple[float, int], List[dict]] = {}
    probed = [p for p in points if p.get("metrics")]
    for key in sorted({(p["sigma_b2"], p["depth"]) for p in probed}):
        ps = [p for p in probed if (p["sigma_b2"], p["depth"]) == key]
        w0 = ps[0].get("width")
        uniq: Dict[float, dict] = {}
        for p in ps:
            if p.get("width") == w0:
                uniq.setdefault(round(p["sigma_w2"], 6), p)
        out[key] = [uniq[k] for k in sorted(uniq)]
    return out


def clip_to_depth(ys: np.ndarray, L: int) -> Tuple[np.ndarray, np.ndarray]:
    """(ys clipped to the plotted depth range 0…L, mask of the values that were above L)."""
    ys = np.asarray(ys, dtype=float)
    with np.errstate(invalid="ignore"):
        above = ys > L  # inf (at the edge of chaos) too; NaN is not
    return np.where(above, L, ys), above


#: Where curves that run above a panel (deeper than L) are marked: rows of arrow heads above its top
#: edge, in axes fractions, one row per curve.
OFF_SCALE_ROWS = {"theory": 1.025, "prediction": 1.065}

#: ℓ* curves: colour, line style, marker, and drawing order (the reported relative-entropy ℓ* on top).
CUTOFF_STYLES = {"relative_entropy": ("#e3242b", "-", "o", 6), "differential_entropy": ("#ff9f1c", "--", "s", 5)}


def _draw_theory(ax, sb: float, sws: np.ndarray, activation: str, L: int) -> None:
    """The mean-field 6ξ_c curve, clipped to the panel and marked where it runs off the top."""
    xs, ys, crit = _theory_curve(sb, sws, activation, L)
    if xs is None:
        return
    ys, above = clip_to_depth(ys, L)
    ax.plot(xs, np.where(above, np.nan, ys), color="#00bfff", lw=2.2, label=f"mean field 6ξ_c ({activation})", zorder=3)
    if above.any():
        # Arrow heads in a row above the panel where the curve runs off its top: inside, a label or the
        # markers would hide the lines below (ℓ* = L, the critical σ_w² lines).
        off = xs[above][:: max(1, int(above.sum()) // 8)]
        ax.plot(off, np.full(len(off), OFF_SCALE_ROWS["theory"]), ls="none", marker="^", ms=6, color="#00bfff",
                transform=ax.get_xaxis_transform(), zorder=7, clip_on=False, label="6ξ_c off scale (> L)")
    if crit is not None and sws.min() - 0.05 <= crit <= sws.max() + 0.05:
        ax.axvline(crit, color="#00bfff", lw=1.8, ls=(0, (1.5, 1.5)), label="critical σ_w²: mean field (χ₁ = 1)", zorder=4,
                   path_effects=[patheffects.withStroke(linewidth=3.6, foreground="#1a1a1a")])


#: Each predictor's critical σ_w² line: (label, colour, line style, outline colour).
CRITICAL_STYLES = {
    "probe_xi_peak": ("critical σ_w²: probe ξ̂ peak", "#ff4fe3", (0, (5, 2)), "#222222"),
    "partial_jacobian": ("critical σ_w²: partial Jacobian χ = 1", "#111111", (0, (3, 2)), "#ffffff"),
}
#: Short names in the panel's box of critical values.
CRITICAL_SHORT = {"mean_field": "mean field", "probe_xi_peak": "ξ̂ peak", "partial_jacobian": "χ = 1 at"}


def _draw_critical_lines(ax, ps: List[dict], sb: float, activation: Optional[str]) -> None:
    """Each predictor's critical σ_w² on one panel: a vertical line per predictor (mean field's is
    drawn with its 6ξ_c curve) and a box with the values, mean field's first."""
    from .. import theory as mf

    try:
        crit = {f"{sb:g}": mf.critical_sigma_w2(activation, sb)} if activation else None
    except Exception:
        crit = None
    row = next(iter(critical_lines(ps, crit).values()), None)
    if row is None:
        return
    for name, (label, col, ls, edge) in CRITICAL_STYLES.items():
        if row.get(name) is not None:
            ax.axvline(row[name], color=col, lw=1.6, ls=ls, zorder=4, label=label,
                       path_effects=[patheffects.withStroke(linewidth=3.4, foreground=edge)])
    band = row.get("probe_xi_band")
    if row.get("probe_xi_peak") is not None and band and band[1] > band[0]:
        col, edge = CRITICAL_STYLES["probe_xi_peak"][1], CRITICAL_STYLES["probe_xi_peak"][3]
        ax.plot(band, [0.1, 0.1], transform=ax.get_xaxis_transform(), color=col, lw=3, marker="|", ms=9, mew=2.5,
                zorder=7, solid_capstyle="butt", label="  … ξ̂ within its error of the peak",
                path_effects=[patheffects.withStroke(linewidth=5, foreground=edge)])
    parts = [f"{CRITICAL_SHORT[n]} {row[n]:.3f}" if row.get(n) is not None else f"{CRITICAL_SHORT[n]} –"
             for n in CRITICAL_SHORT if n in row]
    if band and band[1] > band[0] and row.get("probe_xi_peak") is not None:
        i = [n for n in CRITICAL_SHORT if n in row].index("probe_xi_peak")
        parts[i] += f" (flat {band[0]:g}–{band[1]:g})"
    ax.text(0.5, 0.02, "critical σ_w²: " + " · ".join(parts), transform=ax.transAxes, ha="center", va="bottom",
            fontsize=7.5, zorder=8, bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="none", alpha=0.85))


def _draw_prediction(ax, ps: List[SweepPoint], sws: np.ndarray, L: int) -> None:
    """reprobe's predicted deepest trainable net (c·ξ̂) per σ_w²: hollow where it is a lower bound,
    arrow heads on the top edge where it is deeper than L."""
    preds = [p.prediction for p in ps]
    depth = np.array([np.nan if d.get("max_trainable_depth") is None else d["max_trainable_depth"] for d in preds])
    if np.isnan(depth).all():
        return
    ys, above = clip_to_depth(depth, L)
    bound = np.array([bool(d.get("depth_is_bound")) for d in preds])
    col = "#f0f0f0"
    outline = [patheffects.withStroke(linewidth=3.2, foreground="#333333")]  # readable on light and dark
    ax.plot(sws, np.where(above, np.nan, ys), color=col, lw=1.8, ls="-.", zorder=6, path_effects=outline,
            label="predicted deepest trainable (the verdict's: ξ̂ and growth)")
    inside = ~above & ~np.isnan(ys)
    ax.plot(sws[inside & ~bound], ys[inside & ~bound], ls="none", marker="D", ms=4, color=col, mec="#333333", zorder=6)
    ax.plot(sws[inside & bound], ys[inside & bound], ls="none", marker="D", ms=4, mfc="none", color=col, mec="#333333", zorder=6,
            label="  … at least (lower bound)" if (inside & bound).any() else None)
    if above.any():  # its own row above the panel, beside 6ξ_c's: neither hides the other
        ax.plot(sws[above], np.full(int(above.sum()), OFF_SCALE_ROWS["prediction"]), ls="none", marker="^", ms=6,
                color=col, mec="#333333", transform=ax.get_xaxis_transform(), zorder=7, clip_on=False,
                label="  … deeper than L")


def _draw_panel(ax, ps: List[dict], sb: float, metric: str, cutoff_metrics: Sequence[str],
                activation: Optional[str], vmin: float, vmax: float):
    """One σ_b², one depth: the entropy mesh over (σ_w², ℓ), ℓ* curves and 6ξ_c on top."""
    pts = as_points(ps)
    sws = np.array([p.sigma_w2 for p in pts])
    L = max(len(p.metric(metric)) for p in pts)
    z = np.full((L, len(pts)), np.nan)
    for j, p in enumerate(pts):
        v = nan_array(p.metric(metric))
        z[: len(v), j] = v
    x_e = _edges(sws)
    mesh = ax.pcolormesh(x_e, np.arange(0.5, L + 1.0, 1.0), np.ma.masked_invalid(z), cmap="viridis",
                         vmin=vmin, vmax=vmax, shading="flat")
    for m in cutoff_metrics:
        cuts = [p.cutoff(m) for p in pts]
        if all(c is None for c in cuts):
            continue
        col, ls, mk, order = CUTOFF_STYLES.get(m, ("#e74c3c", ":", "^", 4))
        ax.plot(sws, [np.nan if c is None else c for c in cuts], ls=ls, marker=mk, ms=3.5, color=col, lw=1.8,
                label=f"cutoff ℓ* ({m.replace('_', ' ')})", zorder=order)
    _draw_prediction(ax, pts, sws, L)
    if activation:
        _draw_theory(ax, sb, sws, activation, L)
    _draw_critical_lines(ax, ps, sb, activation)
    ax.set_xlim(x_e[0], x_e[-1])
    ax.set_ylim(0.5, L + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("weight variance σ_w²")
    ax.set_ylabel("stage ℓ (depth)")
    width = pts[0].width
    ax.set_title(f"σ_b² = {sb:g}, L = {L}" + (f", width {width}" if width else ""), fontsize=10, pad=28)
    return mesh


def plot_phase(points: List[dict], path, *, metric: str = RANK_METRIC, cutoff_metrics: Sequence[str] = (DEFAULT_METRIC, RANK_METRIC),
               activation: Optional[str] = "tanh", title: Optional[str] = None, max_panels: int = 9) -> Optional[Path]:
    """Draw the phase diagram: one panel per (σ_b², depth L) of the sweep, so a ``--resume`` with a
    second ``--depth`` shows both. Returns the path, or None when there are no probed points."""
    groups = _select(points)
    if not groups:
        return None
    keys = list(groups)[:max_panels]
    if not any(p["metrics"].get(metric) for k in keys for p in groups[k]):  # e.g. --metric relative_entropy
        metric = next((m for k in keys for p in groups[k] for m, v in p["metrics"].items() if v), metric)
    allv = np.concatenate([
        nan_array(p["metrics"].get(metric, []))
        for k in keys for p in groups[k]
    ] or [np.array([np.nan])])
    finite = allv[np.isfinite(allv)]
    vmin, vmax = (np.percentile(finite, 1), np.percentile(finite, 99.5)) if finite.size else (0, 1)
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols + 0.6, 5.6 * rows), squeeze=False,
                             gridspec_kw={"hspace": 0.45})  # room for the off-scale marks over each panel
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    mesh = None
    for ax, key in zip(axes.flat, keys):
        mesh = _draw_panel(ax, groups[key], key[0], metric, cutoff_metrics, activation, vmin, vmax)
    cb = fig.colorbar(mesh, ax=axes.ravel().tolist(), pad=0.015, fraction=0.05 if len(keys) == 1 else 0.03)
    cb.set_label(metric_label(metric))
    # One legend for all panels (per-panel legends would run into the next row's titles).
    handles = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.legend(list(handles.values()), list(handles), loc="upper center", bbox_to_anchor=(0.45, 0.0),
               ncol=min(3, len(handles)), fontsize=8.5, frameon=False)
    fig.suptitle(title or "Reconstruction entropy phase diagram (colour: entropy of x̂ from stage ℓ)", fontsize=11,
                 y=1.0 + 0.035 / rows)  # above the panel titles and the rows of off-scale marks over them
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _predicted_depth(point: SweepPoint) -> Optional[float]:
    """The point's predicted deepest trainable depth under the shipped calibration."""
    from ..analysis import predict

    return predict(point.metrics, point.stage_shapes or (), point.depth, saturation=point.saturation,
                   stage_scale=point.stage_scale, activations=point.activation_kinds).max_trainable_depth


def plot_trained(trained: List[dict], path, *, probes: Optional[List[dict]] = None, metric: str = DEFAULT_METRIC,
                 acc_threshold: Optional[float] = None, activation: Optional[str] = "tanh",
                 title: Optional[str] = None) -> Optional[Path]:
    """Accuracy after training over (σ_w², depth), one panel per σ_b², with ℓ*, the prediction (with the
    shipped calibration, not the one stored when the point was probed) and 6ξ_c on top. The accuracy is
    the one the grid's protocol judges: training accuracy (v2) or held-out accuracy (v1)."""
    rows = [t for t in trained if t.get("accuracy") is not None]
    if not rows:
        return None
    sbs = sorted({t["sigma_b2"] for t in rows})[:4]
    fig, axes = plt.subplots(1, len(sbs), figsize=(6.0 * len(sbs) + 0.6, 4.6), squeeze=False)
    mesh = None
    for ax, sb in zip(axes[0], sbs):
        ts = [t for t in rows if t["sigma_b2"] == sb]
        sws = sorted({round(t["sigma_w2"], 6) for t in ts})
        ds = sorted({t["depth"] for t in ts})
        z = np.full((len(ds), len(sws)), np.nan)
        for t in ts:
            z[ds.index(t["depth"]), sws.index(round(t["sigma_w2"], 6))] = t["accuracy"]
        x_e = _edges(sws)
        y_e = _edges(ds) if len(ds) > 1 else np.array([0.0, ds[0] * 1.1 + 1])
        y_e[0] = max(0.0, y_e[0])
        mesh = ax.pcolormesh(x_e, y_e, np.ma.masked_invalid(z), cmap="magma", vmin=0.0, vmax=1.0, shading="flat")
        if len(ds) * len(sws) <= 120:
            for i, d in enumerate(ds):
                for j, s in enumerate(sws):
                    if np.isfinite(z[i, j]):
                        ax.text(s, d, f"{z[i, j]:.2f}", ha="center", va="center", fontsize=7,
                                color="k" if z[i, j] > 0.6 else "w")
        if probes:
            ps = [p for p in as_points(probes) if p.sigma_b2 == sb and p.cutoff(metric) is not None]
            if ps:
                best: Dict[float, SweepPoint] = {}
                for p in ps:
                    k = round(p.sigma_w2, 6)
                    if k not in best or p.depth > best[k].depth:
                        best[k] = p
                ks = sorted(best)
                ax.plot(ks, [best[k].cutoff(metric) for k in ks], "o-", color="#e3242b", lw=1.8, ms=3.5,
                        label=f"probe ℓ* ({metric.replace('_', ' ')}, L = {max(p.depth for p in best.values())})")
                pred = [_predicted_depth(best[k]) for k in ks]
                if any(v is not None for v in pred):
                    ax.plot(ks, [np.nan if v is None else v for v in pred], "D-.", color="#f0f0f0", mec="#333333", lw=1.8,
                            ms=4, zorder=5, path_effects=[patheffects.withStroke(linewidth=3.2, foreground="#333333")],
                            label="predicted deepest trainable (the verdict's: ξ̂ and growth)")
        if activation:
            xs, ys, _ = _theory_curve(sb, np.array(sws), activation, max(ds))
            if xs is not None:
                ax.plot(xs, ys, color="#00bfff", lw=2.2, label="mean field 6ξ_c")
        ax.set_xlim(x_e[0], x_e[-1])
        ax.set_ylim(y_e[0], y_e[-1])
        ax.set_xlabel("weight variance σ_w²")
        ax.set_ylabel("depth L of the trained net")
        thr = f", trainable ⇔ acc ≥ {acc_threshold:.2f}" if acc_threshold is not None else ""
        ax.set_title(f"σ_b² = {sb:g}{thr}", fontsize=10)
        ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    cb = fig.colorbar(mesh, ax=axes[0].tolist(), pad=0.015, fraction=0.05 if len(sbs) == 1 else 0.03)
    split = {(t.get("training") or {}).get("split", "test") for t in rows}
    cb.set_label(f"{'training' if split == {'train'} else 'held-out'} accuracy after training (fraction)")
    fig.suptitle(title or "Ground truth: accuracy of the trained nets", fontsize=11)
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def draw_sweep(out, probes: List[dict], trained: List[dict], *, metric: str = DEFAULT_METRIC,
               acc_threshold: float = 0.2, activation: str = "tanh") -> List[str]:
    """``phase.png`` (when there are probed points) and ``trained.png`` (when there are trained nets)
    in the sweep folder ``out``; returns the names of the files written."""
    out = Path(out)
    files = []
    if probes and plot_phase(probes, out / "phase.png", activation=activation):
        files.append("phase.png")
    if trained and plot_trained(trained, out / "trained.png", probes=probes, metric=metric,
                                acc_threshold=acc_threshold, activation=activation):
        files.append("trained.png")
    return files
