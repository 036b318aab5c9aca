"""Activations of the mean-field theory: φ with its derivative φ', by name or from any callable."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np

from ..core.errors import ReprobeError, unknown_name_message
from ..core.registry import Registry
from .numerics import ArrayFn

# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Activation:
    """A nonlinearity φ together with its derivative φ'.

    Attributes:
        name: a short name (the registry name, or the callable's ``__name__``).
        fn: the vectorised function ``φ(x)`` on float64 numpy arrays.
        deriv: the vectorised derivative ``φ'(x)``.
        analytic: True when ``deriv`` is exact, False when it is a finite difference.
        homogeneous: for positively homogeneous activations (``φ(a x) = a φ(x)`` for ``a > 0``:
            ReLU, linear) the pair ``(E[φ(z)²], kernel, dkernel)`` used by the closed-form
            solution; ``None`` otherwise.
    """

    name: str
    fn: ArrayFn
    deriv: ArrayFn
    analytic: bool = True
    homogeneous: Optional[Tuple[float, Callable[[float], float], Callable[[float], float]]] = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)


#: Something that names or is an activation: a registry name, a callable φ, or an Activation.
ActivationLike = Union[str, Callable[[np.ndarray], np.ndarray], Activation]


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorised error function (scipy if present, else torch, else :func:`math.erf`)."""
    try:
        from scipy.special import erf as _scipy_erf  # scipy comes with scikit-learn
    except ImportError:  # pragma: no cover - depends on the environment
        try:
            import torch

            return torch.special.erf(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()
        except ImportError:
            return np.vectorize(math.erf, otypes=[np.float64])(x)
    return _scipy_erf(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _relu_kernel(c: float) -> float:
    """``E[relu(z₁) relu(z₂)]`` for unit-variance Gaussians with correlation ``c``."""
    c = min(1.0, max(-1.0, c))
    return (math.sqrt(max(0.0, 1.0 - c * c)) + (math.pi - math.acos(c)) * c) / (2.0 * math.pi)


def _relu_dkernel(c: float) -> float:
    """``E[relu'(z₁) relu'(z₂)]`` for unit-variance Gaussians with correlation ``c``."""
    c = min(1.0, max(-1.0, c))
    return (math.pi - math.acos(c)) / (2.0 * math.pi)


ACTIVATION_REGISTRY: Registry[Activation] = Registry("activation")


def _register(act: Activation, help: str) -> None:
    ACTIVATION_REGISTRY.register(act.name, act, help=help)


_register(
    Activation("tanh", np.tanh, lambda x: 1.0 / np.cosh(x) ** 2),
    "hyperbolic tangent (critical sigma_w2 = 1 at sigma_b2 = 0)",
)
_register(
    Activation(
        "relu",
        lambda x: np.maximum(x, 0.0),
        lambda x: (np.asarray(x) > 0).astype(np.float64),
        homogeneous=(0.5, _relu_kernel, _relu_dkernel),
    ),
    "rectified linear unit, solved in closed form (chi1 = sigma_w2 / 2)",
)
_register(
    Activation(
        "linear",
        lambda x: np.asarray(x, dtype=np.float64),
        lambda x: np.ones_like(np.asarray(x, dtype=np.float64)),
        homogeneous=(1.0, lambda c: c, lambda c: 1.0),
    ),
    "identity, solved in closed form (chi1 = sigma_w2)",
)
_register(
    Activation("erf", _erf, lambda x: (2.0 / math.sqrt(math.pi)) * np.exp(-np.square(x))),
    "error function",
)
_register(
    Activation("sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),
    "logistic sigmoid 1 / (1 + exp(-x))",
)
_register(
    Activation(
        "gelu",
        lambda x: 0.5 * x * (1.0 + _erf(x / _SQRT_2)),
        lambda x: 0.5 * (1.0 + _erf(x / _SQRT_2)) + x * _INV_SQRT_2PI * np.exp(-0.5 * np.square(x)),
    ),
    "Gaussian error linear unit x * Phi(x) (exact, not the tanh approximation)",
)
_register(
    Activation("silu", lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x)))),
    "sigmoid linear unit (swish) x * sigmoid(x)",
)
_register(
    Activation("softplus", lambda x: np.logaddexp(0.0, x), _sigmoid),
    "softplus ln(1 + exp(x))",
)
_register(Activation("sin", np.sin, np.cos), "sine")

#: Names accepted wherever an activation is expected.
ACTIVATIONS: Tuple[str, ...] = tuple(ACTIVATION_REGISTRY.names())


def _vectorise(fn: Callable) -> ArrayFn:
    """Wrap a user callable so that it maps a float64 array to a float64 array of the same shape.

    The callable is first called on the whole array; if that fails or returns the wrong shape
    it is applied element by element (slow, but correct for scalar-only functions).  Torch
    tensors are converted back to numpy.
    """

    def to_numpy(y, shape) -> np.ndarray:
        if hasattr(y, "detach"):  # a torch tensor
            y = y.detach().cpu().numpy()
        y = np.asarray(y, dtype=np.float64)
        if y.shape != shape:
            y = np.broadcast_to(y, shape).astype(np.float64) if y.size == 1 else None
        return y

    state: Dict[str, bool] = {"elementwise": False}

    def wrapped(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not state["elementwise"]:
            try:
                y = to_numpy(fn(x), x.shape)
            except Exception:
                y = None
            if y is not None:
                return y
            state["elementwise"] = True
        try:
            flat = np.array([float(fn(float(v))) for v in x.ravel()], dtype=np.float64)
        except Exception as e:
            raise ReprobeError(
                f"activation {getattr(fn, '__name__', fn)!r} could not be evaluated on floats ({e}); "
                "pass a numpy-vectorised callable phi(x)"
            ) from None
        return flat.reshape(x.shape)

    return wrapped


def _finite_difference(fn: ArrayFn, rel_step: float = 1e-5) -> ArrayFn:
    """Central difference ``(φ(x+h) − φ(x−h)) / 2h`` with ``h = rel_step · (1 + |x|)``."""

    def deriv(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        h = rel_step * (1.0 + np.abs(x))
        return (fn(x + h) - fn(x - h)) / (2.0 * h)

    return deriv


def get_activation(activation: ActivationLike, derivative: Optional[Callable] = None) -> Activation:
    """Resolve a name or a callable into an :class:`Activation`.

    Args:
        activation: a name from :data:`ACTIVATIONS` (case-insensitive), an :class:`Activation`,
            or a numpy-vectorised callable ``φ(x)`` (float64 array in, same-shaped array out;
            scalar-only callables and functions returning torch tensors also work, slower).
        derivative: optional exact derivative ``φ'(x)`` for a callable ``activation``.  Without
            it, ``φ'`` is the central finite difference ``(φ(x+h) − φ(x−h)) / 2h`` with
            ``h = 1e-5 · (1 + |x|)`` (error ~1e-10 for smooth φ; kinks such as ReLU's are
            smeared over a width h, which quadrature barely notices).

    Returns:
        The resolved :class:`Activation`.

    Raises:
        ReprobeError: for an unknown name or something that is neither a name nor a callable.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = activation.strip().lower()
        aliases = {"identity": "linear", "none": "linear", "swish": "silu"}
        key = aliases.get(key, key)
        if key in ACTIVATION_REGISTRY:
            return ACTIVATION_REGISTRY.get(key)
        raise ReprobeError(unknown_name_message("activation", activation, ACTIVATIONS))
    if callable(activation):
        fn = _vectorise(activation)
        if derivative is not None:
            return Activation(_callable_name(activation), fn, _vectorise(derivative), analytic=True)
        return Activation(_callable_name(activation), fn, _finite_difference(fn), analytic=False)
    raise ReprobeError(
        f"activation must be a name ({', '.join(ACTIVATIONS)}) or a callable phi(x), got {type(activation).__name__}"
    )


def _callable_name(fn: Callable) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)
