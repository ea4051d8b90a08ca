"""Settings every op test runs under."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def full_float32_on_cuda() -> Iterator[None]:
    """TF32 off while a test runs. CUDA convolutions default to TF32 for float32 (cuDNN's allow_tf32 is on), which
    keeps 10 mantissa bits of each operand: the modulated convolution and its reference, both built on cuDNN, then
    differed by 3-4e-4 on an H200, far above float32's 1e-5 bound. The parity tests check the kernels' float32
    arithmetic; the product keeps PyTorch's defaults."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
