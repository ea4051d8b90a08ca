"""realtime.ops.modulated_conv2d: extension vs StyleGAN2's grouped-conv reference, gradients, opcheck, errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from realtime.ops import modulated_conv2d, modulated_conv2d_ref
from realtime.ops.modulated_conv import modulated_conv2d_traceable
from tests.conftest import devices
from tests.ops.helpers import assert_close_rel, assert_grads_match, make_layout

CASES = [  # (batch, in_channels, out_channels, H, W, kernel, padding, demodulate)
    (1, 4, 6, 9, 11, 3, 1, True),
    (2, 8, 5, 13, 7, 1, 0, True),
    (3, 6, 7, 17, 15, 7, 3, True),
    (8, 5, 4, 11, 13, 3, 1, False),
    (4, 3, 9, 19, 23, 7, 2, False),
    (5, 16, 8, 7, 9, 3, 0, True),
]
LAYOUTS = ["contiguous", "channels_last", "noncontiguous"]


def _inputs(case, gen, device, dtype=torch.float32):  # type: ignore[no-untyped-def]
    n, c, o, h, w, k, _, _ = case
    x = torch.randn(n, c, h, w, generator=gen).to(device, dtype)
    weight = torch.randn(o, c, k, k, generator=gen).to(device, dtype)
    styles = (torch.randn(n, c, generator=gen) + 1.5).to(device, dtype)
    return x, weight, styles


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize(("case", "layout"), list(itertools.product(CASES, LAYOUTS)))
def test_forward_matches_reference(case, layout, device, gen):  # type: ignore[no-untyped-def]
    x, weight, styles = _inputs(case, gen, device)
    padding, demod = case[6], case[7]
    x = make_layout(x, layout)
    out = modulated_conv2d(x, weight, styles, demodulate=demod, padding=padding, impl="ext")
    ref = modulated_conv2d_ref(x.contiguous(), weight, styles, demodulate=demod, padding=padding)
    assert_close_rel(out, ref, torch.float32, f"forward {case} {layout}")


def test_reference_is_stylegan2_semantics(gen):  # type: ignore[no-untyped-def]
    """Spell the definition out per sample: w' = w·s, demodulated over (C, k, k), then an ordinary conv."""
    x, weight, styles = _inputs(CASES[0], gen, "cpu", torch.float64)
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=1, impl="ext")
    for i in range(x.shape[0]):
        w = weight * styles[i][None, :, None, None]
        w = w / (w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        expected = torch.nn.functional.conv2d(x[i : i + 1], w, padding=1)
        assert_close_rel(out[i : i + 1], expected, torch.float64, f"sample {i}")


@pytest.mark.parametrize("demodulate", [True, False])
def test_traceable_form_matches_reference(demodulate, gen):  # type: ignore[no-untyped-def]
    """The scale-conv-rescale form used for ONNX export computes the same thing as the reference."""
    for case in CASES:
        x, weight, styles = _inputs(case, gen, "cpu", torch.float32)
        padding = weight.shape[-1] // 2
        expected = modulated_conv2d_ref(x, weight, styles, demodulate=demodulate, padding=padding)
        got = modulated_conv2d_traceable(x, weight, styles, demodulate=demodulate, padding=padding)
        assert_close_rel(got, expected, torch.float32, str(case))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize(("case", "layout"), list(itertools.product(CASES[:4], LAYOUTS)))
def test_backward_matches_reference(case, layout, device, gen):  # type: ignore[no-untyped-def]
    padding, demod = case[6], case[7]

    def call(x, w, s, impl):  # type: ignore[no-untyped-def]
        return modulated_conv2d(x, w, s, demodulate=demod, padding=padding, impl=impl)

    assert_grads_match(call, _inputs(case, gen, device), ("x", "weight", "styles"), layout, f"{case} {layout}")


@pytest.mark.parametrize("device", devices())
def test_channels_last_backward_over_a_large_plane(device, gen):  # type: ignore[no-untyped-def]
    """A 48x50 plane: CUDA's channels_last channel sums split it into slices added afterwards."""
    case = (2, 12, 5, 48, 50, 3, 1, True)

    def call(x, w, s, impl):  # type: ignore[no-untyped-def]
        return modulated_conv2d(x, w, s, demodulate=True, padding=1, impl=impl)

    assert_grads_match(call, _inputs(case, gen, device), ("x", "weight", "styles"), "channels_last", str(case))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype, device, gen):  # type: ignore[no-untyped-def]
    if device == "cpu" and dtype == torch.float16 and not _cpu_half_conv_supported():
        pytest.skip("this torch build has no float16 CPU convolution")
    case = CASES[0]
    x, weight, styles = _inputs(case, gen, device, dtype)
    out = modulated_conv2d(x, weight, styles, padding=1, impl="ext")
    assert out.dtype == dtype
    ref = modulated_conv2d_ref(x.float(), weight.float(), styles.float(), padding=1)
    assert_close_rel(out, ref, dtype, f"forward {dtype}")


