"""realtime.ops.seamless_blend: exact-solve agreement, untouched background, borders, masks, batches, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from realtime.ops import BlendNotConvergedWarning, seamless_blend, seamless_blend_ref, seamless_blend_stats
from tests.conftest import devices
from tests.ops.poisson_oracle import poisson_clone_exact


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1


def _masks(h: int, w: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    blob = _ellipse(h, w, h * 0.5, w * 0.45, h * 0.3, w * 0.35)
    two = _ellipse(h, w, h * 0.3, w * 0.25, h * 0.15, w * 0.15) | _ellipse(h, w, h * 0.7, w * 0.7, h * 0.2, w * 0.2)
    border = _ellipse(h, w, 0, w * 0.3, h * 0.5, w * 0.4) | _ellipse(h, w, h - 1, w - 1, h * 0.3, w * 0.3)
    random_blob = torch.nn.functional.avg_pool2d(torch.rand(1, 1, h, w, generator=gen, dtype=torch.float64), 5, 1, 2)
    return {
        "ellipse": blob,
        "two_components": two,
        "touches_border": border,
        "irregular": random_blob[0, 0] > random_blob.median(),
        "single_pixel": torch.zeros(h, w, dtype=torch.bool).index_put_(
            (torch.tensor([h // 2]), torch.tensor([w // 3])), torch.tensor(True)
        ),
    }


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("impl", ["ext", "ref"])
@pytest.mark.parametrize("size", [(23, 31), (40, 37)])
def test_matches_sparse_direct_solve(size, impl, device, gen):  # type: ignore[no-untyped-def]
    h, w = size
    dst = torch.rand(3, h, w, generator=gen, dtype=torch.float64)
    src = torch.rand(3, h, w, generator=gen, dtype=torch.float64)
    for name, mask in _masks(h, w, gen).items():
        exact = poisson_clone_exact(dst.numpy(), src.numpy(), mask.numpy())
        dst32, src32 = dst.float()[None].to(device), src.float()[None].to(device)
        out = seamless_blend(dst32, src32, mask[None, None].to(device), impl=impl, rtol=1e-5)
        err = np.abs(out[0].double().cpu().numpy() - exact).max()
        assert err <= 1e-3, f"{name}: max error vs sparse direct solve {err:.2e} > 1e-3"
        outside = ~mask.to(device)
        assert torch.equal(out[0][:, outside], dst32[0][:, outside]), f"{name}: pixels outside the mask changed"


@pytest.mark.parametrize("device", devices())
def test_float64_is_solved_tightly(device, gen):  # type: ignore[no-untyped-def]
    h, w = 33, 29
    dst = torch.rand(1, 2, h, w, generator=gen, dtype=torch.float64)
    src = torch.rand(1, 2, h, w, generator=gen, dtype=torch.float64)
    mask = _masks(h, w, gen)["irregular"]
    exact = poisson_clone_exact(dst[0].numpy(), src[0].numpy(), mask.numpy())
    out = seamless_blend(dst.to(device), src.to(device), mask[None, None].to(device), impl="ext", rtol=1e-10)
    assert np.abs(out[0].cpu().numpy() - exact).max() < 1e-7


@pytest.mark.parametrize("device", devices())
def test_identical_images_are_left_unchanged(device, gen):  # type: ignore[no-untyped-def]
    """Pasting a frame into itself must change nothing: no shift of content (unlike bounding-box centring)."""
    frame = torch.rand(1, 3, 48, 64, generator=gen).to(device)
    mask = _ellipse(48, 64, 20, 30, 15, 22)[None, None].to(device)
    out = seamless_blend(frame, frame.clone(), mask, impl="ext")
    assert (out - frame).abs().max().item() < 1e-4


@pytest.mark.parametrize("device", devices())
def test_gradient_of_src_is_kept_and_offset_absorbed(device, gen):  # type: ignore[no-untyped-def]
    """src = dst + constant inside a mask: the constant is removed (Dirichlet boundary wins), the detail stays."""
    dst = torch.rand(1, 3, 40, 40, generator=gen).to(device)
    src = dst + 0.3
    mask = _ellipse(40, 40, 20, 20, 12, 12)[None, None].to(device)
    out = seamless_blend(dst, src, mask, impl="ext", rtol=1e-6)
    assert (out - dst).abs().max().item() < 1e-3


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("impl", ["ext", "ref"])
def test_empty_and_full_masks(impl, device, gen):  # type: ignore[no-untyped-def]
    dst = torch.rand(2, 3, 20, 24, generator=gen).to(device)
    src = torch.rand(2, 3, 20, 24, generator=gen).to(device)
    empty = torch.zeros(2, 1, 20, 24, device=device)
    assert torch.equal(seamless_blend(dst, src, empty, impl=impl), dst)
    full = torch.ones(2, 1, 20, 24, device=device)
    out = seamless_blend(dst, src, full, impl=impl)
    # No boundary: src's gradients with dst's mean.
    expected = src - src.mean(dim=(2, 3), keepdim=True) + dst.mean(dim=(2, 3), keepdim=True)
    assert (out - expected).abs().max().item() < 1e-5


@pytest.mark.parametrize("device", devices())
def test_mask_dtypes_and_soft_threshold(device, gen):  # type: ignore[no-untyped-def]
    dst = torch.rand(1, 3, 30, 30, generator=gen).to(device)
    src = torch.rand(1, 3, 30, 30, generator=gen).to(device)
    hard = _ellipse(30, 30, 15, 15, 9, 11)[None, None].to(device)
    soft = hard.float() * 0.4 + 0.3  # 0.7 inside, 0.3 outside: thresholded at 0.5
    expected = seamless_blend(dst, src, hard, impl="ext")
    for mask in (soft, hard.to(torch.uint8), hard.to(torch.uint8) * 255, hard.double()):
        assert torch.equal(seamless_blend(dst, src, mask, impl="ext"), expected)


@pytest.mark.parametrize("device", devices())
def test_batch_each_image_uses_its_own_mask(device, gen):  # type: ignore[no-untyped-def]
    n, h, w = 4, 26, 34
    dst = torch.rand(n, 3, h, w, generator=gen).to(device)
    src = torch.rand(n, 3, h, w, generator=gen).to(device)
    masks = torch.stack([m for m in list(_masks(h, w, gen).values())[:n]])[:, None].to(device)
    batched = seamless_blend(dst, src, masks, impl="ext")
    for i in range(n):
        single = seamless_blend(dst[i : i + 1], src[i : i + 1], masks[i : i + 1], impl="ext")
        assert (batched[i] - single[0]).abs().max().item() < 1e-6


@pytest.mark.parametrize("device", devices())
def test_ext_matches_ref_on_a_face_sized_region(device, gen):  # type: ignore[no-untyped-def]
    h, w = 180, 240
    dst = torch.rand(1, 3, h, w, generator=gen).to(device)
    src = torch.rand(1, 3, h, w, generator=gen).to(device)
    mask = _ellipse(h, w, 90, 120, 70, 60)[None, None].to(device)
    out_ext, stats_ext = seamless_blend_stats(dst, src, mask, impl="ext", rtol=1e-6)
    out_ref, stats_ref = seamless_blend_stats(dst, src, mask, impl="ref", rtol=1e-6)
    assert (out_ext - out_ref).abs().max().item() < 1e-4
    assert stats_ext.shape == (1, 3, 2)
    assert (stats_ext[..., 1] <= 1e-6).all() and (stats_ref[..., 1] <= 1e-6).all()
    assert (stats_ext[..., 0] < 60).all(), f"multigrid preconditioning should converge quickly: {stats_ext}"


@pytest.mark.parametrize("device", devices())
def test_noncontiguous_inputs(device, gen):  # type: ignore[no-untyped-def]
    dst = torch.rand(1, 24, 30, 3, generator=gen).to(device).permute(0, 3, 1, 2)  # HWC memory, NCHW view
    src = torch.rand(1, 24, 30, 3, generator=gen).to(device).permute(0, 3, 1, 2)
    mask = _ellipse(24, 30, 12, 15, 8, 10)[None, None].to(device)
    out = seamless_blend(dst, src, mask, impl="ext")
    assert torch.equal(out, seamless_blend(dst.contiguous(), src.contiguous(), mask, impl="ext"))


def test_not_converging_warns(gen):  # type: ignore[no-untyped-def]
    dst, src = torch.rand(1, 3, 64, 64, generator=gen), torch.rand(1, 3, 64, 64, generator=gen)
    mask = _ellipse(64, 64, 32, 32, 25, 25)[None, None]
    with pytest.warns(BlendNotConvergedWarning, match="max_iter=1"):
        seamless_blend(dst, src, mask, impl="ext", max_iter=1, rtol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seamless_blend(dst, src, mask, impl="ext")


def test_opcheck(gen):  # type: ignore[no-untyped-def]
    for device in devices():
        dst = torch.rand(2, 3, 17, 19, generator=gen).to(device)
        src = torch.rand(2, 3, 17, 19, generator=gen).to(device)
        mask = _ellipse(17, 19, 8, 9, 5, 6)[None, None].expand(2, 1, 17, 19).to(torch.uint8).contiguous().to(device)
        torch.library.opcheck(torch.ops.realtime.seamless_blend.default, (dst, src, mask, 1e-5, 100))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((torch.zeros(3, 8, 8), torch.zeros(3, 8, 8), torch.zeros(1, 8, 8)), r"dst must be \[N,C,H,W\]"),
        ((torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9), torch.zeros(1, 1, 8, 8)), "must equal dst shape"),
        ((torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)), r"mask must be \[N,1,H,W\]"),
        (
            (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8, dtype=torch.float64), torch.zeros(1, 1, 8, 8)),
            "share one floating dtype",
        ),
        ((torch.zeros(1, 3, 8, 8, dtype=torch.uint8),) * 2 + (torch.zeros(1, 1, 8, 8),), "share one floating dtype"),
    ],
)
def test_bad_arguments_give_clear_errors(args, message):  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, TypeError), match=message):
        seamless_blend(*args, impl="ext")
    with pytest.raises((ValueError, TypeError), match=message):
        seamless_blend_ref(*args)
