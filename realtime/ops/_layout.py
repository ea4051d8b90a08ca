"""Memory-layout rule shared by every op and its fake kernel: channels_last in, channels_last out."""

from __future__ import annotations

import torch


def output_layout(x: torch.Tensor) -> torch.memory_format:
    """``torch.channels_last`` when 4-D ``x`` is channels_last (and not plain contiguous), else contiguous."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format
