"""The swapper options every command shares (--swapper, --model, --identity-model, --trust-pickle, --compile) and
the one function that turns them into a swapper."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from realtime.errors import UsageError
from realtime.swappers.classic import ClassicSwapper
from realtime.swappers.color import COLOR_MODES

__all__ = ["DEFAULT_BLEND", "SWAPPERS", "add_swapper_arguments", "check_swapper_args", "make_swapper", "swapper_kind"]

SWAPPERS = ("auto", "classic", "simswap", "inswapper")
# The paste each swapper gets with --blend auto. The classic swapper's is what bench/quality.py scores best (feathered
# edges kept the colour and detail its shading transfer gives; the Poisson solve brightened and paled faces, see
# bench/results/quality-*.json); the neural swappers keep the Poisson blend until that bench has been run with
# their models.
DEFAULT_BLEND = {"classic": "feather", "simswap": "poisson", "inswapper": "poisson"}


def add_swapper_arguments(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """Add --swapper, --color, --model, --identity-model, --trust-pickle and --compile to a parser or argument
    group."""
    group.add_argument(
        "--swapper",
        choices=SWAPPERS,
        default="auto",
        help="classic: landmark warp, no weights; simswap: a SimSwap-style generator; inswapper: insightface's "
        "inswapper_128.onnx (both need --model and --identity-model); auto: inswapper for an .onnx --model, "
        "simswap for another --model, classic without one",
    )
    group.add_argument(
        "--color",
        choices=("auto", *COLOR_MODES),
        default="auto",
        help="how the classic swapper's warped face takes the target's colour and light: shading (its detail, the "
        "target's low frequencies; auto), lab (Lab mean and spread), none",
    )
    group.add_argument(
        "--model", type=Path, help="realtime or SimSwap generator checkpoint (*_net_G.pth), or inswapper_128.onnx"
    )
    group.add_argument(
        "--identity-model",
        type=Path,
        help="the ArcFace the generator was trained with: insightface recognition .onnx or arcface_torch .pth",
    )
    group.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow model files that are pickled Python objects (loading them runs code from the file)",
    )
    group.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the generator (simswap swapper): faster frames after a one-off compile of tens of "
        "seconds per batch size",
    )


def swapper_kind(args: argparse.Namespace) -> str:
    """--swapper with auto resolved: classic without --model, inswapper for an .onnx model, else simswap."""
    if args.swapper != "auto":
        return str(args.swapper)
    if args.model is None:
        return "classic"
    return "inswapper" if args.model.suffix == ".onnx" else "simswap"


def check_swapper_args(args: argparse.Namespace) -> None:
    """UsageError for option combinations that cannot work."""
    if args.swapper == "classic" and (args.model or args.identity_model):
        raise UsageError("--model and --identity-model are for neural swappers; drop them or pick one with --swapper")
    if args.color != "auto" and swapper_kind(args) != "classic":
        raise UsageError("--color is for the classic swapper (neural swappers render colour themselves)")
    if args.compile and swapper_kind(args) != "simswap":
        raise UsageError("--compile is for the simswap swapper (a torch generator given with --model)")
    if args.swapper in ("simswap", "inswapper") and args.model is None:
        raise UsageError(f"--swapper {args.swapper} needs --model")
    if args.model is not None and args.identity_model is None:
        raise UsageError("a generator needs the identity model it was trained with: --identity-model ARCFACE")


def make_swapper(args: argparse.Namespace, device: str, note: Callable[[str], None] = lambda _: None):  # type: ignore[no-untyped-def]
    """The classic swapper, or a :class:`~realtime.swappers.neural.NeuralSwapper` for ``args.model`` on ``device``
    ("cpu" or "cuda"); ``note`` receives one line saying which. Model-file problems raise InputError."""
    if swapper_kind(args) == "classic":
        color = "shading" if args.color == "auto" else args.color
        note(f"swapper: classic (landmark warp, {color} colour)")
        return ClassicSwapper(color=color)
    from realtime.models.arcface import load_arcface
    from realtime.swappers.neural import GeneratorEngine, InswapperEngine, NeuralSwapper

    if swapper_kind(args) == "inswapper":
        engine: GeneratorEngine | InswapperEngine = InswapperEngine(args.model, device)
        note(f"swapper: inswapper (128px) from {args.model}")
    else:
        from realtime.models.checkpoint import load_generator

        generator = load_generator(args.model, trust_pickle=args.trust_pickle)
        engine = GeneratorEngine(generator, device, compile=args.compile)
        cfg = generator.config
        compiled = ", torch.compile" if args.compile else ""
        note(f"swapper: simswap ({cfg.resolution}px, {cfg.block} blocks, {cfg.conv} convs{compiled}) from {args.model}")
    encoder = load_arcface(args.identity_model, trust_pickle=args.trust_pickle).to(device)
    return NeuralSwapper(engine, encoder)
