"""Pictures: entropy vs depth with cutoffs, and reconstruction grids (paper Fig. 1/2).

All functions use matplotlib's Agg backend (no display needed) and write PNG files.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from ..analysis import correlation_lengths, describe, fitted_curve  # noqa: E402

METRIC_LABELS = {
    "relative_entropy": "relative entropy D(x‖x̂) [nats]",
    "differential_entropy": "differential entropy S [nats]",
    "mse": "MSE (input units²)",
}


def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_", " "))


def as_image(x: np.ndarray) -> np.ndarray:
    """One input (any shape) as something ``imshow`` can draw: (H, W) grey or (H, W, 3) colour.

    (C, H, W) with C = 1 or 3 → an image; other (C, H, W) → the channel mean; (H, W) as is;
    a vector of a square length → a square; any other vector → one row.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        if x.shape[0] == 1:
            return x[0]
        if x.shape[0] == 3:
            return np.transpose(x, (1, 2, 0))
        return x.mean(0)
    if x.ndim == 2:
        return x
    flat = x.reshape(-1)
    side = int(round(math.sqrt(flat.size)))
    if side * side == flat.size:
        return flat.reshape(side, side)
    return flat.reshape(1, -1)


def pick_columns(depth: int, max_columns: int = 10, always: Sequence[int] = ()) -> list[int]:
    """Stage indices to show: all when few, else evenly spaced from 1 to L plus ``always``."""
    if depth <= max_columns:
        cols = list(range(1, depth + 1))
    else:
        cols = sorted({int(round(v)) for v in np.linspace(1, depth, max_columns)})
    cols = sorted(set(cols) | {c for c in always if c and 1 <= c <= depth})
    return cols


