"""``python -m realtime.export MODEL OUTPUT.onnx``: export a swap generator to ONNX, checked against torch.

The generator's custom ops run as their pure-PyTorch references during export, so the ONNX graph holds standard
operators only (Conv, MatMul, InstanceNorm-equivalents, Resize) and runs in any ONNX runtime. Inputs are
``target`` [N,3,R,R] float in [0,1] and ``identity`` [N,512] (L2-normalised ArcFace embedding); the output
``swapped`` is [N,3,R,R] in [0,1]; N is dynamic. After writing, the file is run with onnxruntime on random inputs
and compared with torch; the export fails if they differ by more than ``--tolerance``.

Examples:
    python -m realtime.export runs/base/generator.pt generator.onnx          # a run of python -m training.train
    python -m realtime.export latest_net_G.pth simswap224.onnx --opset 17

Exit status: 0 written and checked, 1 an input/output problem or a failed check, 2 a usage error.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from realtime.cli import doc_parser, run_cli
from realtime.errors import InputError, UsageError
from realtime.io.files import TempOutput, check_output_path
from realtime.models.checkpoint import load_generator
from realtime.models.generator import SwapGenerator
from realtime.models.layers import set_ops_impl

PROG = "python -m realtime.export"


def export_onnx(model: SwapGenerator, path: Path, opset: int = 17) -> None:
    """Write ``model`` (on the CPU, reference ops) to ``path`` as ONNX with a dynamic batch axis."""
    model = set_ops_impl(model.eval().cpu().float(), "ref")
    r, d = model.config.resolution, model.config.latent_dim
    example = (torch.rand(1, 3, r, r), torch.nn.functional.normalize(torch.randn(1, d), dim=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=["target", "identity"],
            output_names=["swapped"],
            dynamic_axes={"target": {0: "batch"}, "identity": {0: "batch"}, "swapped": {0: "batch"}},
            opset_version=opset,
            dynamo=False,  # the torch.export-based exporter needs onnxscript, which this project does not install
        )


def check_onnx(model: SwapGenerator, path: Path, batch: int = 2, seed: int = 0) -> float:
    """Largest absolute difference between onnxruntime and torch (reference ops) on random inputs."""
    import onnxruntime

    gen = torch.Generator().manual_seed(seed)
    r, d = model.config.resolution, model.config.latent_dim
    target = torch.rand(batch, 3, r, r, generator=gen)
    identity = torch.nn.functional.normalize(torch.randn(batch, d, generator=gen), dim=1)
    with torch.no_grad():
        expected = set_ops_impl(model.eval(), "ref")(target, identity).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"target": target.numpy(), "identity": identity.numpy()})[0]
    return float(np.abs(got - expected).max())


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("model", type=Path, help="generator checkpoint (realtime's format or SimSwap's *_net_G.pth)")
    parser.add_argument("output", type=Path, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max |onnx - torch| accepted (default 1e-4)")
    parser.add_argument("--trust-pickle", action="store_true", help="allow a pickled-object checkpoint (runs code)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.output.suffix.lower() != ".onnx":
            raise UsageError(f"output must end in .onnx, got {args.output.name!r}")
        check_output_path(args.output)
        model = load_generator(args.model, trust_pickle=args.trust_pickle)
        with TempOutput(args.output) as temp:
            export_onnx(model, temp, args.opset)
            error = check_onnx(model, temp)
            if error > args.tolerance:
                raise InputError(f"the exported graph differs from torch by {error:.2e} (> {args.tolerance:g})")
        if not args.quiet:
            cfg = model.config
            print(
                f"{PROG}: wrote {args.output} ({cfg.resolution}px, {cfg.block} blocks, {cfg.conv} convs, "
                f"opset {args.opset}); onnxruntime vs torch max |diff| {error:.2e}"
            )
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
