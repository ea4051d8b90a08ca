"""The options every swapping command shares (``realtime.swap`` and ``realtime.webcam``): source and target
selection, face analysis, swapper and blend, provenance and device; and the one function that builds a
:class:`~realtime.pipeline.FaceSwapPipeline` from them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import torch

from realtime.blend import BLEND_MODES
from realtime.errors import UsageError
from realtime.faces.backends import DETECTORS, create_analyzer
from realtime.faces.detection import DetectionStrategy, InlineDetection
from realtime.faces.types import FaceAnalyzer
from realtime.io.files import default_home
from realtime.mapping import MapEntry, build_map, parse_map_entry, read_map_file
from realtime.models.store import ModelStore
from realtime.pipeline import TARGET_MODES, FaceSwapPipeline, PipelineOptions
from realtime.processors.factory import add_processor_arguments, check_processor_args, make_chain
from realtime.provenance import ContentSigner, resolve_credentials
from realtime.provenance.credentials import CERT_ENV, KEY_ENV
from realtime.source import EMBEDDED, SourceIdentity, load_source
from realtime.swappers.factory import (
    DEFAULT_BLEND,
    add_swapper_arguments,
    check_swapper_args,
    make_swapper,
    resolve_models,
)

__all__ = [
    "add_analysis_arguments",
    "add_encoding_arguments",
    "add_pipeline_arguments",
    "check_analysis_args",
    "check_pipeline_args",
    "make_analyzer",
    "make_pipeline",
    "make_signer",
    "parse_pipeline_options",
]


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """--source, target selection, face analysis, swapper and blend, --watermark-id and --device."""
    parser.add_argument(
        "--source",
        type=Path,
        help="image, folder of images or video of the source person (every chosen face becomes them; "
        "for several people use --map instead)",
    )
    parser.add_argument(
        "--source-faces",
        type=int,
        default=64,
        metavar="K",
        help="from a folder or video, keep up to K distinct pictures of the source person (head pose, mouth); "
        "the classic swapper uses, per target face, the one that looks most like it (default 64)",
    )
    target = parser.add_argument_group("which faces to replace")
    target.add_argument("--target-face", choices=TARGET_MODES, help="all (default), largest, or reference")
    target.add_argument("--reference", type=Path, help="image of the person to replace (with --target-face reference)")
    target.add_argument(
        "--similarity",
        type=float,
        help="descriptor distance under which a face is the reference person "
        "(default: the backend's operating point, 0.6 for both dlib's Euclidean and ArcFace's cosine distance)",
    )
    people = parser.add_argument_group(
        "who becomes whom (several people; find them first with python -m realtime.people)"
    )
    people.add_argument(
        "--map",
        action="append",
        type=_map_entry,
        default=[],
        metavar="TARGET=SOURCE",
        help="replace TARGET (a people id from --people, or an image/folder/video of that person) with SOURCE "
        "(an image, folder or video of the new face); repeatable",
    )
    people.add_argument(
        "--map-file", type=Path, help='JSON {"TARGET": "SOURCE", ...}, paths relative to the file; adds to --map'
    )
    people.add_argument("--people", type=Path, help="the people.json of python -m realtime.people, for ids in --map")
    people.add_argument(
        "--unmapped",
        nargs="+",
        default=["keep"],
        metavar="keep|swap-with SOURCE",
        help="faces of nobody in the map: keep them (default) or swap-with SOURCE",
    )
    add_analysis_arguments(parser).add_argument(
        "--smoothing", type=float, default=1.0, help="landmark smoothing strength; 0 disables (default 1.0)"
    )
    swap = parser.add_argument_group("swap and blend")
    add_swapper_arguments(swap)
    swap.add_argument(
        "--blend",
        choices=("auto", *BLEND_MODES),
        default="auto",
        help="how the swapped face is pasted: feather (alpha with a soft edge) or poisson (seamless clone); auto: "
        "the one bench/quality.py scores best for the swapper (classic: feather)",
    )
    add_processor_arguments(parser)
    provenance = parser.add_argument_group("provenance (always on: every output is watermarked and tagged)")
    provenance.add_argument(
        "--watermark-id",
        type=_watermark_id,
        default=0,
        metavar="N",
        help="a 32-bit number (decimal or 0x hex) carried in the invisible mark with the synthetic-media marker; "
        "python -m realtime.verify reads it back (default 0)",
    )
    provenance.add_argument(
        "--c2pa-cert",
        type=Path,
        metavar="CHAIN.pem",
        help=f"your certificate chain (signing certificate first) for the Content Credentials every output gets "
        f"(or ${CERT_ENV}); default: a local chain made once under $REALTIME_HOME/c2pa, which readers show as "
        "untrusted",
    )
    provenance.add_argument(
        "--c2pa-key", type=Path, metavar="KEY.pem", help=f"the private key of --c2pa-cert, unencrypted (or ${KEY_ENV})"
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for this run (torch, OpenCV, video decoding and encoding; default: the cores this "
        "process may use, from its CPU affinity and cgroup quota)",
    )
    parser.add_argument(
        "--allow-truncated",
        action="store_true",
        help="process a truncated or damaged input (or source video) as far as it decodes, with a warning saying "
        "how much; without it such input is an error and nothing is written",
    )
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where the models and the blend run (auto: CUDA when visible); with a neural swapper on CUDA each "
        "frame stays there from swap to watermark; insightface models also run there when onnxruntime has CUDA, "
        "dlib always on the CPU",
    )


def add_encoding_arguments(parser: argparse.ArgumentParser) -> None:
    """--codec, --crf and --preset: the video encoder of every command that writes video files."""
    encode = parser.add_argument_group("encoding")
    encode.add_argument("--codec", default="libx264", help="FFmpeg video encoder (default libx264)")
    encode.add_argument("--crf", type=int, default=18, help="x264/x265 quality, lower is better (default 18)")
    encode.add_argument("--preset", default="veryfast", help="x264/x265 speed preset (default veryfast)")


def add_analysis_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--detector, --models-dir and --detect-every (every command that finds faces in frames); returns their
    group, for a command's own face-analysis options."""
    analysis = parser.add_argument_group("face analysis")
    analysis.add_argument(
        "--detector",
        choices=DETECTORS,
        default="auto",
        help="auto: an insightface model pack when one is found (--models-dir, ~/.insightface/models or the model "
        "store's buffalo_l), else the embedded dlib models",
    )
    analysis.add_argument(
        "--models-dir",
        type=Path,
        help="an insightface model pack (folder of .onnx files, e.g. buffalo_l/) or a folder of packs",
    )
    analysis.add_argument("--detect-every", type=int, default=5, help="full detection every N frames (default 5)")
    return analysis


