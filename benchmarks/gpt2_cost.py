"""GPT-2 small at random weights: what the probe reads at stage 1, and what it costs next to training.

    python benchmarks/gpt2_cost.py                      # GPT2Model(GPT2Config()), 512 sequences of 128 tokens
    python benchmarks/gpt2_cost.py --sequences 128      # a slow machine
    python benchmarks/gpt2_cost.py --n-layer 2 --n-embd 64 --sequences 64   # a smoke test

The model is ``transformers.GPT2Model(GPT2Config(...))``, probed with automatic stages (its 12
blocks) on random token ids (``reprobe.data`` ``tokens``): fit on the sequences, evaluated on
``--samples`` held-out ones. Prints the held-out R² of every stage's one-step decoder (stage 1:
the embedded sequence from block 0's output), whether any decoder was underdetermined, and the
probe's fit + evaluate time next to one training epoch over the same sequences: Adam on the
language-modelling loss of ``GPT2LMHeadModel`` with the same config, batch ``--batch-size``.
``--train-batches N`` times only N batches of the epoch and scales to the whole (said in the output).
Ends with ``probe / epoch = <ratio>``.
"""

from __future__ import annotations

import argparse
import time

import torch

from reprobe import CascadeProbe
from reprobe.data import load_dataset


def one_step_r2(probe: CascadeProbe, ids: torch.Tensor) -> list:
    """Held-out R² of each stage's decoder c^ℓ(z^ℓ) against z^{ℓ-1} (over all tokens and features)."""
    zs = probe.activations(ids)
    out = []
    with torch.no_grad():
        for l in range(1, len(zs)):
            target, pred = zs[l - 1], probe.decoders[l - 1](zs[l].to(probe.device)).cpu()
            out.append(1 - float(((pred - target) ** 2).sum() / ((target - target.mean(0)) ** 2).sum()))
    return out


def probe_time(model, train_ids, test_ids, samples: int):
    t0 = time.perf_counter()
    with CascadeProbe(model, samples=samples, device="cpu", progress=False) as probe:
        result = probe.fit(train_ids).evaluate(test_ids)
        elapsed = time.perf_counter() - t0
        r2 = one_step_r2(probe, test_ids[:min(len(test_ids), 64)])
    return elapsed, result, r2


def epoch_time(config, ids: torch.Tensor, batch_size: int, batches: int = 0) -> tuple:
    """Seconds for one epoch of LM training over ``ids`` (timed over ``batches`` batches and scaled, if > 0)."""
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    starts = list(range(0, len(ids), batch_size))
    timed = starts[:batches] if batches else starts
    t0 = time.perf_counter()
    for s in timed:
        x = ids[s:s + batch_size]
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) * len(starts) / len(timed), len(timed), len(starts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sequences", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--samples", type=int, default=100, help="held-out sequences the probe evaluates")
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--n-embd", type=int, default=768)
    ap.add_argument("--batch-size", type=int, default=8, help="training batch")
    ap.add_argument("--train-batches", type=int, default=0, help="time only this many training batches (0: all)")
    args = ap.parse_args()
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(n_layer=args.n_layer, n_embd=args.n_embd, n_head=max(1, args.n_embd // 64))
    data = load_dataset("tokens", vocab=config.vocab_size, length=args.tokens, size=args.sequences + args.samples,
                        test_fraction=args.samples / (args.sequences + args.samples))
    train_ids, test_ids = data.train.tensors[0], data.test.tensors[0]
    torch.manual_seed(0)
    model = GPT2Model(config)
    print(f"GPT-2 {args.n_layer}x{args.n_embd}, {len(train_ids)} sequences of {args.tokens} tokens "
          f"(+{len(test_ids)} held out), {torch.get_num_threads()} threads", flush=True)
    seconds, result, r2 = probe_time(model, train_ids, test_ids, args.samples)
    print("stage R² (one step, held out):", " ".join(f"{v:.3f}" for v in r2))
    print(f"stage-1 R² = {r2[0]:.3f}; decoders: {sorted(set(s['decoder'] for s in result.stage_dicts()))}")
    under = [w for w in result.warnings if "underdetermined" in w]
    print(f"underdetermined warning: {under[0] if under else 'none'}")
    print(f"probe: fit {result.timings['fit']:.1f} s + evaluate {result.timings['evaluate']:.1f} s = {seconds:.1f} s",
          flush=True)
    epoch, timed, total = epoch_time(config, train_ids, args.batch_size, args.train_batches)
    scaled = "" if timed == total else f" (timed {timed} of {total} batches, scaled)"
    print(f"one training epoch: {epoch:.1f} s{scaled}")
    print(f"probe / epoch = {seconds / epoch:.3f}")


if __name__ == "__main__":
    main()
