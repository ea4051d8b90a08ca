#pragma once
// Geometry and argument checks of realtime::depthwise_conv2d, shared by the CPU and CUDA kernels.
#include <ATen/ATen.h>

#include "checks.h"

namespace realtime {

struct DepthwiseGeometry {
  int64_t n, c, h, w;      // input
  int64_t kh, kw;          // kernel
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t ho, wo;          // output
};

inline DepthwiseGeometry depthwise_geometry(const at::Tensor& x, const at::Tensor& weight,
                                            const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                            at::IntArrayRef padding, at::IntArrayRef dilation) {
  constexpr const char* op = "depthwise_conv2d";
  check_dim(x, 4, op, "x", "[N, C, H, W]");
  check_dim(weight, 4, op, "weight", "[C, 1, kH, kW]");
  check_float(x, op, "x");
  check_same(x, weight, op, "x", "weight");
  TORCH_CHECK(weight.size(0) == x.size(1) && weight.size(1) == 1, op, ": weight must be [C, 1, kH, kW] with C = ",
              x.size(1), " (one filter per input channel), got ", shape_str(weight));
  if (bias.has_value() && bias->defined()) {
    check_same(x, *bias, op, "x", "bias");
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == x.size(1), op, ": bias must be [C] = [", x.size(1), "], got ",
                shape_str(*bias));
  }
  TORCH_CHECK(stride.size() == 2 && padding.size() == 2 && dilation.size() == 2, op,
              ": stride, padding and dilation must each have 2 values");
  TORCH_CHECK(stride[0] >= 1 && stride[1] >= 1, op, ": stride must be >= 1, got ", stride);
  TORCH_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be >= 0, got ", padding);
  TORCH_CHECK(dilation[0] >= 1 && dilation[1] >= 1, op, ": dilation must be >= 1, got ", dilation);
  DepthwiseGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), weight.size(2), weight.size(3),
                      stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], 0, 0};
  g.ho = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.wo = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  TORCH_CHECK(g.ho > 0 && g.wo > 0, op, ": input ", g.h, "x", g.w, " is too small for a ", g.kh, "x", g.kw,
              " kernel with dilation ", dilation, " and padding ", padding, " (output would be ", g.ho, "x", g.wo,
              ")");
  return g;
}

inline void check_depthwise_grad(const at::Tensor& grad_out, const at::Tensor& x, const DepthwiseGeometry& g) {
  check_same(grad_out, x, "depthwise_conv2d_backward", "grad_out", "x");
  TORCH_CHECK(grad_out.dim() == 4 && grad_out.size(0) == g.n && grad_out.size(1) == g.c &&
                  grad_out.size(2) == g.ho && grad_out.size(3) == g.wo,
              "depthwise_conv2d_backward: grad_out must be [", g.n, ", ", g.c, ", ", g.ho, ", ", g.wo, "], got ",
              shape_str(grad_out));
}

}  // namespace realtime
