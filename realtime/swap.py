"""``python -m realtime.swap INPUT OUTPUT --source FACE``: swap a face into a video or an image, offline.

Examples:
    python -m realtime.demo demo.mp4 --source-face face.jpg        # a clip and a face to try it on
    python -m realtime.swap demo.mp4 swapped.mp4 --source face.jpg
    python -m realtime.swap in.mp4 out.mp4 --source faces/ --target-face largest --blend feather
    python -m realtime.swap in.mov out.mov --source person.mp4 --target-face reference --reference them.jpg
    python -m realtime.swap photo.jpg swapped.png --source face.jpg
    python -m realtime.people party.mp4 people/                         # who is in it: people/people.json
    python -m realtime.swap party.mp4 out.mp4 --people people/people.json --map 1=alice.jpg --map 2=bob/
    python -m realtime.swap in.mp4 out.mp4 --map them.jpg=alice.jpg --unmapped swap-with carol.jpg
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --model latest_net_G.pth --identity-model w600k_r50.onnx
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --model inswapper_128.onnx --identity-model w600k_r50.onnx
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --detector insightface --models-dir ~/models/buffalo_l
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --model inswapper_128 --pixel-boost 256 --enhancer gfpgan
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --mask box,occlusion,mouth   # after models fetch xseg
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --c2pa-cert chain.pem --c2pa-key key.pem

Every output carries an invisible watermark, synthetic-media metadata and Content Credentials (a signed C2PA
manifest; outputs are therefore .mp4 .mov .avi or .jpg .png .webp .tif): check with python -m realtime.verify.

Exit status: 0 done (also when the input shows no face: the output is the input re-encoded, with a warning),
1 an input or output problem, 2 a usage error, 130 interrupted. Nothing is left at OUTPUT unless it succeeded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.io.files import check_output_path
from realtime.io.images import IMAGE_SUFFIXES
from realtime.io.video import VIDEO_SUFFIXES
from realtime.jobs import EncodeSettings, swap_image, swap_video
from realtime.options import (
    add_encoding_arguments,
    add_pipeline_arguments,
    check_pipeline_args,
    make_pipeline,
    make_signer,
)
from realtime.pipeline import FaceSwapPipeline, FrameStats
from realtime.provenance import ContentSigner, check_signable
from realtime.threads import apply_threads, plan_threads
from realtime.watermark import COMPAT_MIN_SIDE

PROG = "python -m realtime.swap"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("input", type=Path, help="video (.mp4 .mov .mkv .webm .avi) or image (.jpg .png ...)")
    parser.add_argument("output", type=Path, help="where to write the result (same kind as INPUT)")
    add_pipeline_arguments(parser)
    add_encoding_arguments(parser)
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
        article = {"image": "an image", "video": "a video"}
        raise UsageError(f"input is {article[kinds[suffix_in]]} but output is {article[kinds[suffix_out]]}")
    check_pipeline_args(args)
    check_signable(args.output)
    if args.input.resolve() == args.output.resolve():
        raise UsageError("output must differ from input")
    if not args.input.exists():
        raise InputError(f"input not found: {args.input}")
    check_output_path(args.output)
    return kinds[suffix_in]


def _swap_image(args: argparse.Namespace, pipeline: FaceSwapPipeline, signer: ContentSigner) -> int:
    note = notes(PROG, args.quiet)
    result = swap_image(pipeline, args.input, args.output, signer)
    if result.faces_swapped == 0:
        note("warning: no face found in the input; written with the watermark only")
    if not result.compat_mark:
        note(f"image under {COMPAT_MIN_SIDE} px: it carries realtime's mark only (invisible-watermark's needs more)")
    return 0


def _swap_video(args: argparse.Namespace, pipeline: FaceSwapPipeline, signer: ContentSigner) -> int:
    note = notes(PROG, args.quiet)
    budget = plan_threads(args.threads)
    encode = EncodeSettings(codec=args.codec, crf=args.crf, preset=args.preset, threads=budget.codec)
    with tqdm(unit="frame", disable=not show_progress(args.quiet), dynamic_ncols=True) as bar:

        def on_frame(done: int, total: int | None, stats: FrameStats) -> None:
            bar.total = total
            bar.update(1)
            bar.set_postfix(faces=stats.faces, refresh=False)

        result = swap_video(pipeline, args.input, args.output, encode, allow_incomplete=args.allow_truncated,
                            decode_threads=budget.codec, on_frame=on_frame, signer=signer)  # fmt: skip
    if result.decode is not None and not result.decode.complete:
        note(f"warning: {args.input} is truncated or damaged: {result.decode.describe()}; "
             f"the output holds the {result.frames} frames that decoded")  # fmt: skip
    if result.frames_with_faces == 0:
        note("warning: no face found in the input; the output is the input re-encoded, watermarked")
    decoded = "" if result.decoder == "cpu" else f", decoded on {result.decoder}"
    note(f"wrote {args.output}: {result.frames} frames, {result.frames_with_faces} with a face swapped, "
         f"{result.frames / max(result.seconds, 1e-9):.1f} fps{decoded}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        kind = _check_args(args)
        signer = make_signer(args)
        apply_threads(plan_threads(args.threads))
        pipeline = make_pipeline(args, notes(PROG, args.quiet), single_image=kind == "image")
        job = _swap_image if kind == "image" else _swap_video
        return job(args, pipeline, signer)

    return run_cli(PROG, body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
