"""Experiments built from names: one probe run, comparisons, sweeps, critical-point search and
ground-truth training.

* :mod:`reprobe.experiments.run` — data + model + probe names → :class:`~reprobe.probe.ProbeResult`;
* :mod:`reprobe.experiments.compare` — probe several models on the same data and rank them;
* :mod:`reprobe.experiments.sweep` — grids over the phase diagram, run in parallel, resumable;
  :func:`~reprobe.experiments.sweep.finalize_sweep` writes ``sweep.json``;
* :mod:`reprobe.experiments.critical` — probe records for the critical σ_w² search
  (the search itself is :mod:`reprobe.analysis.critical`);
* :mod:`reprobe.experiments.ground_truth` — train a network with SGD and measure its accuracy.
"""
