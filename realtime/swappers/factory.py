"""The swapper options every command shares (--swapper, --model, --identity-model, --trust-pickle, --compile) and
the one function that turns them into a swapper."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from realtime.errors import UsageError
from realtime.models.store import ModelEntry, ModelStore
from realtime.swappers.classic import ClassicSwapper
from realtime.swappers.color import COLOR_MODES

__all__ = [
    "DEFAULT_BLEND",
    "SWAPPERS",
    "add_swapper_arguments",
    "check_swapper_args",
    "make_swapper",
    "resolve_models",
    "swapper_kind",
]

SWAPPERS = ("auto", "classic", "simswap", "inswapper")
# The paste each swapper gets with --blend auto. The classic swapper's is what bench/quality.py scores best (feathered
# edges kept the colour and detail its shading transfer gives; the Poisson solve brightened and paled faces, see
# bench/results/quality-*.json); the neural swappers keep the Poisson blend until that bench has been run with
# their models.
DEFAULT_BLEND = {"classic": "feather", "simswap": "poisson", "inswapper": "poisson"}


def add_swapper_arguments(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """Add --swapper, --color, --model, --identity-model, --trust-pickle, --pixel-boost and --compile to a parser or
    argument group."""
    group.add_argument(
        "--swapper",
        choices=SWAPPERS,
        default="auto",
        help="classic: landmark warp, no weights; simswap: a SimSwap-style generator; inswapper: insightface's "
        "inswapper_128.onnx; auto: by --model's kind, and without --model the best installed neural swapper "
        "(python -m realtime.models), else classic",
    )
    group.add_argument(
        "--color",
        choices=("auto", *COLOR_MODES),
        default="auto",
        help="how the classic swapper's warped face takes the target's colour and light: shading (its detail, the "
        "target's low frequencies; auto), lab (Lab mean and spread), none",
    )
    group.add_argument(
        "--model",
        type=Path,
        help="realtime or SimSwap generator checkpoint (*_net_G.pth), or inswapper_128.onnx; a file or the name of "
        "an installed model (python -m realtime.models list)",
    )
    group.add_argument(
        "--identity-model",
        type=Path,
        help="the ArcFace the generator was trained with: insightface recognition .onnx or arcface_torch .pth, a "
        "file or a model name (default for a named --model: the identity model it was trained with)",
    )
    group.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow model files that are pickled Python objects (loading them runs code from the file)",
    )
    group.add_argument(
        "--simswap-variant",
        choices=("auto", "released", "trainpy"),
        default="auto",
        help="how a SimSwap generator file was trained: released (SimSwap's downloads: tanh, [0,1] images) or "
        "trainpy (SimSwap's current train.py: ImageNet-normalised images, no tanh; its checkpoints look the same "
        "but give wrong colours and stripes when run as released); auto: trainpy when <step>_optim_G.pth lies "
        "beside the file",
    )
    group.add_argument(
        "--pixel-boost",
        type=int,
        choices=(256, 512),
        help="run a 128-px swapper (inswapper) on the 4 or 16 sub-pixel-shifted 128-px views of a 256/512 crop and "
        "interleave them: a sharper face at 4x/16x the swapper's cost",
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
    return _kind_of_file(str(args.model))


def _kind_of_file(file: str) -> str:
    """The neural swapper a model file is for: inswapper for ONNX, simswap for a torch checkpoint."""
    return "inswapper" if file.endswith(".onnx") else "simswap"


def check_swapper_args(args: argparse.Namespace) -> None:
    """UsageError for option combinations that cannot work, as far as they can be told before models are looked
    up (:func:`resolve_models` checks the rest once the swapper is known)."""
    if args.swapper == "classic" and (args.model or args.identity_model):
        raise UsageError("--model and --identity-model are for neural swappers; drop them or pick one with --swapper")
    if args.swapper != "auto" or (args.model is not None and Path(args.model).expanduser().exists()):
        _check_kind_options(args)  # a model name tells its kind only once resolved (resolve_models checks then)


def _check_kind_options(args: argparse.Namespace) -> None:
    if args.color != "auto" and swapper_kind(args) != "classic":
        raise UsageError("--color is for the classic swapper (neural swappers render colour themselves)")
    if args.compile and swapper_kind(args) != "simswap":
        raise UsageError("--compile is for the simswap swapper (a torch generator given with --model)")
    if args.simswap_variant != "auto" and swapper_kind(args) != "simswap":
        raise UsageError("--simswap-variant is for the simswap swapper (a SimSwap generator file)")
    if args.pixel_boost and swapper_kind(args) != "inswapper":
        raise UsageError("--pixel-boost is for 128-px swappers (inswapper)")


# What --swapper auto prefers among installed models: inswapper (the field's workhorse), then SimSwap's releases,
# whose identity model is a pickled module and so is used only with --trust-pickle.
SWAPPER_PREFERENCE = ("inswapper_128", "inswapper_128_fp16", "simswap_512", "simswap_224")


def _usable_swappers(store: ModelStore, family: str | None, trust_pickle: bool) -> list[tuple[ModelEntry, str]]:
    """Installed swappers (of ``family``, "inswapper" or "simswap", or any) whose identity model is installed too
    and loadable (a pickled one only with ``trust_pickle``), best first, each with its identity model's name."""

    def rank(entry: ModelEntry) -> int:
        return SWAPPER_PREFERENCE.index(entry.name) if entry.name in SWAPPER_PREFERENCE else len(SWAPPER_PREFERENCE)

    usable = []
    for entry, _ in sorted(store.installed("swapper"), key=lambda found: rank(found[0])):
        identity = store.manifest.models.get(entry.identity or "")
        if (family is not None and _kind_of_file(entry.file) != family) or identity is None:
            continue
        if store.find(identity) is None or (identity.pickled and not trust_pickle):
            continue
        usable.append((entry, identity.name))
    return usable


