"""``python -m realtime.swap INPUT OUTPUT --source FACE``: swap a face into a video or an image, offline.

Examples:
    python -m realtime.demo demo.mp4 && python -m realtime.swap demo.mp4 out.mp4 --source face.jpg
    python -m realtime.swap in.mp4 out.mp4 --source faces/ --target-face largest --blend feather
    python -m realtime.swap in.mov out.mov --source person.mp4 --target-face reference --reference them.jpg
    python -m realtime.swap photo.jpg swapped.png --source face.jpg
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --model latest_net_G.pth --identity-model w600k_r50.onnx
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --model inswapper_128.onnx --identity-model w600k_r50.onnx
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --detector insightface --models-dir ~/models/buffalo_l

Every output carries an invisible watermark and synthetic-media metadata (check with python -m realtime.verify).

Exit status: 0 done (also when the input shows no face: the output is the input re-encoded, with a warning),
1 an input or output problem, 2 a usage error, 130 interrupted. Nothing is left at OUTPUT unless it succeeded.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from pathlib import Path

import torch
from tqdm import tqdm

from realtime.cli import doc_parser, run_cli
from realtime.faces.backends import DETECTORS, create_analyzer
from realtime.io.errors import InputError, UsageError
from realtime.io.files import check_output_path
from realtime.io.images import IMAGE_SUFFIXES, read_image, write_image
from realtime.io.metadata import provenance_tags
from realtime.io.video import VIDEO_SUFFIXES, VideoReader, VideoWriter
from realtime.pipeline import TARGET_MODES, FaceSwapPipeline, PipelineOptions
from realtime.swappers.factory import add_swapper_arguments, check_swapper_args, make_swapper
from realtime.watermark import COMPAT_MIN_SIDE, embed_compat

PROG = "python -m realtime.swap"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("input", type=Path, help="video (.mp4 .mov .mkv .webm .avi) or image (.jpg .png ...)")
    parser.add_argument("output", type=Path, help="where to write the result (same kind as INPUT)")
    parser.add_argument(
        "--source", type=Path, required=True, help="image, folder of images or video of the source person"
    )
    target = parser.add_argument_group("which faces to replace")
    target.add_argument("--target-face", choices=TARGET_MODES, default="all")
    target.add_argument("--reference", type=Path, help="image of the person to replace (with --target-face reference)")
    target.add_argument(
        "--similarity",
        type=float,
        help="descriptor distance under which a face is the reference person "
        "(default: the backend's operating point, 0.6 for both dlib's Euclidean and ArcFace's cosine distance)",
    )
    analysis = parser.add_argument_group("face analysis")
    analysis.add_argument(
        "--detector",
        choices=DETECTORS,
        default="auto",
        help="auto: an insightface model pack when one is found (--models-dir or ~/.insightface/models), "
        "else the embedded dlib models",
    )
    analysis.add_argument(
        "--models-dir",
        type=Path,
        help="an insightface model pack (folder of .onnx files, e.g. buffalo_l/) or a folder of packs",
    )
    analysis.add_argument("--detect-every", type=int, default=5, help="full detection every N frames (default 5)")
    analysis.add_argument(
        "--smoothing", type=float, default=1.0, help="landmark smoothing strength; 0 disables (default 1.0)"
    )
    swap = parser.add_argument_group("swap and blend")
    add_swapper_arguments(swap)
    swap.add_argument("--blend", choices=["poisson", "feather"], default="poisson")
    provenance = parser.add_argument_group("provenance (always on: every output is watermarked and tagged)")
    provenance.add_argument(
        "--watermark-id",
        type=_watermark_id,
        default=0,
        metavar="N",
        help="a 32-bit number (decimal or 0x hex) carried in the invisible mark with the synthetic-media marker; "
        "python -m realtime.verify reads it back (default 0)",
    )
    encode = parser.add_argument_group("encoding")
    encode.add_argument("--codec", default="libx264")
    encode.add_argument("--crf", type=int, default=18)
    encode.add_argument("--preset", default="veryfast")
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where the blend runs (auto: CUDA when visible); insightface models also run there when onnxruntime "
        "has CUDA, dlib always on the CPU",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or notes (errors still print)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parser


def _watermark_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in 0..4294967295, got {value}")
    return value


def _note(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr)


def _check_args(args: argparse.Namespace) -> str:
    """Validate the command line; returns 'video' or 'image'."""
    suffix_in, suffix_out = args.input.suffix.lower(), args.output.suffix.lower()
    kinds = {**dict.fromkeys(VIDEO_SUFFIXES, "video"), **dict.fromkeys(IMAGE_SUFFIXES, "image")}
    if suffix_in not in kinds:
        raise UsageError(f"unsupported input extension {suffix_in or '(none)'!r}")
    if suffix_out not in kinds:
        raise UsageError(f"unsupported output extension {suffix_out or '(none)'!r}")
    if kinds[suffix_in] != kinds[suffix_out]:
        raise UsageError(f"input is a {kinds[suffix_in]} but output is a {kinds[suffix_out]}")
    if args.target_face == "reference" and args.reference is None:
        raise UsageError("--target-face reference needs --reference IMAGE")
    check_swapper_args(args)
    if args.models_dir is not None and args.detector == "dlib":
        raise UsageError("--models-dir names insightface models; it cannot be used with --detector dlib")
    if args.similarity is not None and args.similarity <= 0:
        raise UsageError("--similarity must be > 0")
    if args.detect_every < 1:
        raise UsageError("--detect-every must be >= 1")
    if args.smoothing < 0:
        raise UsageError("--smoothing must be >= 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but no CUDA GPU is visible")
    if args.input.resolve() == args.output.resolve():
        raise UsageError("output must differ from input")
    if not args.input.exists():
        raise InputError(f"input not found: {args.input}")
    check_output_path(args.output)
    return kinds[suffix_in]


def _analysis_device(detector: str, device: str) -> str:
    """insightface's sessions follow ``device`` when onnxruntime has CUDA; otherwise (and for dlib) the CPU."""
    if device != "cuda" or detector == "dlib":
        return "cpu"
    import onnxruntime

    return "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"


