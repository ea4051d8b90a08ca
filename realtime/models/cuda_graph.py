"""A model's forward pass replayed from CUDA Graphs, one graph per input shape.

At batch 1 the 224 generator is launch-bound on a GPU: on an H200 its 356-436 kernels took 1.5-2.1 ms on the device
but 7-13 ms of wall time, and replayed as one graph 1.7-2.4 ms (bench/results/gpu-overhead-2026-11-30-NVIDIA_H200.json,
bench/gpu_overhead.py captures the same way). A video's face count changes rarely, so one graph per batch size
is captured the first time that size comes and replayed after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["GraphCaptureError", "GraphedForward"]

WARMUP_CALLS = 3  # before a capture: cuDNN picks its algorithms and the caching allocator settles, off the graph


class GraphCaptureError(RuntimeError):
    """``forward`` could not be captured as a CUDA Graph (it waits on the host, or allocates outside torch's caching
    allocator); the message says why."""


@dataclass
class _Captured:
    inputs: list[torch.Tensor]  # the graph reads these: each call's inputs are copied in
    graph: torch.cuda.CUDAGraph
    output: torch.Tensor  # the graph writes this


class GraphedForward:
    """``forward(*inputs)`` for CUDA tensors, replayed from a CUDA Graph captured once per shape, dtype and stride
    of the inputs.

    The first call of a shape runs ``forward`` :data:`WARMUP_CALLS` times on a side stream, then captures one call.
    Every call copies its inputs into the captured ones, replays, and returns the graph's output tensor, which the
    next call of that shape overwrites: read or copy it first. ``forward`` must be a pure function of its tensor
    inputs that neither waits on the host nor allocates outside torch's caching allocator (a capture that fails
    raises :class:`GraphCaptureError`). Gradients are not recorded: call it under ``torch.no_grad()``.
    """

    def __init__(self, forward: Callable[..., torch.Tensor]) -> None:
        self.forward = forward
        self._graphs: dict[tuple[object, ...], _Captured] = {}

    @property
    def shapes(self) -> int:
        """How many graphs have been captured (one per distinct input shape)."""
        return len(self._graphs)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The output of ``forward(*inputs)`` (a tensor the graph owns); inputs on one CUDA device."""
        key = tuple((tuple(t.shape), t.dtype, t.stride(), t.device) for t in inputs)
        captured = self._graphs.get(key) or self._capture(key, inputs)
        for static, given in zip(captured.inputs, inputs, strict=True):
            static.copy_(given)
        captured.graph.replay()
        return captured.output

    def _capture(self, key: tuple[object, ...], inputs: tuple[torch.Tensor, ...]) -> _Captured:
        static = [t.detach().clone() for t in inputs]  # clone keeps the strides (channels_last stays so)
        side = torch.cuda.Stream(device=static[0].device)
        side.wait_stream(torch.cuda.current_stream(static[0].device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_CALLS):
                self.forward(*static)
        torch.cuda.current_stream(static[0].device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                output = self.forward(*static)
        except RuntimeError as exc:
            torch.cuda.synchronize(static[0].device)
            raise GraphCaptureError(" ".join(str(exc).split())[:300]) from exc
        self._graphs[key] = _Captured(static, graph, output)
        return self._graphs[key]
