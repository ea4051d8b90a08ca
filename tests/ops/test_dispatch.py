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
from realtime.ops._dispatch import ExtensionMissingError, choose_impl
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