def _make_pipeline(args: argparse.Namespace, kind: str) -> FaceSwapPipeline:
    from realtime.source import load_source

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    analyzer = create_analyzer(args.detector, args.models_dir, device=_analysis_device(args.detector, device))
    _note(args, f"face analysis: {analyzer.describe()}; blend on {device}")
    # before the source, so a bad model file fails fast
    swapper = make_swapper(args, device, lambda line: _note(args, line))
    source = load_source(args.source, analyzer)
    _note(args, f"source: {source.count} face(s) from {args.source}")
    swapper.set_source(source.image, source.face)
    reference = None
    if args.target_face == "reference":
        ref = load_source(args.reference, analyzer)
        reference = ref.embedding
    options = PipelineOptions(
        target_face=args.target_face,
        reference_embedding=reference,
        similarity=analyzer.same_person_distance if args.similarity is None else args.similarity,
        detect_every=args.detect_every,
        smoothing=args.smoothing,
        blend=args.blend,
        device=device,
        watermark_id=args.watermark_id,
    )
    return FaceSwapPipeline(analyzer, swapper, options)


def _swap_image(args: argparse.Namespace, pipeline: FaceSwapPipeline) -> int:
    image = read_image(args.input)
    out, stats = pipeline.process(image, 0.0)
    if stats.swapped == 0:
        _note(args, "warning: no face found in the input; writing it with the watermark only")
    if min(out.shape[:2]) >= COMPAT_MIN_SIDE:
        out = embed_compat(out, args.watermark_id)  # also readable by invisible-watermark's own decoder
    else:
        _note(
            args,
            f"image under {COMPAT_MIN_SIDE} px: it carries realtime's mark only (invisible-watermark's needs more)",
        )
    write_image(args.output, out, synthetic=True)
    return 0


def _swap_video(args: argparse.Namespace, pipeline: FaceSwapPipeline) -> int:
    with VideoReader(args.input) as reader:
        info = reader.info
        total = info.frames or None
        frames_with_faces = 0
        encode_queue: queue.Queue[object] = queue.Queue(maxsize=8)
        failure: list[BaseException] = []

        with VideoWriter(
            args.output,
            info,
            audio_source=args.input,
            codec=args.codec,
            crf=args.crf,
            preset=args.preset,
            metadata=provenance_tags(),
        ) as writer:

            def encode() -> None:
                while (item := encode_queue.get()) is not None:
                    if not failure:
                        try:
                            writer.write(*item)  # type: ignore[misc]
                        except BaseException as exc:  # surfaced on the main thread
                            failure.append(exc)

            encoder = threading.Thread(target=encode, name="video-encode", daemon=True)
            encoder.start()
            try:
                start = time.perf_counter()
                with tqdm(total=total, unit="frame", disable=args.quiet, dynamic_ncols=True) as bar:
                    for frame in reader:
                        out, stats = pipeline.process(frame.image, frame.time)
                        frames_with_faces += stats.swapped > 0
                        encode_queue.put((out, frame.pts))
                        if failure:
                            raise failure[0]
                        bar.update(1)
                        bar.set_postfix(fps=f"{bar.n / max(time.perf_counter() - start, 1e-9):.1f}", faces=stats.faces)
            finally:
                encode_queue.put(None)
                encoder.join()
            if failure:
                raise failure[0]
    if frames_with_faces == 0:
        _note(args, "warning: no face found in the input; the output is the input re-encoded, watermarked")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        kind = _check_args(args)
        pipeline = _make_pipeline(args, kind)
        return _swap_image(args, pipeline) if kind == "image" else _swap_video(args, pipeline)

    return run_cli(PROG, body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
