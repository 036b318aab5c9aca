"""The probe: hooks, decoders, fitting, cascades, results, the memory estimate of a probe run
(:mod:`reprobe.probe.memory`, imported on use), and a probe on inputs held out from its fit
(:mod:`reprobe.probe.held_out`, behind ``reprobe.check``).

Layer: above the foundations (core, adapters, metrics, data, models), below analysis; it never
imports analysis, experiments, figures, report or the CLI.
"""

from .decoders import (  # noqa: F401
    DECODERS, DecoderKind, DecoderSize, DecoderSpec, LinearDecoder, build_decoder, choose_out_activation, decoder_size,
    get_decoder, list_decoders, register_decoder)
from .hooks import StageHooks, select_output  # noqa: F401
from .config import ProbeConfig, RunOptions, resolve_device  # noqa: F401
from .probe import CascadeProbe  # noqa: F401
from .stages import StageInfo  # noqa: F401
from .result import ProbeResult  # noqa: F401
from . import conv_decoders  # noqa: F401  (feature-map decoders)
from . import token_decoders  # noqa: F401  (token-sequence decoders)
from .batched import BatchedMLPProbe, NotBatchable  # noqa: F401  (K equal-shape MLPs probed together)
