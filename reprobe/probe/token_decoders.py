"""Decoders for token stages: sequences (T, d) back to sequences (T, d') (registered above ``linear``).

A transformer block's output is a sequence of T token vectors. Decoding it as one flattened vector
of T·d features needs a (T·d)² Gram matrix and more than T·d/2 training sequences before it is
determined (GPT-2 at 128 tokens × 768: 98k features). The ``token`` decoder is shared across
positions instead, as the sub-pixel decoders are across patch positions: one row per token, so
that one sequence gives T rows, and it is solved in closed form from the same single pass.

Attention mixes tokens, so each token's features carry the context a block mixed in: the token
itself and the mean of the tokens up to it (the causal prefix mean: uniform causal attention, which
random-weight attention nearly is, mixes in exactly that), plus a bias per position that is not
penalised by the ridge (position embeddings add a fixed vector per position; it is absorbed exactly,
see :meth:`TokenDecoder.fit_closed_form`).

What each feature buys, measured on GPT-2 small at random weights (128 sequences of 128 tokens,
ridge 0.1, held-out R² of block 2's input from its output; ``benchmarks/gpt2_cost.py`` for the
whole net): the token alone 0.865; with the sequence mean 0.880; with the prefix mean 0.884; with
the prefix mean and position biases 0.892; adding the sequence mean to those changes < 0.003, so
it is left out. Squared features did not help (0.857): what a linear decoder cannot undo there is
the MLP's GELU, not the mixing.

Sequences of at most :data:`MAX_FLAT_TOKEN_FEATURES` numbers keep the flattened ``flatten-linear``
decoder, which can undo any mixing and is well determined by the default 2048 fit inputs.

``patch``: a vision transformer's first block (T, d) back to its image (C, H, W): the tokens after
the class/register tokens are the patches of a grid, and one Linear shared by all patches maps each
to its p×p pixels (the inverse of a patch embedding), again one row per patch.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
from einops import rearrange

from .decoders import ClosedFormMixin, DecoderSpec, register_decoder, squash
from .ridge import ridge_solution

#: Token stages with at most this many numbers (T·d) are decoded flattened: 2048 fit inputs give
#: such a decoder 8 rows per feature.
MAX_FLAT_TOKEN_FEATURES = 256


def prefix_mean(z: torch.Tensor) -> torch.Tensor:
    """Per position t, the mean of tokens 0…t of ``z`` (N, T, d)."""
    counts = torch.arange(1, z.shape[1] + 1, device=z.device, dtype=z.dtype).view(1, -1, 1)
    return z.cumsum(1) / counts


class TokenDecoder(ClosedFormMixin, nn.Module):
    """One Linear shared by all positions on [token, prefix mean], plus a bias per position.

    Args:
        spec: the stage's shapes (T, d) → (T, d') and output activation.
    """

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        (self.length, d), (_, k) = spec.in_shape, spec.out_shape
        self.linear = nn.Linear(2 * d, k)
        self.position_bias = nn.Parameter(torch.zeros(self.length, k))
        self.out_activation, self.bounds = spec.out_activation, spec.bounds
        # The closed form's design: the 2d token features, then one indicator column per position.
        self.n_features, self.n_targets = 2 * d + self.length, k
        self.rows_per_input = self.length

    def token_features(self, z: torch.Tensor) -> torch.Tensor:
        """(N, T, 2d): each token next to the mean of the tokens up to it."""
        return torch.cat([z, prefix_mean(z)], -1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.linear(self.token_features(z)) + self.position_bias
        return squash(y, self.out_activation, self.bounds, self.closed_form)

    def design(self, z, y, positions=None, generator=None):
        n, t = z.shape[:2]
        a = self.token_features(z)
        if positions is None or positions >= t:
            where = torch.arange(t, device=z.device).expand(n, t)
        else:
            where = torch.randint(t, (n, positions), generator=generator).to(z.device)
        rows = torch.arange(n, device=z.device)[:, None]
        indicator = nn.functional.one_hot(where, t).to(a.dtype)
        features = torch.cat([a[rows, where], indicator], -1)
        return features.reshape(-1, self.n_features), y[rows, where].reshape(-1, self.n_targets)

    @torch.no_grad()
    def fit_closed_form(self, gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> None:
        """Ridge on the token features, with the position biases left unpenalised: the indicator
        columns are eliminated exactly (features and targets centred per position), then the
        biases are the per-position means of what the shared map leaves."""
        d = self.n_features - self.length
        g, c = gram.double(), cross.double()
        g_aa, g_ap, counts = g[:d, :d], g[:d, d:d + self.length], torch.diagonal(g)[d:d + self.length]
        c_a, c_p = c[:d], c[d:d + self.length]
        inv = torch.where(counts > 0, 1.0 / counts.clamp_min(1.0), torch.zeros_like(counts))
        centred_g = torch.zeros(d + 1, d + 1, dtype=g.dtype, device=g.device)
        centred_g[:d, :d] = g_aa - (g_ap * inv) @ g_ap.T
        centred_c = torch.zeros(d + 1, c.shape[1], dtype=c.dtype, device=c.device)
        centred_c[:d] = c_a - (g_ap * inv) @ c_p
        weight, _ = ridge_solution(centred_g, centred_c, ridge)
        bias = (c_p - g_ap.T @ weight.T.to(g.dtype)) * inv[:, None]  # (T, K): per position, mean target − W·mean feature
        seen = counts > 0
        if bool(seen.any()) and not bool(seen.all()):
            bias[~seen] = bias[seen].mean(0)
        self.linear.weight.copy_(weight.to(self.linear.weight.dtype))
        self.linear.bias.zero_()
        self.position_bias.copy_(bias.to(self.position_bias.dtype))
        self.closed_form = True


def _is_sequence(shape) -> bool:
    return len(shape) == 2


@register_decoder("token", priority=55,
                  help="token stages (T, d) -> (T, d'): one Linear shared by positions on [token, prefix mean] + a bias per position",
                  example=DecoderSpec((20, 16), (20, 12)))
def _token_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if not (_is_sequence(spec.in_shape) and _is_sequence(spec.out_shape)):
        return None
    if spec.in_shape[0] != spec.out_shape[0] or math.prod(spec.in_shape) <= MAX_FLAT_TOKEN_FEATURES:
        return None
    return TokenDecoder(spec)


#: A vision transformer puts at most this many class/register tokens before its patches.
MAX_PREFIX_TOKENS = 8


def patch_grid(tokens: int, height: int, width: int):
    """(prefix tokens, patch side p) such that the last tokens are the (H/p)×(W/p) patches, or None."""
    for prefix in range(min(MAX_PREFIX_TOKENS, tokens - 1) + 1):
        patches = tokens - prefix
        side = math.isqrt(height * width // patches) if height * width % patches == 0 else 0
        if side and side * side * patches == height * width and height % side == 0 and width % side == 0:
            return prefix, side
    return None


class PatchDecoder(ClosedFormMixin, nn.Module):
    """One Linear shared by all patch tokens, d → C·p², each token to its p×p patch of the image."""

    def __init__(self, spec: DecoderSpec, prefix: int, side: int):
        super().__init__()
        (tokens, d), (c, h, w) = spec.in_shape, spec.out_shape
        self.prefix, self.side, self.grid = prefix, side, (h // side, w // side)
        self.linear = nn.Linear(d, c * side * side)
        self.out_activation, self.bounds = spec.out_activation, spec.bounds
        self.n_features, self.n_targets = d, c * side * side
        self.rows_per_input = tokens - prefix

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.linear(z[:, self.prefix:])
        y = rearrange(y, "b (h w) (c p q) -> b c (h p) (w q)", h=self.grid[0], p=self.side, q=self.side)
        return squash(y, self.out_activation, self.bounds, self.closed_form)

    def design(self, z, y, positions=None, generator=None):
        a = z[:, self.prefix:]
        t = rearrange(y, "b c (h p) (w q) -> b (h w) (c p q)", p=self.side, q=self.side)
        if positions is not None and positions < a.shape[1]:
            where = torch.randint(a.shape[1], (a.shape[0], positions), generator=generator).to(z.device)
            rows = torch.arange(a.shape[0], device=z.device)[:, None]
            a, t = a[rows, where], t[rows, where]
        return a.reshape(-1, self.n_features), t.reshape(-1, self.n_targets)

    def set_solution(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.linear.weight.copy_(weight.to(self.linear.weight.dtype))
        self.linear.bias.copy_(bias.to(self.linear.bias.dtype))


@register_decoder("patch", priority=55,
                  help="a vision transformer's tokens (T, d) back to its image (C, H, W): one Linear per patch token to its pixels",
                  example=DecoderSpec((17, 32), (3, 16, 16)))
def _patch_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if not (_is_sequence(spec.in_shape) and len(spec.out_shape) == 3):
        return None
    grid = patch_grid(spec.in_shape[0], spec.out_shape[1], spec.out_shape[2])
    if grid is None or math.prod(spec.in_shape) * math.prod(spec.out_shape) <= 4 * MAX_FLAT_TOKEN_FEATURES ** 2:
        return None
    return PatchDecoder(spec, *grid)