def check_analysis_args(args: argparse.Namespace) -> None:
    """UsageError for face-analysis options that cannot work."""
    if args.models_dir is not None and args.detector == "dlib":
        raise UsageError("--models-dir names insightface models; it cannot be used with --detector dlib")
    if args.detect_every < 1:
        raise UsageError("--detect-every must be >= 1")


def _watermark_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in 0..4294967295, got {value}")
    return value


def _map_entry(text: str) -> MapEntry:
    try:
        return parse_map_entry(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_mapping(args: argparse.Namespace) -> None:
    mapping = bool(args.map or args.map_file)
    if mapping and args.source is not None:
        raise UsageError("--source and --map: the map gives each person's source (others: --unmapped swap-with)")
    if not mapping and args.source is None:
        raise UsageError("--source is required (or --map TARGET=SOURCE for several people)")
    if mapping and args.target_face is not None:
        raise UsageError("--map chooses the faces itself: it cannot be used with --target-face")
    if not mapping and (args.people is not None or args.unmapped != ["keep"]):
        raise UsageError("--people and --unmapped go with --map or --map-file")
    if args.unmapped[0] not in ("keep", "swap-with") or len(args.unmapped) != (1 if args.unmapped[0] == "keep" else 2):
        raise UsageError(f"--unmapped takes 'keep' or 'swap-with SOURCE', got {' '.join(args.unmapped)!r}")


def check_pipeline_args(args: argparse.Namespace) -> None:
    """UsageError for option values and combinations that cannot work."""
    _check_mapping(args)
    if args.target_face == "reference" and args.reference is None:
        raise UsageError("--target-face reference needs --reference IMAGE")
    check_analysis_args(args)
    if args.smoothing < 0:
        raise UsageError("--smoothing must be >= 0")
    check_swapper_args(args)
    check_processor_args(args)
    if args.similarity is not None and args.similarity <= 0:
        raise UsageError("--similarity must be > 0")
    if args.source_faces < 1:
        raise UsageError("--source-faces must be >= 1")
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but no CUDA GPU is visible")


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_pipeline_options(argv: list[str], encoding: bool = False) -> argparse.Namespace:
    """The pipeline options (:func:`add_pipeline_arguments`, and :func:`add_encoding_arguments` with
    ``encoding``) of a command line that apps without one build from their forms (the studio) or rows (a batch
    manifest), checked as the CLIs check them: UsageError with the one-line message instead of argparse's exit."""
    parser = _RaisingParser(prog="realtime", add_help=False)
    add_pipeline_arguments(parser)
    if encoding:
        add_encoding_arguments(parser)
    args = parser.parse_args(argv)
    check_pipeline_args(args)
    return args


def make_signer(args: argparse.Namespace) -> ContentSigner:
    """The Content Credentials signer for ``--c2pa-cert``/``--c2pa-key`` (or the local chain), tried once on a small
    image so that a certificate C2PA refuses fails now, in one line, before any work."""
    signer = ContentSigner(resolve_credentials(args.c2pa_cert, args.c2pa_key, default_home()))
    signer.check()
    return signer


def _analysis_device(detector: str, device: str) -> str:
    """insightface's sessions follow ``device`` when onnxruntime has CUDA; otherwise (and for dlib) the CPU."""
    if device != "cuda" or detector == "dlib":
        return "cpu"
    import onnxruntime

    return "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"


def make_analyzer(
    args: argparse.Namespace, device: str, store: ModelStore, note: Callable[[str], None] = lambda _: None
) -> FaceAnalyzer:
    """The face-analysis backend ``--detector`` / ``--models-dir`` name (auto: an insightface pack when one is
    found, the store's ``buffalo_l`` among the places searched), its models on ``device`` where they can run
    there; ``note`` receives a line saying which and why."""
    store_pack = [pack] if (pack := store.analysis_pack()) is not None else []
    analyzer = create_analyzer(
        args.detector, args.models_dir, _analysis_device(args.detector, device), also_search=store_pack
    )
    why = ""
    if args.detector == "auto":
        why = (
            " (auto: an insightface pack was found)"
            if analyzer.name != "dlib"
            else (" (auto: no insightface pack in ~/.insightface/models or the model store)")
        )
    note(f"face analysis: {analyzer.describe()}{why}")
    return analyzer


def make_pipeline(
    args: argparse.Namespace,
    note: Callable[[str], None] = lambda _: None,
    detection: type[DetectionStrategy] = InlineDetection,
    store: ModelStore | None = None,
    single_image: bool = False,
    analyzer: FaceAnalyzer | None = None,
) -> FaceSwapPipeline:
    """The analyzer, swapper (with the source set) and :class:`FaceSwapPipeline` the options describe, detecting
        with a ``detection`` strategy every ``--detect-every`` frames (live sessions pass a background one), with
        models named or picked from ``store`` (default: the user's model store); ``note`` receives a line for each
        choice made; ``single_image``: the pipeline gets one frame, so a people map decides who each face is from its
        one descriptor; ``analyzer``: one already made from the same options (an app that builds pipelines repeatedly
    keeps one). Model, source and reference problems raise UserErrors."""

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    store = store or ModelStore()
    analyzer = analyzer or make_analyzer(args, device, store, note)
    # before the source, so a bad model file fails fast
    resolve_models(args, store, note)
    swapper = make_swapper(args, device, note)
    people_map = None
    if args.map or args.map_file:
        entries = [*args.map, *(read_map_file(args.map_file) if args.map_file else [])]
        unmapped = Path(args.unmapped[1]) if args.unmapped[0] == "swap-with" else None
        people_map = build_map(entries, analyzer, args.people, unmapped, args.source_faces, args.allow_truncated)
        for name, source in zip(people_map.names, people_map.sources, strict=True):
            note(f"map: {name} -> {_describe_source(source)}")
        rest = people_map.unmapped
        note("map: everyone else " + ("kept" if rest is None else f"-> {_describe_source(rest)}"))
        swapper.set_sources([s.faces for s in people_map.sources] + ([] if rest is None else [rest.faces]))
    else:
        source = load_source(args.source, analyzer, args.source_faces, allow_incomplete=args.allow_truncated)
        note(f"source: {_describe_source(source)}")
        swapper.set_source(source.faces)
    reference = None
    if args.target_face == "reference":
        ref = load_source(args.reference, analyzer, EMBEDDED, allow_incomplete=args.allow_truncated)
        reference = ref.embedding
    blend = DEFAULT_BLEND[swapper.name] if args.blend == "auto" else args.blend
    note(f"paste: {blend} blend on {device}")
    chain = make_chain(args, store, swapper.name, device, note)
    options = PipelineOptions(
        target_face=args.target_face or "all",
        reference_embedding=reference,
        similarity=analyzer.same_person_distance if args.similarity is None else args.similarity,
        smoothing=args.smoothing,
        blend=blend,
        device=device,
        watermark_id=args.watermark_id,
        people=None if people_map is None else people_map.people,
        unmapped_source=None if people_map is None or people_map.unmapped is None else len(people_map.people),
        confirm=1 if single_image else 2,
    )
    pipeline = FaceSwapPipeline(analyzer, swapper, options, detection(args.detect_every), chain)
    note(pipeline.describe_frames())
    return pipeline


def _describe_source(source: SourceIdentity) -> str:
    distinct = len(source.faces.faces)
    return f"{source.count} face(s) from {source.path}" + (f", {distinct} distinct kept" if distinct > 1 else "")
