"""Phase diagrams of a sweep (paper Fig. 4): entropy over (σ_w², stage ℓ), with ℓ* and 6ξ_c on top.

``plot_phase(points, path, theory=…)`` — one panel per σ_b²: σ_w² on the horizontal axis, stage ℓ
vertical, colour = differential entropy of the reconstruction from stage ℓ (each probed net's
per-stage curve is one column), the measured cutoff ℓ*(σ_w²) and the mean-field 6ξ_c drawn over it.
``plot_trained(trained, path, …)`` — the ground truth: test accuracy over (σ_w², depth).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .plotting import metric_label  # noqa: E402


def _edges(x: Sequence[float]) -> np.ndarray:
    x = np.asarray(sorted(x), dtype=float)
    if len(x) == 1:
        return np.array([x[0] - 0.05, x[0] + 0.05])
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def _theory_curve(sigma_b2: float, sws: np.ndarray, activation: str, cap: float):
    from . import theory as mf

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


def _select(points: List[dict]) -> Dict[float, List[dict]]:
    """Per σ_b²: the probed points of the deepest depth and the first width, one per σ_w²."""
    out: Dict[float, List[dict]] = {}
    for sb in sorted({p["sigma_b2"] for p in points if p.get("metrics")}):
        ps = [p for p in points if p["sigma_b2"] == sb and p.get("metrics")]
        dmax = max(p["depth"] for p in ps)
        ps = [p for p in ps if p["depth"] == dmax]
        w0 = ps[0].get("width")
        ps = [p for p in ps if p.get("width") == w0]
        uniq = {}
        for p in ps:
            uniq.setdefault(round(p["sigma_w2"], 6), p)
        out[sb] = [uniq[k] for k in sorted(uniq)]
    return out


def plot_phase(points: List[dict], path, *, metric: str = "differential_entropy", cutoff_metrics: Sequence[str] = ("relative_entropy", "differential_entropy"),
               activation: Optional[str] = "tanh", title: Optional[str] = None, max_panels: int = 4) -> Optional[Path]:
    """Draw the phase diagram; returns the path, or None when there are no probed points."""
    groups = _select(points)
    if not groups:
        return None
    sbs = list(groups)[:max_panels]
    if not any(p["metrics"].get(metric) for sb in sbs for p in groups[sb]):  # e.g. --metric relative_entropy
        metric = next((m for sb in sbs for p in groups[sb] for m, v in p["metrics"].items() if v), metric)
    allv = np.concatenate([
        np.array([np.nan if v is None else v for v in p["metrics"].get(metric, [])], dtype=float)
        for sb in sbs for p in groups[sb]
    ] or [np.array([np.nan])])
    finite = allv[np.isfinite(allv)]
    vmin, vmax = (np.percentile(finite, 1), np.percentile(finite, 99.5)) if finite.size else (0, 1)
    fig, axes = plt.subplots(1, len(sbs), figsize=(6.4 * len(sbs) + 0.6, 5.0), squeeze=False)
    mesh = None
    styles = {"relative_entropy": ("#e3242b", "-", "o"), "differential_entropy": ("#ff9f1c", "--", "s")}
    for ax, sb in zip(axes[0], sbs):
        ps = groups[sb]
        sws = np.array([p["sigma_w2"] for p in ps])
        L = max(len(p["metrics"].get(metric, [])) for p in ps)
        z = np.full((L, len(ps)), np.nan)
        for j, p in enumerate(ps):
            v = np.array([np.nan if x is None else x for x in p["metrics"].get(metric, [])], dtype=float)
            z[: len(v), j] = v
        x_e = _edges(sws)
        y_e = np.arange(0.5, L + 1.0, 1.0)
        mesh = ax.pcolormesh(x_e, y_e, np.ma.masked_invalid(z), cmap="viridis", vmin=vmin, vmax=vmax, shading="flat")
        for m in cutoff_metrics:
            cuts = [(p.get("cutoffs") or {}).get(m) for p in ps]
            if all(c is None for c in cuts):
                continue
            col, ls, mk = styles.get(m, ("#e74c3c", ":", "^"))
            ax.plot(sws, [np.nan if c is None else c for c in cuts], ls=ls, marker=mk, ms=3.5, color=col, lw=1.8,
                    label=f"cutoff ℓ* ({m.replace('_', ' ')})")
        if activation:
            xs, ys, crit = _theory_curve(sb, sws, activation, L)
            if xs is not None:
                ax.plot(xs, ys, color="#00bfff", lw=2.2, label=f"mean field 6ξ_c ({activation})")
                if crit is not None and sws.min() - 0.05 <= crit <= sws.max() + 0.05:
                    ax.axvline(crit, color="#00bfff", lw=1.2, ls=":", label=f"edge of chaos σ_w² = {crit:.3f}")
        ax.set_xlim(x_e[0], x_e[-1])
        ax.set_ylim(0.5, L + 0.5)
        ax.set_xlabel("weight variance σ_w²")
        ax.set_ylabel("stage ℓ (depth)")
        width = ps[0].get("width")
        ax.set_title(f"σ_b² = {sb:g}, L = {L}" + (f", width {width}" if width else ""), fontsize=10)
        ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    cb = fig.colorbar(mesh, ax=axes[0].tolist(), pad=0.015, fraction=0.05 if len(sbs) == 1 else 0.03)
    cb.set_label(metric_label(metric))
    fig.suptitle(title or "Reconstruction entropy phase diagram (colour: entropy of x̂ from stage ℓ)", fontsize=11)
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_trained(trained: List[dict], path, *, probes: Optional[List[dict]] = None, metric: str = "relative_entropy",
                 acc_threshold: Optional[float] = None, activation: Optional[str] = "tanh",
                 title: Optional[str] = None) -> Optional[Path]:
    """Test accuracy after training over (σ_w², depth), one panel per σ_b², with ℓ* and 6ξ_c on top."""
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
            ps = [p for p in probes if p["sigma_b2"] == sb and (p.get("cutoffs") or {}).get(metric) is not None]
            if ps:
                best: Dict[float, dict] = {}
                for p in ps:
                    k = round(p["sigma_w2"], 6)
                    if k not in best or p["depth"] > best[k]["depth"]:
                        best[k] = p
                ks = sorted(best)
                ax.plot(ks, [best[k]["cutoffs"][metric] for k in ks], "o-", color="#e3242b", lw=1.8, ms=3.5,
                        label=f"probe ℓ* ({metric.replace('_', ' ')}, L = {max(p['depth'] for p in best.values())})")
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
    cb.set_label("test accuracy after training (fraction)")
    fig.suptitle(title or "Ground truth: accuracy of the trained nets", fontsize=11)
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
