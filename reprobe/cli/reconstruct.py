"""``reprobe reconstruct``: look inside a probed network with its saved decoders.

    reprobe run --model vgg16 --image-size 64 --save-decoders --out runs/vgg
    reprobe reconstruct runs/vgg --image cat.png --out cat_stages.png            # every stage
    reprobe reconstruct runs/vgg --image cat.png --stage features.30 --channel 7 --out ch7.png
    reprobe reconstruct runs/vgg --class 3 --out class3.png   # one-hot output through the cascade

The model is rebuilt from ``result.json`` (model spec, options, seed, weights, image size) and the
decoders from ``decoders.pt`` (``reprobe run … --save-decoders``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
import torch

from ..core.errors import ReprobeError
from ..experiments.run import rebuild_probe

def _tile(label: str, im: torch.Tensor, transform, stretch: bool = False, colorbar: bool = False):
    """A labelled tile of one reconstruction, in the pixel units of the run's images."""
    from ..data.images import denormalise
    from ..figures.run import Tile

    im = im.detach().float().cpu()
    if im.dim() != 3:
        raise ReprobeError(f"reconstructions of shape {tuple(im.shape)} are not images; nothing to draw")
    # Stretched and false-colour tiles show the values as they are, not clipped to an image's range.
    return Tile(label, denormalise(im, transform, clamp=not (stretch or colorbar)).numpy(), stretch, colorbar)


@click.command("reconstruct")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--image", "image_path", type=click.Path(dir_okay=False), default=None,
              help="image file to reconstruct (resized/normalised as in the run)")
@click.option("--stage", default=None, help="only this stage (module name or index); default: every stage")
@click.option("--channel", type=int, default=None, help="keep only this channel of the stage's feature map (others zeroed)")
@click.option("--class", "class_index", type=int, default=None,
              help="push a one-hot output vector of this class through the whole cascade (needs a classifier stage last)")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write")
def reconstruct_cmd(run_dir, image_path, stage, channel, class_index, out):
    """Reconstruct an image from every stage (or one, or one channel) with a run's saved decoders."""
    from ..core.io import check_writable_file

    if image_path is None and class_index is None:
        raise ReprobeError("give --image PATH (an image to reconstruct) or --class K (a one-hot output)")
    check_writable_file(out, "--out")
    result, _, probe = rebuild_probe(run_dir)
    transform = (result.data or {}).get("transform")
    with probe:
        tiles = []
        if class_index is not None:
            tiles.append(_tile(f"class {class_index} through all {probe.depth} stages",
                               _class_input(probe, class_index), transform, colorbar=True))
        if image_path is not None:
            tiles += _image_tiles(probe, image_path, stage, channel, transform)
    title = f"{result.model.get('spec') or result.model.get('class')}: " + (
        "what the network takes for a perfect class input" if image_path is None else
        f"the image rebuilt from channel {channel} alone (reconstruction contrast-stretched)" if channel is not None else
        "the image rebuilt from each stage")
    from ..figures.run import plot_tiles

    plot_tiles(tiles, out, title=title)
    click.echo(f"wrote {out} ({len(tiles)} image(s))")


def _class_input(probe, class_index: int) -> torch.Tensor:
    """A one-hot vector of the last (classifier) stage pushed down the whole cascade."""
    last = probe.stages[-1]
    if last.shape is None or len(last.shape) != 1:
        raise ReprobeError(
            f"the last stage {last.name!r} has shape {last.shape}, not a class vector; rerun with the "
            "classifier as a stage (e.g. --preset layers+head or blocks+head)")
    if not 0 <= class_index < last.shape[0]:
        raise ReprobeError(f"--class must be in 0…{last.shape[0] - 1}, got {class_index}")
    z = torch.zeros(1, last.shape[0])
    z[0, class_index] = 1.0
    return probe.cascade(z, probe.depth)[0]


def _image_tiles(probe, image_path: str, stage: Optional[str], channel: Optional[int], transform) -> list:
    """The input, then its reconstruction from every stage (or one; or one channel of it)."""
    from ..data.images import load_image

    x = load_image(image_path, probe.input_shape, transform)[None]
    zs = probe.activations(x)
    if stage is not None:
        levels = [probe.stage_index(int(stage) if str(stage).isdigit() else stage)]
    else:
        levels = list(range(1, probe.depth + 1))
    tiles = [_tile("input", x[0], transform)]
    for l in levels:
        z = zs[l].clone()
        name = probe.stages[l - 1].name
        if channel is not None:
            if z.dim() != 4:
                raise ReprobeError(f"stage {name!r} has no channels (shape {tuple(z.shape[1:])})")
            if not 0 <= channel < z.shape[1]:
                raise ReprobeError(f"--channel must be in 0…{z.shape[1] - 1} for stage {name!r}")
            keep = z[:, channel].clone()
            z.zero_()
            z[:, channel] = keep
        label = f"ℓ = {l}: {name}" + (f", channel {channel}" if channel is not None else "")
        tiles.append(_tile(label, probe.cascade(z, l)[0], transform, stretch=channel is not None))
    return tiles

COMMANDS = [reconstruct_cmd]
