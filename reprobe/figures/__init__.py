"""Pictures (matplotlib, Agg backend), drawn from results and saved numbers.

* :mod:`reprobe.figures.run` — one run: entropy vs depth with cutoffs, reconstruction grids, tiles;
* :mod:`reprobe.figures.phase` — a sweep's phase diagrams and ground-truth accuracy maps;
* :mod:`reprobe.figures.report` — the figures embedded in HTML reports (PNG bytes).

Layer: above :mod:`reprobe.experiments`; imports analysis and the foundations only.
:meth:`reprobe.ProbeResult.save` reaches :func:`reprobe.figures.run.save_plots` through the plot
writer that :mod:`reprobe` installs, not by importing it.
"""
