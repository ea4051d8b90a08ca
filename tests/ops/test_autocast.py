"""torch.ops.realtime.* called directly under autocast (csrc/autocast.cpp), on every device present: the
convolutions run in autocast's dtype on inputs cast the way F.conv2d's are, with the result of calling the op on
those cast inputs outside autocast; gradients flow back through the casts; the seamless blend and the backward ops
keep their inputs' dtypes; nothing is recast inside a kernel."""

from __future__ import annotations

import pytest
import torch

from realtime.ops import extension_loaded
from tests.conftest import devices

pytestmark = pytest.mark.skipif(not extension_loaded(), reason="the realtime._C extension is not built")
LOW = {"cpu": torch.bfloat16, "cuda": torch.float16}


@pytest.mark.parametrize("device", devices())
def test_modulated_conv_runs_in_autocast_dtype(device: str, gen: torch.Generator) -> None:
    x = torch.randn(2, 8, 12, 12, generator=gen).to(device).requires_grad_()
    weight = torch.randn(6, 8, 3, 3, generator=gen).to(device)
    styles = torch.randn(2, 8, generator=gen).to(device)
    op = torch.ops.realtime.modulated_conv2d
    with torch.autocast(device, dtype=LOW[device]):
        out = op(x, weight, styles, True, 1, 1e-8)
    low = LOW[device]
    assert out.dtype == low
    expected = op(x.detach().to(low), weight.to(low), styles.to(low), True, 1, 1e-8)
    assert torch.equal(out, expected)
    out.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("with_bias", [False, True])
def test_depthwise_conv_runs_in_autocast_dtype(device: str, with_bias: bool, gen: torch.Generator) -> None:
    x = torch.randn(2, 6, 10, 10, generator=gen).to(device)
    weight = torch.randn(6, 1, 3, 3, generator=gen).to(device)
    bias = torch.randn(6, generator=gen).to(device) if with_bias else None
    op = torch.ops.realtime.depthwise_conv2d
    low = LOW[device]
    with torch.autocast(device, dtype=low):
        out = op(x, weight, bias, [1, 1], [1, 1], [1, 1])
        mixed = op(x.to(low), weight, bias, [1, 1], [1, 1], [1, 1])  # a low-precision activation, float32 weight
    assert out.dtype == low and mixed.dtype == low
    expected = op(x.to(low), weight.to(low), None if bias is None else bias.to(low), [1, 1], [1, 1], [1, 1])
    assert torch.equal(out, expected) and torch.equal(mixed, expected)


@pytest.mark.parametrize("device", devices())
def test_blend_and_backward_ops_keep_their_dtypes(device: str, gen: torch.Generator) -> None:
    dst = torch.rand(1, 3, 24, 24, generator=gen).to(device)
    src = torch.rand(1, 3, 24, 24, generator=gen).to(device)
    mask = torch.zeros(1, 1, 24, 24, dtype=torch.uint8, device=device)
    mask[..., 6:18, 6:18] = 1
    blend = torch.ops.realtime.seamless_blend
    plain, _ = blend(dst, src, mask, 1e-5, 200)
    with torch.autocast(device, dtype=LOW[device]):
        blended, _ = blend(dst, src, mask, 1e-5, 200)
        x = torch.randn(1, 4, 8, 8, generator=gen).to(device)
        weight = torch.randn(4, 1, 3, 3, generator=gen).to(device)
        grads = torch.ops.realtime.depthwise_conv2d_backward(torch.ones(1, 4, 8, 8, device=device), x, weight,
                                                             [1, 1], [1, 1], [1, 1])  # fmt: skip
    assert blended.dtype == torch.float32 and torch.equal(blended, plain)
    assert all(g.dtype == torch.float32 for g in grads)


def test_the_public_ops_accept_mixed_dtypes_only_under_autocast(gen: torch.Generator) -> None:
    from realtime.ops import depthwise_conv2d

    x = torch.randn(1, 4, 8, 8, generator=gen).to(torch.bfloat16)
    weight = torch.randn(4, 1, 3, 3, generator=gen)
    with pytest.raises(TypeError, match="must match x's dtype"):
        depthwise_conv2d(x, weight, padding=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert depthwise_conv2d(x, weight, padding=1).dtype == torch.bfloat16
