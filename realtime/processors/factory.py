"""The options every swapping command shares for the chain between swap and paste (--enhancer, --enhancer-blend,
--mask, --mask-regions and the models behind them) and the one function that turns them into a
:class:`~realtime.processors.chain.FaceChain`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from realtime.errors import UsageError
from realtime.models.store import ModelStore
from realtime.processors.chain import FaceChain, default_masks
from realtime.processors.enhancer import ENHANCER_MODELS, ENHANCERS, FaceEnhancer
from realtime.processors.masks import DEFAULT_REGIONS, MASKS, REGIONS, FaceParser, Occluder

__all__ = ["add_processor_arguments", "check_processor_args", "make_chain"]


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def add_processor_arguments(parser: argparse.ArgumentParser) -> None:
    """An "after the swap" group: --enhancer, --enhancer-blend, --enhancer-model, --mask, --mask-regions,
    --occlusion-model, --parser-model."""
    group = parser.add_argument_group("after the swap (masks and enhancer; models from python -m realtime.models)")
    group.add_argument(
        "--enhancer",
        choices=ENHANCERS,
        default="none",
        help="restore the swapped face before pasting: " + ", ".join(f"{k} ({v})" for k, v in ENHANCER_MODELS.items()),
    )
    group.add_argument(
        "--enhancer-blend",
        type=float,
        default=0.8,
        metavar="0..1",
        help="how much of the enhancer's output replaces the swapped face (default 0.8)",
    )
    group.add_argument("--enhancer-model", help="the enhancer's file or model name (default: --enhancer's model)")
    group.add_argument(
        "--mask",
        default="auto",
        metavar="LIST",
        help="comma-separated masks to combine: box (the swapper's region), occlusion (hands, hair, glasses, a "
        "microphone stay in front), region (--mask-regions, from a face parser), mouth (the target's open mouth "
        "stays); auto: box,mouth for the classic swapper, box for neural ones",
    )
    group.add_argument(
        "--mask-regions",
        default=",".join(DEFAULT_REGIONS),
        metavar="LIST",
        help=f"face-parser regions the region mask keeps, from {', '.join(REGIONS)} "
        f"(default: {','.join(DEFAULT_REGIONS)})",
    )
    group.add_argument("--occlusion-model", default="xseg", help="file or model name for occlusion (default xseg)")
    group.add_argument(
        "--parser-model", default="bisenet_resnet34", help="file or model name for regions (default bisenet_resnet34)"
    )


def check_processor_args(args: argparse.Namespace) -> None:
    """UsageError for values that cannot work."""
    if not 0.0 <= args.enhancer_blend <= 1.0:
        raise UsageError("--enhancer-blend must be in 0..1")
    if args.enhancer_model is not None and args.enhancer == "none":
        raise UsageError("--enhancer-model needs --enhancer NAME")
    if args.mask != "auto":
        unknown = [m for m in _names(args.mask) if m not in MASKS]
        if unknown or not _names(args.mask):
            raise UsageError(f"--mask takes a comma-separated list of {', '.join(MASKS)}; got {args.mask!r}")
    unknown = [r for r in _names(args.mask_regions) if r not in REGIONS]
    if unknown or not _names(args.mask_regions):
        raise UsageError(f"--mask-regions: unknown region(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(REGIONS)}")  # fmt: skip


def make_chain(
    args: argparse.Namespace,
    store: ModelStore,
    swapper_name: str,
    device: str,
    note: Callable[[str], None] = lambda _: None,
) -> FaceChain:
    """The chain the options describe for a swapper called ``swapper_name``, its models (files or names) found
    through ``store`` and run on ``device``; ``note`` receives one line saying what it does. Model problems raise
    UserErrors (a model that is not installed names the fetch command)."""
    masks = default_masks(swapper_name) if args.mask == "auto" else _names(args.mask)
    occluder = Occluder(store.resolve(args.occlusion_model), device) if "occlusion" in masks else None
    parser = FaceParser(store.resolve(args.parser_model), device) if "region" in masks else None
    enhancer = None
    if args.enhancer != "none":
        enhancer = FaceEnhancer(store.resolve(args.enhancer_model or ENHANCER_MODELS[args.enhancer]), device)
    chain = FaceChain(masks, occluder, parser, _names(args.mask_regions), enhancer, args.enhancer_blend)
    enhanced = f", enhancer {args.enhancer} at {args.enhancer_blend:g}" if enhancer is not None else ""
    note(f"masks: {','.join(masks)}{enhanced}")
    return chain