def resolve_models(args: argparse.Namespace, store: ModelStore, note: Callable[[str], None] = lambda _: None) -> None:
    """Turn ``args.model`` / ``args.identity_model`` into paths (a model name becomes its installed file, and a
    named model brings the identity model it was trained with), and for ``--swapper auto`` (or a neural
    ``--swapper``) without ``--model`` pick the best installed swapper; ``note`` says what was picked and why.

    UsageError for a neural swapper with no model at all or no identity model; ModelsMissingError (from the store)
    for a named model that is not installed; InputError for a path that does not exist."""
    if args.model is None and args.swapper != "classic":
        family = None if args.swapper == "auto" else args.swapper
        usable = _usable_swappers(store, family, args.trust_pickle)
        if usable:
            entry, identity = usable[0]
            note(f"swapper: auto picked {entry.name} (installed, with its identity model {identity}): a neural "
                 "swapper over the classic warp")  # fmt: skip
            args.model = Path(entry.name)
        elif args.swapper != "auto":
            raise UsageError(
                f"--swapper {args.swapper} needs --model (or an installed one: python -m realtime.models list)"
            )
        else:
            note("swapper: auto: no neural swapper installed with its identity model (python -m realtime.models "
                 "fetch --recommended), so the classic one")  # fmt: skip
    if args.model is not None:
        names = {e.name: e for e in store.entries()}
        named = None if Path(args.model).expanduser().exists() else names.get(str(args.model))
        args.model = store.resolve(args.model)
        if args.identity_model is None and named is not None and named.identity:
            args.identity_model = Path(named.identity)
        if args.identity_model is None and args.model.suffix != ".onnx":
            from realtime.models.checkpoint import recorded_identity_model

            args.identity_model = recorded_identity_model(args.model)  # what training.train recorded, if anything
            note(f"identity model: {args.identity_model} (recorded in the checkpoint)")
        if args.identity_model is None:
            raise UsageError("a generator needs the identity model it was trained with: --identity-model FILE")
        args.identity_model = store.resolve(args.identity_model)
    _check_kind_options(args)


def make_swapper(args: argparse.Namespace, device: str, note: Callable[[str], None] = lambda _: None):  # type: ignore[no-untyped-def]
    """The classic swapper, or a :class:`~realtime.swappers.neural.NeuralSwapper` for ``args.model`` on ``device``
    ("cpu" or "cuda"); ``note`` receives one line saying which. Model-file problems raise InputError."""
    if swapper_kind(args) == "classic":
        color = "shading" if args.color == "auto" else args.color
        note(f"swapper: classic (landmark warp, {color} colour)")
        return ClassicSwapper(color=color)
    from realtime.models.identity import load_identity_encoder
    from realtime.swappers.neural import GeneratorEngine, InswapperEngine, NeuralSwapper

    if swapper_kind(args) == "inswapper":
        engine: GeneratorEngine | InswapperEngine = InswapperEngine(args.model, device)
        note(f"swapper: inswapper (128px) from {args.model}")
    else:
        from realtime.models.checkpoint import load_generator

        generator = load_generator(args.model, trust_pickle=args.trust_pickle, variant=args.simswap_variant)
        engine = GeneratorEngine(generator, device, compile=args.compile)
        cfg = generator.config
        compiled = ", torch.compile" if args.compile else ", CUDA graphs per face count" if engine.graphed else ""
        trained = ", trained by SimSwap's train.py" if cfg.variant == "trainpy" else ""
        note(
            f"swapper: simswap ({cfg.resolution}px, {cfg.block} blocks, {cfg.conv} convs{compiled}{trained}) "
            f"from {args.model}"
        )
    encoder = load_identity_encoder(args.identity_model, trust_pickle=args.trust_pickle).to(device)
    if args.pixel_boost:
        note(f"pixel boost: {args.pixel_boost}px from {(args.pixel_boost // engine.size) ** 2} views per face")
    return NeuralSwapper(engine, encoder, pixel_boost=args.pixel_boost)
