// Operator schemas of the `realtime` namespace and the Python module that carries them.
// Kernels live in cpu/*.cpp and cuda/*.cu (TORCH_LIBRARY_IMPL); fake kernels and autograd are registered in
// Python (realtime/ops/*.py) so that torch.compile and fake tensors see every op.
#include <torch/extension.h>

#include "build_info.h"

TORCH_LIBRARY(realtime, m) {
  // StyleGAN2 modulated convolution, fused: conv(x * styles, weight) * demod. See realtime/ops/modulated_conv.py.
  m.def("modulated_conv2d(Tensor x, Tensor weight, Tensor styles, bool demodulate, int padding, float eps) -> Tensor");
  // out is the forward result (used to recover the pre-demodulation activations without a second convolution).
  m.def(
      "modulated_conv2d_backward(Tensor grad_out, Tensor out, Tensor x, Tensor weight, Tensor styles, "
      "bool demodulate, int padding, float eps) -> (Tensor, Tensor, Tensor)");
  m.def(
      "depthwise_conv2d(Tensor x, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, int[2] dilation) "
      "-> Tensor");
  m.def(
      "depthwise_conv2d_backward(Tensor grad_out, Tensor x, Tensor weight, int[2] stride, int[2] padding, "
      "int[2] dilation) -> (Tensor, Tensor)");
  // Returns the blended frames and float64 solver stats [N, C, 2] = (iterations, relative residual).
  m.def("seamless_blend(Tensor dst, Tensor src, Tensor mask, float rtol, int max_iter) -> (Tensor, Tensor)");
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.doc() = "realtime custom operators (registered under torch.ops.realtime)";
  module.def("build_info", &realtime::build_info, "What this extension was compiled with");
}
