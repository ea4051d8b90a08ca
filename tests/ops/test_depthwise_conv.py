"""realtime.ops.depthwise_conv2d: extension vs the grouped-conv reference, gradients, opcheck, argument errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from realtime.ops import depthwise_conv2d, depthwise_conv2d_ref
from tests.conftest import devices
from tests.ops.helpers import assert_close_rel, assert_grads_match, make_layout

CASES = [  # (batch, channels, H, W, kernel, stride, padding, dilation)
    (1, 3, 17, 23, 3, 1, 1, 1),
    (2, 8, 15, 9, 1, 1, 0, 1),
    (3, 5, 31, 29, 7, 1, 3, 1),
    (8, 4, 13, 19, 3, 2, 1, 1),
    (4, 6, 21, 17, 7, 2, 2, 1),
    (2, 7, 25, 27, 3, 1, 2, 2),
    (5, 3, 33, 31, 3, 2, 3, 3),
    (1, 16, 11, 13, 7, (2, 1), (3, 1), (1, 2)),
]
LAYOUTS = ["contiguous", "channels_last", "noncontiguous"]


def _inputs(case, gen, device, dtype=torch.float32, bias=True):  # type: ignore[no-untyped-def]
    n, c, h, w, k, *_ = case
    x = torch.randn(n, c, h, w, generator=gen).to(device, dtype)
    weight = torch.randn(c, 1, k, k, generator=gen).to(device, dtype)
    b = torch.randn(c, generator=gen).to(device, dtype) if bias else None
    return x, weight, b


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize(("case", "layout"), list(itertools.product(CASES, LAYOUTS)))
def test_forward_matches_reference(case, layout, device, gen):  # type: ignore[no-untyped-def]
    x, weight, b = _inputs(case, gen, device)
    stride, padding, dilation = case[5:]
    x = make_layout(x, layout)
    out = depthwise_conv2d(x, weight, b, stride=stride, padding=padding, dilation=dilation, impl="ext")
    ref = depthwise_conv2d_ref(x.contiguous(), weight, b, stride=stride, padding=padding, dilation=dilation)
    assert_close_rel(out, ref, torch.float32, f"forward {case} {layout}")
    if layout == "channels_last":
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize(("case", "layout"), list(itertools.product(CASES[::2], LAYOUTS)))
def test_backward_matches_reference(case, layout, device, gen):  # type: ignore[no-untyped-def]
    stride, padding, dilation = case[5:]

    def call(x, w, b, impl):  # type: ignore[no-untyped-def]
        return depthwise_conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, impl=impl)

    assert_grads_match(call, _inputs(case, gen, device), ("x", "weight", "bias"), layout, f"{case} {layout}")


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("channels", "layout"), [(8, "contiguous"), (8, "channels_last"), (12, "channels_last"),
                                                  (5, "channels_last")])  # fmt: skip
def test_half_precision_accumulates_in_float32(dtype, channels, layout, device, gen):  # type: ignore[no-untyped-def]
    """channels_last on CUDA reads 8, 4 or 1 channels per vector load here (C = 8, 12, 5 in 16-bit types)."""
    case = (2, channels, 19, 21, 3, 1, 1, 1)
    x, weight, b = _inputs(case, gen, device, dtype)
    out = depthwise_conv2d(make_layout(x, layout), weight, b, padding=1, impl="ext")
    assert out.dtype == dtype
    ref = depthwise_conv2d_ref(x.float(), weight.float(), b.float(), padding=1)
    assert_close_rel(out, ref, dtype, f"forward {dtype} C={channels} {layout}")


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[6]])
def test_gradcheck_float64(case, device, gen):  # type: ignore[no-untyped-def]
    _, _, h, w, k, stride, padding, dilation = case
    x, weight, b = _inputs((1, 2, min(h, 9), min(w, 8), k), gen, device, torch.float64)
    x, weight, b = x.requires_grad_(), weight.requires_grad_(), b.requires_grad_()

    def fn(x, weight, b):  # type: ignore[no-untyped-def]
        return depthwise_conv2d(x, weight, b, stride=stride, padding=padding, dilation=dilation, impl="ext")

    assert torch.autograd.gradcheck(fn, (x, weight, b))


@pytest.mark.parametrize("device", devices())
def test_opcheck(device, gen):  # type: ignore[no-untyped-def]
    x, weight, b = _inputs((2, 3, 9, 11, 3), gen, device)
    x, weight, b = x.requires_grad_(), weight.requires_grad_(), b.requires_grad_()
    op = torch.ops.realtime.depthwise_conv2d.default
    torch.library.opcheck(op, (x, weight, b, [2, 1], [1, 1], [1, 2]))
    torch.library.opcheck(op, (x, weight, None, [1, 1], [0, 0], [1, 1]))
    grad_out = torch.randn(2, 3, 5, 9, generator=gen).to(device)
    torch.library.opcheck(
        torch.ops.realtime.depthwise_conv2d_backward.default,
        (grad_out, x.detach(), weight.detach(), [2, 1], [1, 1], [1, 2]),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": torch.zeros(3, 9, 9)}, r"x must be \[N,C,H,W\]"),
        ({"weight": torch.zeros(4, 1, 3, 3)}, r"weight must be \[C,1,kH,kW\] with C=3"),
        ({"bias": torch.zeros(4)}, r"bias must be \[C\]"),
        ({"weight": torch.zeros(3, 1, 3, 3, dtype=torch.float64)}, "must match x's dtype"),
        ({"stride": (1, 2, 3)}, "stride must be an int or a pair"),
        ({"x": torch.zeros(1, 3, 9, 9, dtype=torch.int32)}, "floating tensor"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, message):  # type: ignore[no-untyped-def]
    args = {"x": torch.zeros(1, 3, 9, 9), "weight": torch.zeros(3, 1, 3, 3), "bias": None, "stride": 1}
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        depthwise_conv2d(args["x"], args["weight"], args["bias"], stride=args["stride"], impl="ext")


def test_kernel_checks_reach_the_user():
    """The C++ TORCH_CHECKs guard the raw op too (e.g. for torch.compile users calling torch.ops directly)."""
    with pytest.raises(RuntimeError, match="too small"):
        torch.ops.realtime.depthwise_conv2d(
            torch.zeros(1, 2, 3, 3), torch.zeros(2, 1, 7, 7), None, [1, 1], [0, 0], [1, 1]
        )
    with pytest.raises(RuntimeError, match="one filter per input channel"):
        torch.ops.realtime.depthwise_conv2d(
            torch.zeros(1, 2, 8, 8), torch.zeros(3, 1, 3, 3), None, [1, 1], [0, 0], [1, 1]
        )