def _cpu_half_conv_supported() -> bool:
    try:
        torch.nn.functional.conv2d(
            torch.zeros(1, 1, 3, 3, dtype=torch.float16), torch.zeros(1, 1, 1, 1, dtype=torch.float16)
        )
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("demodulate", [True, False])
def test_gradcheck_float64(demodulate, device, gen):  # type: ignore[no-untyped-def]
    x, weight, styles = _inputs((2, 3, 4, 6, 5, 3, 1, demodulate), gen, device, torch.float64)
    inputs = (x.requires_grad_(), weight.requires_grad_(), styles.requires_grad_())

    def fn(x, weight, styles):  # type: ignore[no-untyped-def]
        return modulated_conv2d(x, weight, styles, demodulate=demodulate, padding=1, impl="ext")

    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("device", devices())
def test_opcheck(device, gen):  # type: ignore[no-untyped-def]
    x, weight, styles = _inputs((2, 3, 4, 7, 6, 3, 1, True), gen, device)
    args = (x.requires_grad_(), weight.requires_grad_(), styles.requires_grad_())
    torch.library.opcheck(torch.ops.realtime.modulated_conv2d.default, (*args, True, 1, 1e-8))
    torch.library.opcheck(torch.ops.realtime.modulated_conv2d.default, (*args, False, 0, 1e-8))
    out = torch.ops.realtime.modulated_conv2d(*[a.detach() for a in args], True, 1, 1e-8)
    torch.library.opcheck(
        torch.ops.realtime.modulated_conv2d_backward.default,
        (torch.randn(out.shape, generator=gen).to(device), out, *[a.detach() for a in args], True, 1, 1e-8),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": torch.zeros(4, 9, 9)}, r"x must be \[N,C,H,W\]"),
        ({"weight": torch.zeros(5, 3, 3, 3)}, r"weight must be \[O,C,kH,kW\] with C=4"),
        ({"styles": torch.zeros(2, 5)}, r"styles must be \[N,C\]"),
        ({"styles": torch.zeros(2, 4, dtype=torch.float64)}, "must match x's dtype"),
        ({"padding": -1}, "padding must be an int >= 0"),
        ({"weight": torch.zeros(5, 4, 13, 13)}, "smaller than the 13x13 kernel"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, message):  # type: ignore[no-untyped-def]
    args = {"x": torch.zeros(2, 4, 9, 9), "weight": torch.zeros(5, 4, 3, 3), "styles": torch.ones(2, 4), "padding": 1}
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        modulated_conv2d(args["x"], args["weight"], args["styles"], padding=args["padding"], impl="ext")


@pytest.mark.parametrize("device", devices())
def test_the_nchw_activation_branch_of_a_wide_layer(device, gen):  # type: ignore[no-untyped-def]
    """512 channels at 28x28 (a generator's bottleneck): in NCHW, scaling the activations moves fewer elements than
    building per-sample weights, so the kernel takes its non-grouped branch, which the small cases above never
    reach; forward and backward against the reference."""
    case = (2, 512, 512, 28, 28, 3, 1, True)
    n, c, o, h, w, k, padding, _ = case
    assert n * o * c * k * k >= n * c * h * w + n * o * h * w  # csrc/modulated_conv.h: prefer_grouped() is false
    x, weight, styles = _inputs(case, gen, device)
    out = modulated_conv2d(x, weight, styles, padding=padding, impl="ext")
    assert_close_rel(out, modulated_conv2d_ref(x, weight, styles, padding=padding), torch.float32, "forward")

    def call(x, w, s, impl):  # type: ignore[no-untyped-def]
        return modulated_conv2d(x, w, s, padding=padding, impl=impl)

    assert_grads_match(call, (x, weight, styles), ("x", "weight", "styles"), "contiguous", "backward")
