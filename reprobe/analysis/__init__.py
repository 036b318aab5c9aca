"""Pure functions over probe results: correlation length ξ̂ (and, later, the trainability prediction)."""

from .correlation import SaturationFit, fit_saturation, fitted_curve  # noqa: F401
