"""The probe: hooks, decoders, fitting, cascades, results, the memory estimate of a probe run
(:mod:`reprobe.probe.memory`, imported on use), and a probe on inputs held out from its fit
(:mod:`reprobe.probe.held_out`, behind ``reprobe.check``).

:class:`CascadeProbe` (:mod:`.probe`) is a façade over modules that each do one job: ``inputs``
(batches from loaders, datasets, tensors), ``state`` (a model frozen for probing and given back as
found), ``hooks`` (stage outputs recorded, or the graph cut at each stage), ``forward`` (choosing
stages, the dry run, skip connections), ``training`` (decoders built and fed), ``cascade`` (every
stage decoded down to the input, over any ``decode(ℓ, h)``), ``evaluation`` (metrics, warnings, the
result) and ``persistence`` (decoders saved and loaded). :class:`BatchedMLPProbe` (:mod:`.batched`)
runs K MLPs through the same cascade and result builder.

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
