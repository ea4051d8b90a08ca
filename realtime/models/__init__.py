"""Neural layers shared by inference and training: identity injection (AdaIN and modulated convolution), depthwise-
separable convolutions, and the SimSwap-style generator built from them."""

from realtime.models.generator import GeneratorConfig, SwapGenerator
from realtime.models.layers import DepthwiseSeparableConv2d, ModulatedConv2d, set_ops_impl

__all__ = ["DepthwiseSeparableConv2d", "GeneratorConfig", "ModulatedConv2d", "SwapGenerator", "set_ops_impl"]
