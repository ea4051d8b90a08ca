"""Custom operators of the toolkit, each with a compiled kernel (``realtime._C``) and a pure-PyTorch reference.

Every public op takes ``impl="auto" | "ext" | "ref"``; see :mod:`realtime.ops._dispatch` for the fallback rules.
"""

from realtime.ops._dispatch import LOAD_ERROR, ExtensionMissingError, build_info, extension_loaded
from realtime.ops.depthwise_conv import depthwise_conv2d, depthwise_conv2d_ref
from realtime.ops.modulated_conv import modulated_conv2d, modulated_conv2d_ref
from realtime.ops.seamless_blend import (
    BlendNotConvergedWarning,
    seamless_blend,
    seamless_blend_ref,
    seamless_blend_stats,
)

__all__ = [
    "LOAD_ERROR",
    "BlendNotConvergedWarning",
    "ExtensionMissingError",
    "build_info",
    "depthwise_conv2d",
    "depthwise_conv2d_ref",
    "extension_loaded",
    "modulated_conv2d",
    "modulated_conv2d_ref",
    "seamless_blend",
    "seamless_blend_ref",
    "seamless_blend_stats",
]
