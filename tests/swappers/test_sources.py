"""Several source people in one swapper: each target gets the source its ``SwapTarget.source`` names, all faces of
a frame still in one call (one batch for neural swappers), with the same result as one source at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.samples import face_image, person_photos
from realtime.swappers.base import SourceSet, SwapTarget
from realtime.swappers.classic import ClassicSwapper
from tests.test_swap_neural import write_inswapper_like


@pytest.fixture(scope="module")
def people(dlib_analyzer: DlibAnalyzer) -> tuple[np.ndarray, list[SwapTarget], list[SourceSet]]:
    """The trio picture's three faces as targets (sources 0, 1, 0) and two source people."""
    frame = face_image("trio")
    faces = sorted(dlib_analyzer.detect(frame), key=lambda f: f.bbox[0])
    assert len(faces) == 3
    targets = [
        SwapTarget(f.landmarks, track_id=i, source=s) for i, (f, s) in enumerate(zip(faces, (0, 1, 0), strict=True))
    ]
    photos = person_photos()
    sources = [SourceSet.single(photos[k], dlib_analyzer.detect(photos[k])[0]) for k in (4, 5)]
    return frame, targets, sources


def _one_at_a_time(swapper, frame, targets, sources):  # type: ignore[no-untyped-def]
    out = []
    for target in targets:
        swapper.set_source(sources[target.source])
        out.extend(swapper.swap_many(frame, [SwapTarget(target.landmarks, target.track_id)]))
    return out


@pytest.mark.parametrize("boost", [None, 256])
def test_neural_swapper_batches_faces_of_different_sources(people, tmp_path: Path, boost: int | None) -> None:  # type: ignore[no-untyped-def]
    from realtime.models.arcface import ArcFaceEncoder, IResNet
    from realtime.swappers.neural import InswapperEngine, NeuralSwapper

    frame, targets, sources = people
    torch.manual_seed(0)
    swapper = NeuralSwapper(
        InswapperEngine(write_inswapper_like(tmp_path / "inswapper.onnx")),
        ArcFaceEncoder(IResNet((1, 1, 1, 1), width=8)).eval(),
        pixel_boost=boost,
    )
    with torch.no_grad():
        swapper.set_sources(sources)
        together = swapper.swap_many(frame, targets)
        assert not np.allclose(swapper.identities[0], swapper.identities[1])
        apart = _one_at_a_time(swapper, frame, targets, sources)
        swapper.set_source(sources[0])
        (as_zero,) = swapper.swap_many(frame, [SwapTarget(targets[1].landmarks, 1)])
    for a, b in zip(together, apart, strict=True):
        assert a is not None and b is not None and a.box == b.box
        assert np.allclose(a.face, b.face, atol=1e-3)
    # the middle face (source 1) is not what source 0 would give it
    assert as_zero is not None and together[1] is not None and np.abs(as_zero.face - together[1].face).max() > 1


def test_classic_swapper_warps_each_targets_own_source(people) -> None:  # type: ignore[no-untyped-def]
    frame, targets, sources = people
    swapper = ClassicSwapper()
    swapper.set_sources(sources)
    together = swapper.swap_many(frame, targets)
    apart = _one_at_a_time(ClassicSwapper(), frame, targets, sources)
    for a, b in zip(together, apart, strict=True):
        assert a is not None and b is not None and np.array_equal(a.face, b.face)
    # a source of its own shows: the middle face (source 1) differs from what source 0 gives it
    swapper.set_source(sources[0])
    (as_zero,) = swapper.swap_many(frame, [SwapTarget(targets[1].landmarks, 1)])
    assert as_zero is not None and np.abs(as_zero.face - together[1].face).mean() > 5
