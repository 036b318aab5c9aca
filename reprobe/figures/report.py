"""Figures for reports, drawn from saved numbers (nothing is re-probed); each returns PNG bytes."""

from __future__ import annotations

import io
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..analysis.records import as_points  # noqa: E402
from ..core.io import nan_array  # noqa: E402
from .run import metric_label, reconstruction_grid  # noqa: E402

DPI = 120
COLORS = plt.get_cmap("tab10").colors


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def curves_figure(curves: List[Dict], metric: str) -> bytes:
    """Two panels for one metric: value vs stage ℓ, and vs normalised depth ℓ/L.

    ``curves``: dicts with ``name``, ``values`` (stage 1 … L) and ``cutoff`` (ℓ* or None).
    Cutoffs are marked with a filled circle on each curve.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.9))
    for i, c in enumerate(curves):
        y = nan_array(c["values"])
        L = len(y)
        if L == 0:
            continue
        x = np.arange(1, L + 1)
        col = COLORS[i % len(COLORS)]
        mk = "o" if L <= 30 else None
        for ax, xs in ((a1, x), (a2, x / L)):
            ax.plot(xs, y, color=col, lw=1.6, marker=mk, ms=2.5, label=c["name"])
            cut = c.get("cutoff")
            if cut and 1 <= cut <= L and np.isfinite(y[cut - 1]):
                ax.plot([xs[cut - 1]], [y[cut - 1]], "o", ms=8, mfc="none", mec=col, mew=2)
    a1.set_xlabel("stage ℓ (absolute depth)")
    a2.set_xlabel("normalised depth ℓ/L")
    a2.set_xlim(0, 1.02)
    for ax in (a1, a2):
        ax.set_ylabel(metric_label(metric))
        ax.grid(alpha=0.3)
    a1.set_title("vs stage index (circles: cutoff ℓ*)", fontsize=10)
    a2.set_title("vs normalised depth (ℓ* = L sits at 1.0)", fontsize=10)
    handles, labels = a1.get_legend_handles_labels()
    if handles:
        ncol = min(len(labels), 3)
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=9, frameon=False)
        rows = (len(labels) + ncol - 1) // ncol
        fig.tight_layout(rect=(0, 0.06 * rows + 0.02, 1, 1))
    else:
        fig.tight_layout()
    return _png(fig)


def single_curve_figure(values_by_metric: Dict[str, Sequence[Optional[float]]], cutoffs: Dict[str, Optional[int]], detector: str = "") -> bytes:
    """One panel per metric for one run, ℓ* dashed."""
    names = list(values_by_metric)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.8 * max(1, len(names)) + 0.6, 3.4), squeeze=False)
    for ax, m in zip(axes[0], names):
        y = nan_array(values_by_metric[m])
        L = len(y)
        x = np.arange(1, L + 1)
        ax.plot(x, y, marker="o" if L <= 40 else None, ms=3, lw=1.5, color="#1f5fa8")
        cut = cutoffs.get(m)
        if cut:
            ax.axvline(cut, ls="--", color="#c0392b", lw=1.2, label=f"ℓ* = {cut}" + (f" ({detector})" if detector else ""))
            ax.legend(fontsize=8, loc="best")
        ax.set_xlabel("stage ℓ (depth)")
        ax.set_ylabel(metric_label(m))
        if L:
            ax.set_xlim(0.5, L + 0.5)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def recon_strip(recon: np.ndarray, cutoff: Optional[int] = None, examples: int = 2, max_columns: int = 9) -> bytes:
    """Rows of inputs followed by their reconstructions from a few stages (ℓ* included)."""
    fig = reconstruction_grid(recon, cutoff, examples, max_columns, cell=(1.05, 1.12), margin=(0.3, 0.35))
    fig.tight_layout(pad=0.3)
    return _png(fig)


def sweep_points_figure(points: List[Dict], metric_key: str) -> Optional[bytes]:
    """Fallback picture for sweeps without phase.png: ℓ* vs σ_w² (one line per depth/σ_b²)."""
    xs = [(p.sigma_w2, p) for p in as_points(points) if isinstance(p.sigma_w2, (int, float))]
    if not xs:
        return None
    groups: Dict[str, list] = {}
    for sw, p in xs:
        c = p.cutoff(metric_key)
        if c is None:
            continue
        key = f"σ_b²={p.sigma_b2}, L={p.depth}"
        groups.setdefault(key, []).append((sw, c))
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, (k, v) in enumerate(sorted(groups.items())):
        v.sort()
        ax.plot([a for a, _ in v], [b for _, b in v], marker="o", ms=3, color=COLORS[i % len(COLORS)], label=k)
    ax.set_xlabel("σ_w² (weight variance × fan-in)")
    ax.set_ylabel(f"cutoff ℓ* ({metric_key.replace('_', ' ')})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)
