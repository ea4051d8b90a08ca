"""impl selection: auto/ext/ref, the one-time fallback warning, REALTIME_REQUIRE_EXT, and the env report."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from realtime.ops import _dispatch, depthwise_conv2d, extension_loaded
from realtime.ops._dispatch import (
    TRAIN_SUFFIX,
    ExtensionMissingError,
    auto_key,
    choose_impl,
    needs_grad,
    read_auto_table,
)
from tests.cli import call_main


def test_extension_is_loaded_in_this_install():
    assert extension_loaded(), f"realtime._C failed to load: {_dispatch.LOAD_ERROR}"


def test_unknown_impl_is_rejected():
    with pytest.raises(ValueError, match="impl must be one of"):
        depthwise_conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(2, 1, 3, 3), impl="fast")


def test_auto_prefers_the_extension():
    assert choose_impl("auto", "op", torch.zeros(1)) == "ext"
    assert choose_impl("ref", "op", torch.zeros(1)) == "ref"


def test_missing_extension_falls_back_once_with_a_warning(monkeypatch):
    monkeypatch.setattr(_dispatch, "_C", None)
    monkeypatch.setattr(_dispatch, "LOAD_ERROR", "ImportError: simulated")
    monkeypatch.setattr(_dispatch, "_warned", set())
    monkeypatch.delenv("REALTIME_REQUIRE_EXT", raising=False)
    x, w = torch.randn(1, 2, 6, 6), torch.randn(2, 1, 3, 3)
    with pytest.warns(RuntimeWarning, match="slow PyTorch reference.*simulated"):
        out = depthwise_conv2d(x, w, padding=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call must not warn again
        again = depthwise_conv2d(x, w, padding=1)
    assert torch.equal(out, again)
    # the reference is a grouped F.conv2d, so compare with an independent computation: each channel's plane
    # cross-correlated with its own 3x3 kernel by scipy, zero-padded
    from scipy.signal import correlate2d

    expected = np.stack(
        [correlate2d(x[0, c].double().numpy(), w[c, 0].double().numpy(), mode="same") for c in range(2)]
    )
    assert np.abs(out[0].double().numpy() - expected).max() < 1e-5


def test_require_ext_turns_fallback_into_an_error(monkeypatch):
    monkeypatch.setattr(_dispatch, "_C", None)
    monkeypatch.setattr(_dispatch, "LOAD_ERROR", "ImportError: simulated")
    monkeypatch.setenv("REALTIME_REQUIRE_EXT", "1")
    with pytest.raises(ExtensionMissingError, match="REALTIME_REQUIRE_EXT=1"):
        depthwise_conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(2, 1, 3, 3))
    monkeypatch.delenv("REALTIME_REQUIRE_EXT")
    with pytest.raises(ExtensionMissingError, match="impl='ext'"):
        depthwise_conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(2, 1, 3, 3), impl="ext")


def test_device_without_kernels_is_reported(monkeypatch):
    monkeypatch.setenv("REALTIME_REQUIRE_EXT", "1")
    with pytest.raises(ExtensionMissingError, match="no kernel for device meta"):
        choose_impl("auto", "op", torch.zeros(1, device="meta"))


def test_env_report_runs_and_lists_kernels():
    proc = subprocess.run([sys.executable, "-m", "realtime.env", "--json"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["extension_loaded"] is True
    assert set(info["extension_kernels"]) == {"modulated_conv2d", "depthwise_conv2d", "seamless_blend"}
    assert info["torch"] == torch.__version__
    table = call_main("realtime.env")
    assert "extension_devices" in table.stdout and table.returncode == 0


def test_cuda_kernels_are_compiled_where_a_toolkit_exists():
    """With a CUDA torch and nvcc on PATH, setup.py must have built (and nvcc compiled) the .cu kernels, so a CI
    machine without a GPU still proves that every kernel compiles."""
    import os
    import shutil

    from realtime.ops import build_info

    if torch.version.cuda is None or shutil.which("nvcc") is None or os.environ.get("REALTIME_CUDA") == "0":
        pytest.skip("no CUDA toolkit here, or REALTIME_CUDA=0: the CPU-only build is expected")
    info = build_info()
    assert info.get("cuda"), f"the extension was built without its CUDA kernels: {info}"
    assert info.get("cuda_version") == torch.version.cuda


@pytest.mark.skipif(not extension_loaded(), reason="the extension is not built")
def test_auto_takes_what_the_table_measured_faster(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    table = tmp_path / "auto_impl.json"
    table.write_text(json.dumps({"choices": {"depthwise_conv2d|cpu|contiguous|float32": {"impl": "ref"}}}))
    monkeypatch.setattr(_dispatch, "_AUTO_CHOICES", read_auto_table(table))
    monkeypatch.setenv("REALTIME_REQUIRE_EXT", "1")  # a measured choice of the reference is no fallback
    x = torch.zeros(1, 2, 4, 4)
    assert auto_key("depthwise_conv2d", x) == ("depthwise_conv2d", "cpu", "contiguous", torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_impl("auto", "depthwise_conv2d", x) == "ref"
    assert choose_impl("ext", "depthwise_conv2d", x) == "ext"  # asked for by name: still the kernel
    assert choose_impl("auto", "depthwise_conv2d", x.to(memory_format=torch.channels_last)) == "ext"  # not listed
    assert choose_impl("auto", "depthwise_conv2d", x.double()) == "ext"


@pytest.mark.skipif(not extension_loaded(), reason="the extension is not built")
def test_auto_judges_a_call_with_gradients_by_the_training_rows(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    table = tmp_path / "auto_impl.json"
    table.write_text(json.dumps({"choices": {"depthwise_conv2d|cpu|contiguous|float32": {"impl": "ext"},
                                             "depthwise_conv2d:train|cpu|contiguous|float32": {"impl": "ref"},
                                             "modulated_conv2d|cpu|contiguous|float32": {"impl": "ref"}}}))  # fmt: skip
    monkeypatch.setattr(_dispatch, "_AUTO_CHOICES", read_auto_table(table))
    x, weight = torch.randn(1, 2, 6, 6), torch.randn(2, 1, 3, 3, requires_grad=True)
    assert not needs_grad(x, None) and needs_grad(x, weight, None)
    with torch.no_grad():
        assert not needs_grad(x, weight)
    assert choose_impl("auto", "depthwise_conv2d", x, needs_grad(x)) == "ext"  # inference: the forward rows
    assert choose_impl("auto", "depthwise_conv2d", x, needs_grad(x, weight)) == "ref"  # training: the :train rows
    assert choose_impl("ext", "depthwise_conv2d", x, grad=True) == "ext"
    assert choose_impl("auto", "modulated_conv2d", x, grad=True) == "ref"  # no :train row: the forward's choice
    # through the public op: the reference's autograd graph (a plain convolution) when training
    out = depthwise_conv2d(x, weight, padding=1)
    assert out.grad_fn is not None and "Convolution" in type(out.grad_fn).__name__


def test_bench_writes_the_table_by_geometric_mean_and_keeps_other_devices(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.ops import write_auto_table

    path = tmp_path / "auto_impl.json"
    path.write_text(json.dumps({"choices": {"seamless_blend|cuda|contiguous|float32": {"impl": "ext"},
                                            "seamless_blend|cpu|contiguous|float32": {"impl": "ref"}},
                                "measured": {}}))  # fmt: skip
    row = {"device": "cpu", "layout": "contiguous", "dtype": "float32"}
    rows = [{**row, "op": "depthwise_conv2d fwd", "speedup_vs_ref": s} for s in (4.0, 0.5, 0.4)]  # geo-mean 0.93
    rows += [{**row, "op": "depthwise_conv2d fwd+bwd", "speedup_vs_ref": 9.0},  # training: its own entry
             {**row, "op": "seamless_blend", "speedup_vs_ref": 3.0}]  # fmt: skip
    fresh = write_auto_table(rows, path)
    assert fresh["depthwise_conv2d|cpu|contiguous|float32"]["impl"] == "ref"
    assert fresh["depthwise_conv2d:train|cpu|contiguous|float32"]["impl"] == "ext"
    assert fresh["seamless_blend|cpu|contiguous|float32"]["impl"] == "ext"
    table = json.loads(path.read_text())
    assert table["choices"]["seamless_blend|cuda|contiguous|float32"] == {"impl": "ext"}  # another device: kept
    assert set(table["measured"]) == {"cpu"}


def test_the_shipped_table_is_well_formed() -> None:
    from realtime.ops._dispatch import AUTO_TABLE

    assert read_auto_table(AUTO_TABLE)  # what choose_impl uses
    table = json.loads(AUTO_TABLE.read_text())
    assert table["choices"] and all(e["impl"] in ("ext", "ref") for e in table["choices"].values())
    for key in table["choices"]:
        op, device, layout, dtype = key.split("|")
        op = op.removesuffix(TRAIN_SUFFIX)
        assert op in ("modulated_conv2d", "depthwise_conv2d", "seamless_blend") and device in table["measured"]
        assert layout in ("contiguous", "channels_last") and dtype in ("float32", "float16", "bfloat16")
