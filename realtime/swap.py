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

from tqdm import tqdm

from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli
from realtime.errors import InputError, UsageError
from realtime.io.files import check_output_path
from realtime.io.images import IMAGE_SUFFIXES, read_image, write_image
from realtime.io.metadata import provenance_tags
from realtime.io.video import VIDEO_SUFFIXES, VideoReader, VideoWriter
from realtime.options import add_pipeline_arguments, check_pipeline_args, make_pipeline
from realtime.pipeline import FaceSwapPipeline
from realtime.watermark import COMPAT_MIN_SIDE, embed_compat

PROG = "python -m realtime.swap"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("input", type=Path, help="video (.mp4 .mov .mkv .webm .avi) or image (.jpg .png ...)")
    parser.add_argument("output", type=Path, help="where to write the result (same kind as INPUT)")
    add_pipeline_arguments(parser)
    encode = parser.add_argument_group("encoding")
    encode.add_argument("--codec", default="libx264")
    encode.add_argument("--crf", type=int, default=18)
    encode.add_argument("--preset", default="veryfast")
    add_quiet_debug(parser, "no progress bar or notes (errors still print)")
    return parser


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
    check_pipeline_args(args)
    if args.input.resolve() == args.output.resolve():
        raise UsageError("output must differ from input")
    if not args.input.exists():
        raise InputError(f"input not found: {args.input}")
    check_output_path(args.output)
    return kinds[suffix_in]


def _swap_image(args: argparse.Namespace, pipeline: FaceSwapPipeline) -> int:
    note = notes(PROG, args.quiet)
    image = read_image(args.input)
    out, stats = pipeline.process(image, 0.0)
    if stats.swapped == 0:
        note("warning: no face found in the input; writing it with the watermark only")
    if min(out.shape[:2]) >= COMPAT_MIN_SIDE:
        out = embed_compat(out, args.watermark_id)  # also readable by invisible-watermark's own decoder
    else:
        note(f"image under {COMPAT_MIN_SIDE} px: it carries realtime's mark only (invisible-watermark's needs more)")
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
        notes(PROG, args.quiet)("warning: no face found in the input; the output is the input re-encoded, watermarked")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        kind = _check_args(args)
        pipeline = make_pipeline(args, notes(PROG, args.quiet))
        return _swap_image(args, pipeline) if kind == "image" else _swap_video(args, pipeline)

    return run_cli(PROG, body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