def _norm(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        return np.zeros_like(img)
    return np.clip((img - lo) / (hi - lo), 0.0, 1.0)


def reconstruction_grid(recon: np.ndarray, cutoff: Optional[int] = None, examples: int = 6, max_columns: int = 10,
                        cell: tuple = (1.25, 1.3), margin: tuple = (0.4, 0.35),
                        stage_names: Optional[list] = None):
    """A figure with a row per input: the input, then its reconstructions from selected stages.

    Args:
        recon: array (L + 1, N, *input_shape); index 0 holds the inputs.
        cutoff: ℓ*, always shown and marked in red.
        examples: rows (inputs) to draw.
        max_columns: stages to show at most (evenly spaced, ℓ* added).
        cell, margin: inches per image and around the grid.
        stage_names: names of stages 1 … L, shown under "ℓ = k" (long names are shortened).

    All images share the inputs' value range, so a reconstruction that fades looks faded.
    """
    recon = np.asarray(recon, dtype=np.float32)
    L = recon.shape[0] - 1
    n = max(1, min(examples, recon.shape[1]))
    cols = [0] + pick_columns(L, max_columns, always=[cutoff] if cutoff else [])
    originals = recon[0, :n]
    finite = originals[np.isfinite(originals)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig, axes = plt.subplots(n, len(cols), figsize=(cell[0] * len(cols) + margin[0], cell[1] * n + margin[1]),
                             squeeze=False)
    for r in range(n):
        for c, l in enumerate(cols):
            ax = axes[r][c]
            img = as_image(np.nan_to_num(recon[l, r], nan=lo, posinf=hi, neginf=lo))
            ax.imshow(_norm(img, lo, hi), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1,
                      interpolation="nearest", aspect="auto" if img.shape[0] == 1 else "equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                marked = bool(l and cutoff and l == cutoff)
                label = ("input" if l == 0 else f"ℓ={l}") + (" (ℓ*)" if marked else "")
                if l and stage_names and l <= len(stage_names):
                    name = str(stage_names[l - 1])
                    label += "\n" + (name if len(name) <= 16 else "…" + name[-15:])
                ax.set_title(label, fontsize=8, color="#b23b2e" if marked else "black")
    return fig


def plot_reconstructions(result, path, examples: int = 6, max_columns: int = 10, title: Optional[str] = None) -> Path:
    """Grid: a row per input, the input first, then its reconstruction from selected stages."""
    marks = [v for v in result.cutoffs.values() if v]
    fig = reconstruction_grid(result.reconstructions.detach().cpu().float().numpy(), marks[0] if marks else None,
                              examples, max_columns, margin=(0.4, 0.8), stage_names=[s.name for s in result.stages])
    fig.suptitle(title or "Reconstructions of held-out inputs from each stage", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_entropy(result, path, title: Optional[str] = None) -> Path:
    """One panel per metric: value vs stage ℓ, the cutoff ℓ* marked as a dashed line, and the
    fitted approach to saturation that gives ξ̂ (grey) where the curve saturates (:func:`entropy_figure`)."""
    fig = entropy_figure(result, title)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def entropy_figure(result, title: Optional[str] = None):
    """The figure of :func:`plot_entropy`, not saved (``ProbeResult.figure``, ``Check.figure``).

    Args:
        result: a probe result.
        title: the title (default: "Reconstruction entropy vs depth (L = …)").

    Returns:
        A matplotlib Figure (close it with ``matplotlib.pyplot.close(fig)`` when done).
    """
    names = list(result.metrics)
    shapes = [s["shape"] if isinstance(s, dict) else s.shape for s in getattr(result, "stages", [])]
    fits = correlation_lengths(result.metrics, shapes, getattr(result, "saturation", None))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    L = result.depth
    x = np.arange(1, L + 1)
    for ax, m in zip(axes[0], names):
        y = result.values(m)
        ax.plot(x, y, marker="o" if L <= 40 else None, ms=3, lw=1.5, color="#1f5fa8")
        fit = fits[m]
        curve = fitted_curve(fit, np.arange(fit.stages[0], fit.stages[-1] + 1)) if fit.stages else None
        if curve is not None:
            ax.plot(np.arange(fit.stages[0], fit.stages[-1] + 1), curve, color="#7f7f7f", lw=1.2, ls=":",
                    label=f"fit: {describe(fit)}")
        elif fit.lower_bound:
            ax.plot([], [], " ", label=describe(fit))  # a bound has no curve to draw, only words
        cut = result.cutoffs.get(m)
        if cut:
            ax.axvline(cut, ls="--", color="#c0392b", lw=1.2, label=f"ℓ* = {cut} ({result.cutoff_detector})")
        if cut or fit.xi is not None:
            ax.legend(fontsize=8, loc="best")
        bad = ~np.isfinite(y)
        if bad.any():
            ax.plot(x[bad], np.full(bad.sum(), np.nanmin(y) if np.isfinite(y).any() else 0), "x", color="#c0392b")
        ax.set_xlabel("stage ℓ (depth)")
        ax.set_ylabel(metric_label(m))
        ax.set_xlim(0.5, L + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # stages are whole numbers
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"Reconstruction entropy vs depth (L = {L})", fontsize=10)
    fig.tight_layout()
    return fig


@dataclass
class Tile:
    """One labelled picture of a tile figure.

    Attributes:
        label: the title above it ("input", "ℓ = 3: features.8").
        image: (C, H, W), (H, W) or a vector, in display units (an image: [0, 1]).
        stretch: contrast-stretch this tile on its own, in grey (a faint one-channel reconstruction,
            whose colours would only be the decoders' noise).
        colorbar: the values are not an image (e.g. a class pushed through the cascade): draw the
            channel mean in false colour with a colour bar of its values.
    """

    label: str
    image: np.ndarray
    stretch: bool = False
    colorbar: bool = False


def save_plots(result, folder) -> None:
    """``entropy.png`` and (when the result has them) ``reconstructions.png`` in ``folder``."""
    folder = Path(folder)
    plot_entropy(result, folder / "entropy.png")
    if result.reconstructions is not None:
        plot_reconstructions(result, folder / "reconstructions.png")


def _stretch(img: np.ndarray) -> np.ndarray:
    """Map the 1st…99th percentile of ``img`` onto [0, 1] (so a faint tile is readable)."""
    finite = img[np.isfinite(img)]
    if finite.size == 0:
        return np.zeros_like(img)
    lo, hi = np.percentile(finite, [1, 99])
    return _norm(np.nan_to_num(img, nan=lo), float(lo), float(hi)) if hi > lo else np.full_like(img, 0.5)


def _draw_tile(fig, ax, tile: Tile) -> None:
    img = as_image(np.asarray(tile.image, dtype=np.float32))
    if tile.colorbar:
        values = img.mean(-1) if img.ndim == 3 else img
        shown = ax.imshow(values, cmap="magma", interpolation="nearest")
        bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
        bar.ax.tick_params(labelsize=6)
        bar.set_label("pixel value" + (" (mean of RGB)" if img.ndim == 3 else ""), fontsize=6)
    else:
        if tile.stretch:
            img = _stretch(img.mean(-1) if img.ndim == 3 else img)
        else:
            img = np.clip(np.nan_to_num(img), 0.0, 1.0)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest",
                  aspect="auto" if img.shape[0] == 1 else "equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(tile.label, fontsize=7)


def plot_tiles(tiles: List[Tile], path, title: Optional[str] = None, columns: int = 6, cell: Optional[float] = None) -> Path:
    """Write labelled tiles in rows of ``columns`` (``reprobe reconstruct``'s picture).

    Args:
        tiles: the pictures, in reading order.
        path: PNG file to write.
        title: a line above the tiles.
        columns: tiles per row at most.
        cell: inches per tile (default: 1.5, or 2.2 for one or two tiles).

    Returns:
        ``path``.
    """
    cols = max(1, min(columns, len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    wide = any(t.colorbar for t in tiles)
    cell = cell or (2.2 if len(tiles) <= 2 else 1.5)
    width = cell * cols * (1.3 if wide else 1.0) + 0.3
    fig, axes = plt.subplots(rows, cols, figsize=(width, (cell + 0.25) * rows + 0.6), squeeze=False)
    for ax in axes.flat[len(tiles):]:
        ax.axis("off")
    for ax, tile in zip(axes.flat, tiles):
        _draw_tile(fig, ax, tile)
    if title:
        fig.suptitle(textwrap.fill(title, width=int(width * 12)), fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
