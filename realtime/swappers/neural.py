"""Neural swappers: a SimSwap-style generator (ours or an official checkpoint) or insightface's inswapper ONNX,
each driven by the source's ArcFace identity.

:class:`NeuralSwapper` crops every target face with the engine's template (ArcFace's 5 points scaled to the crop at
128/224/256, FFHQ's at 512, as SimSwap and inswapper crop), runs all faces of a frame through the engine, and warps
each result back into the frame with the landmark hull as its mask. The engines only map crops to crops:

- :class:`GeneratorEngine`: torch, one batch per frame; float16 and channels_last on CUDA, replayed from a CUDA
  Graph per face count there; optionally ``torch.compile``-d instead (the custom ops have fake kernels, so the
  whole generator is one graph);
- :class:`InswapperEngine`: onnxruntime; the identity goes through the model's embedding map (its last
  initializer) and is renormalised, as insightface does.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from realtime.errors import InputError, UserError
from realtime.faces.align import alignment_matrix, box_matrix, warp_face, warp_to_box
from realtime.faces.device_warp import affine_sample, fill_polygon
from realtime.faces.types import face_outline, kps5_from_68
from realtime.models.cuda_graph import GraphCaptureError, GraphedForward
from realtime.models.encoder import IdentityEncoder
from realtime.models.generator import SwapGenerator
from realtime.models.onnx import input_dtype, open_session, to_blob
from realtime.swappers.base import DeviceSwapResult, SourceSet, SwapResult, SwapTarget, hull_box
from realtime.swappers.pixel_boost import run_boosted

__all__ = ["GeneratorEngine", "InswapperEngine", "NeuralSwapper"]

MAX_IDENTITY_FACES = 16  # pictures of the source averaged into its identity (more add little and cost encoder time)


class GeneratorEngine:
    """Crops [N,S,S,3] uint8 RGB + identity -> swapped crops [N,S,S,3] float32 in [0,255], with a SwapGenerator.

    Args:
        generator: the model; moved to ``device``, in float16 and channels_last there when it is CUDA.
        device: "cpu" or "cuda".
        compile: run it through ``torch.compile(fullgraph=True)``. The first batch of each new size compiles
            (tens of seconds on a CPU); a compiler failure is a :class:`UserError` naming the cause.
        cuda_graphs: on CUDA without ``compile``, replay the generator from a CUDA Graph per face count
            (realtime/models/cuda_graph.py: at batch 1 it is launch-bound, 7-13 ms eager against ~2 ms replayed on
            an H200). A capture that fails is warned of once, and the generator then runs eagerly.

    On CUDA one face is swapped at construction, so the first frame does not pay for CUDA's set-up (or the
    compile, whose failure then surfaces before any work, or the one-face graph's capture).
    """

    name = "simswap"

    def __init__(
        self, generator: SwapGenerator, device: str = "cpu", compile: bool = False, cuda_graphs: bool = True
    ) -> None:
        self.device = torch.device(device)
        half = self.device.type == "cuda"
        self.dtype = torch.float16 if half else torch.float32
        self.memory_format = torch.channels_last if half else torch.contiguous_format
        self.generator = generator.eval().to(self.device, self.dtype, memory_format=self.memory_format)
        self.compiled = compile
        self._forward: Callable[..., torch.Tensor] = self.generator
        if compile:
            self._forward = torch.compile(self.generator, fullgraph=True)
        elif cuda_graphs and self.device.type == "cuda":
            self._forward = GraphedForward(self.generator)
        self.size = generator.config.resolution
        self.template = generator.config.crop_name
        if self.device.type == "cuda":  # CUDA's and cuDNN's first-call set-up (or the compile) now, not on frame one
            self.run(np.zeros((1, self.size, self.size, 3), np.uint8), np.zeros((1, generator.config.latent_dim)))

    def identity(self, embedding: np.ndarray) -> np.ndarray:
        """What :meth:`run` takes for a source whose L2-normalised ArcFace embedding is ``embedding`` (float [D]):
        the embedding itself, float32 [D]."""
        return np.asarray(embedding, np.float32)

    def run(self, crops: np.ndarray, identities: np.ndarray) -> np.ndarray:
        """Swap crops [N,S,S,3] uint8, crop k with ``identities[k]`` (:meth:`identity`, [N,D]) -> [N,S,S,3]
        float32 in [0,255]."""
        batch = torch.from_numpy(crops).permute(0, 3, 1, 2).to(self.device)
        return self.run_tensor(batch, identities).permute(0, 2, 3, 1).cpu().numpy()

    @property
    def graphed(self) -> bool:
        """Whether the generator is replayed from CUDA Graphs (see ``cuda_graphs``)."""
        return isinstance(self._forward, GraphedForward)

    @torch.no_grad()
    def run_tensor(self, crops: torch.Tensor, identities: np.ndarray) -> torch.Tensor:
        """:meth:`run` on the engine's device: crops [N,3,S,S] (uint8, or float in [0,255]) there -> [N,3,S,S]
        float32 in [0,255] there."""
        batch = (crops.to(self.dtype) / 255).contiguous(memory_format=self.memory_format)
        ids = torch.from_numpy(np.ascontiguousarray(identities, np.float32)).to(self.device, self.dtype)
        try:
            out = self._forward(batch, ids)
        except GraphCaptureError as exc:  # said once, then eager: slower, not wrong
            warnings.warn(f"the generator could not be captured as a CUDA Graph ({exc}); it runs eagerly, several "
                          "times slower per face", RuntimeWarning, stacklevel=2)  # fmt: skip
            self._forward = self.generator
            out = self._forward(batch, ids)
        except torch._dynamo.exc.TorchDynamoException as exc:  # compiler missing or failing: say so, never hide it
            first = (str(exc).strip().splitlines() or ["?"])[0][:200]
            raise UserError(f"torch.compile failed ({type(exc).__name__}: {first}); run without --compile") from exc
        return out.float().clamp(0, 1) * 255


class InswapperEngine:
    """The same contract with insightface's ``inswapper_128.onnx`` (or any model of its inputs and outputs:
    target [1,3,128,128] RGB in [0,1], source [1,512], output [1,3,128,128] in [0,1], embedding map [512,512] as
    the last initializer)."""

    name = "inswapper"
    template = "arcface"

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu") -> None:
        import onnx
        from onnx import numpy_helper

        path = Path(path)
        # quiet: the published model carries its embedding map as an unused initializer
        self.session = open_session(path, device, quiet=True)
        graph = onnx.load(str(path)).graph
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        emap = numpy_helper.to_array(graph.initializer[-1]) if graph.initializer else None
        shapes_ok = (
            len(inputs) == 2
            and len(outputs) == 1
            and list(inputs[0].shape[1:]) == [3, 128, 128]
            and inputs[1].shape[-1] == 512
            and emap is not None
            and emap.shape == (512, 512)
        )
        if not shapes_ok:
            raise InputError(f"{path} is not an inswapper model (target 1x3x128x128 + source 1x512 in, one image out)")
        self.emap = emap.astype(np.float32)
        self.names = [inputs[0].name, inputs[1].name]
        self.dtypes = [input_dtype(inputs[0]), input_dtype(inputs[1])]  # inswapper_128_fp16 takes float16
        self.size = 128
        self.device = torch.device(device)  # where run_tensor's crops are (onnxruntime runs where it can)

    def identity(self, embedding: np.ndarray) -> np.ndarray:
        """What :meth:`run` takes for a source whose ArcFace embedding is ``embedding`` (float [512]): the model's
        latent, the embedding through its embedding map, L2-normalised, float32 [512]."""
        latent = np.asarray(embedding, np.float32).reshape(-1) @ self.emap
        return (latent / np.linalg.norm(latent)).astype(np.float32)

    def run(self, crops: np.ndarray, identities: np.ndarray) -> np.ndarray:
        """Swap crops [N,128,128,3] uint8, crop k with ``identities[k]`` (:meth:`identity`, [N,512]) ->
        [N,128,128,3] float32 in [0,255]."""
        out = []
        blobs = to_blob(crops, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), self.dtypes[0])  # [0, 1], channels first
        for blob, latent in zip(blobs, identities, strict=True):  # the published model has a fixed batch of one
            feed = {self.names[0]: blob[None], self.names[1]: latent[None].astype(self.dtypes[1])}
            pred = self.session.run(None, feed)[0][0].astype(np.float32)
            out.append(np.clip(pred.transpose(1, 2, 0) * 255.0, 0, 255))
        return np.stack(out).astype(np.float32)

    def run_tensor(self, crops: torch.Tensor, identities: np.ndarray) -> torch.Tensor:
        """:meth:`run` for crops [N,3,128,128] (uint8, or float in [0,255]) on :attr:`device` -> [N,3,128,128]
        float32 in [0,255] there. onnxruntime takes host arrays: the crops (not the frame) go down and come back,
        48 KiB a face each way."""
        host = crops.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return torch.from_numpy(self.run(host, identities)).permute(0, 3, 1, 2).to(self.device)


class NeuralSwapper:
    """Call :meth:`set_source` once, then :meth:`swap_many` per frame.

    Args:
        engine: a :class:`GeneratorEngine` or :class:`InswapperEngine`.
        encoder: the identity encoder the engine's model was trained with (ArcFace, or dlib's ResNet).
        pixel_boost: crop size (a multiple of the engine's, e.g. 256 or 512 for inswapper's 128) at which faces are
            swapped through :mod:`realtime.swappers.pixel_boost`; None: the engine's own size.
    """

    def __init__(
        self, engine: GeneratorEngine | InswapperEngine, encoder: IdentityEncoder, pixel_boost: int | None = None
    ) -> None:
        if pixel_boost is not None and (pixel_boost % engine.size or pixel_boost <= engine.size):
            raise ValueError(f"pixel boost {pixel_boost} is no multiple (2x or more) of the model's {engine.size} px")
        self.engine, self.encoder = engine, encoder.eval()
        self.pixel_boost = pixel_boost
        self.name = engine.name
        self._identities: np.ndarray | None = None  # [sources, D'], what the engine takes per source

    def set_sources(self, sources: Sequence[SourceSet]) -> None:
        """The source people; each one's identity is the normalised mean of the encoder's embeddings of its
        pictures (each on the encoder's own crop), as tools that take several source images do."""
        if not sources:
            raise ValueError("set_sources needs at least one source")
        identities = []
        for source in sources:
            vectors = [self.encoder.embed(f.image, f.face.kps5) for f in source.faces[:MAX_IDENTITY_FACES]]
            mean = np.mean(vectors, axis=0)
            identities.append(self.engine.identity(mean / max(float(np.linalg.norm(mean)), 1e-12)))
        self._identities = np.stack(identities)

    def set_source(self, source: SourceSet) -> None:
        """Use the source person's identity (see :meth:`set_sources`) on every face."""
        self.set_sources([source])

    @property
    def resident_device(self) -> torch.device:
        """Where :meth:`swap_on_device` swaps: the engine's device (for the ONNX engine only the crops visit the
        host)."""
        return self.engine.device

    @property
    def identities(self) -> np.ndarray:
        """What the engine takes for each source (:meth:`GeneratorEngine.identity`), float32 [sources, D']."""
        if self._identities is None:
            raise RuntimeError("NeuralSwapper has no source yet: call set_source")
        return self._identities

    def swap_many(self, frame: np.ndarray, targets: Sequence[SwapTarget]) -> list[SwapResult | None]:
        """Swap every target face of an RGB uint8 frame in one batch, each with its source's identity; None for faces
        whose hull is off-frame."""
        if self._identities is None:
            raise RuntimeError("NeuralSwapper.swap_many called before set_source")
        faces = [t.landmarks for t in targets]
        if not faces:
            return []
        size, template = self.pixel_boost or self.engine.size, self.engine.template
        crops, matrices = zip(*(warp_face(frame, kps5_from_68(lm), template, size) for lm in faces), strict=True)
        identities = self._identities[[t.source for t in targets]]
        swapped = run_boosted(self.engine.run, np.stack(crops), identities, size // self.engine.size)
        return [self._place(frame, lm, face, m) for lm, face, m in zip(faces, swapped, matrices, strict=True)]

    def swap_on_device(self, frame: torch.Tensor, targets: Sequence[SwapTarget]) -> list[DeviceSwapResult | None]:
        """:meth:`swap_many` of an RGB uint8 frame tensor [H,W,3] on :attr:`resident_device`: the crops are cut,
        swapped, warped back and masked there (grid_sample's bilinear warps for cv2's), so nothing of the frame
        leaves the device."""
        if self._identities is None:
            raise RuntimeError("NeuralSwapper.swap_on_device called before set_source")
        if not targets:
            return []
        size = self.pixel_boost or self.engine.size
        matrices = np.stack([alignment_matrix(kps5_from_68(t.landmarks), self.engine.template, size) for t in targets])
        image = frame.permute(2, 0, 1)[None].float()
        crops = torch.cat([affine_sample(image, m, (size, size), "border") for m in matrices]).round_()
        identities = self._identities[[t.source for t in targets]]

        def run_channels_last(views: torch.Tensor, ids: np.ndarray) -> torch.Tensor:  # [N,S,S,3], as run_boosted cuts
            return self.engine.run_tensor(views.permute(0, 3, 1, 2), ids).permute(0, 2, 3, 1)

        boosted = run_boosted(run_channels_last, crops.permute(0, 2, 3, 1), identities, size // self.engine.size)
        swapped = boosted.permute(0, 3, 1, 2)
        results: list[DeviceSwapResult | None] = []
        for target, face, m in zip(targets, swapped, matrices, strict=True):
            box = hull_box(target.landmarks, tuple(frame.shape[:2]))
            if box is None:
                results.append(None)
                continue
            x0, y0, x1, y1 = box
            region = affine_sample(face[None], box_matrix(m, box), (y1 - y0, x1 - x0), "reflection")[0]
            outline = np.round(face_outline(target.landmarks) - [x0, y0])
            results.append(DeviceSwapResult(box, region, fill_polygon(outline, (y1 - y0, x1 - x0), frame.device)))
        return results

    def _place(self, frame: np.ndarray, landmarks: np.ndarray, face: np.ndarray, m: np.ndarray) -> SwapResult | None:
        """Warp a swapped crop back into the frame, inside the bounding box of the target's landmark hull."""
        box = hull_box(landmarks, frame.shape[:2])
        if box is None:
            return None
        x0, y0, x1, y1 = box
        region = warp_to_box(face, m, box, cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(face_outline(landmarks) - [x0, y0]).astype(np.int32), 1)
        return SwapResult(box=box, face=region, mask=mask.astype(np.float32))
