#pragma once
// realtime::modulated_conv2d, written once for every device.
//
// StyleGAN2 semantics: per-sample weight w'[n,o,c] = w[o,c] * s[n,c], demodulated by
// d[n,o] = 1/sqrt(sum_{c,k} w'^2 + eps). Instead of materialising N weight copies for a grouped convolution,
// the op computes the identical  conv(x * s, w) * d  with ONE batched convolution (ATen: cuDNN / oneDNN), and
// d = rsqrt((s^2) @ (sum_k w^2)^T + eps) from a tiny matmul. When the feature maps are large next to the weight
// (N·O·C·k² < N·C·H·W + N·O·H'·W'), scaling the weight is cheaper than scaling activations, so the forward pass
// instead builds per-sample weights w·s·d in one kernel and runs a grouped convolution (StyleGAN2's
// "fused_modconv"), and the backward pass differentiates that grouped form. The elementwise work is the device kernels
// (`Kernels`), see cpu/ and cuda/.
#include <ATen/ATen.h>

#include <tuple>

#include "checks.h"

namespace realtime {

inline void check_modulated(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& styles, int64_t padding,
                            double eps) {
  constexpr const char* op = "modulated_conv2d";
  check_dim(x, 4, op, "x", "[N, C, H, W]");
  check_dim(weight, 4, op, "weight", "[O, C, kH, kW]");
  check_dim(styles, 2, op, "styles", "[N, C]");
  check_float(x, op, "x");
  check_same(x, weight, op, "x", "weight");
  check_same(x, styles, op, "x", "styles");
  TORCH_CHECK(weight.size(1) == x.size(1), op, ": weight has ", weight.size(1), " input channels but x has ",
              x.size(1), " (weight must be [O, C, kH, kW])");
  TORCH_CHECK(styles.size(0) == x.size(0) && styles.size(1) == x.size(1), op, ": styles must be [N, C] = [",
              x.size(0), ", ", x.size(1), "], got ", shape_str(styles));
  TORCH_CHECK(padding >= 0, op, ": padding must be >= 0, got ", padding);
  TORCH_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
  TORCH_CHECK(x.size(2) + 2 * padding >= weight.size(2) && x.size(3) + 2 * padding >= weight.size(3), op,
              ": input ", x.size(2), "x", x.size(3), " with padding ", padding, " is smaller than the ",
              weight.size(2), "x", weight.size(3), " kernel");
}

inline at::ScalarType accum_type(at::ScalarType t) { return t == at::kDouble ? at::kDouble : at::kFloat; }

// d[n,o] = rsqrt(sum_c s[n,c]^2 * sum_k w[o,c,k]^2 + eps), in the accumulation dtype; also returns sum_k w^2 [O,C].
inline std::tuple<at::Tensor, at::Tensor> demod_coefficients(const at::Tensor& weight, const at::Tensor& s_acc,
                                                             double eps) {
  const at::Tensor w2 = weight.to(s_acc.scalar_type()).square().sum({2, 3});
  const at::Tensor d = at::addmm(at::full({}, eps, s_acc.options()), s_acc.square(), w2.t()).rsqrt();
  return {d, w2};
}

// Kernels must provide:
//   static void scale_channels(const at::Tensor& in, const at::Tensor& scale, at::Tensor& out);
//       out[n,c,...] = in[n,c,...] * scale[n,c]; in/out [N,C,H,W] of one dtype and layout (NCHW or channels_last
//       contiguous, out may alias in), scale [N,C] float32/float64 contiguous.
//   static at::Tensor channel_dot(const at::Tensor& a, const at::Tensor& b);
//       [N,C] (accumulation dtype) = sum over H,W of a*b; a and b of one shape, dtype and layout.
//   static at::Tensor modulate_weight(const at::Tensor& weight, const at::Tensor& s, const at::Tensor& d);
//       [N*O, C, kH, kW] of weight's dtype = weight[o,c] * s[n,c] * d[n,o] (d undefined: 1); weight contiguous,
//       s [N,C] and d [N,O] contiguous in the accumulation dtype.
template <class Kernels>
at::Tensor scaled(const at::Tensor& in, const at::Tensor& scale) {
  at::Tensor out = at::empty_like(in);
  Kernels::scale_channels(in, scale, out);
  return out;
}

// True when modulating the weight moves fewer elements than modulating the activations (see the top comment).
inline bool prefer_grouped(const at::Tensor& x, const at::Tensor& weight, bool demodulate, int64_t padding) {
  if (layout_of(x) == at::MemoryFormat::ChannelsLast) return false;  // keep channels_last end to end
  const int64_t n = x.size(0), c = x.size(1), o = weight.size(0);
  const int64_t out_hw = (x.size(2) + 2 * padding - weight.size(2) + 1) * (x.size(3) + 2 * padding - weight.size(3) + 1);
  const int64_t weight_cost = n * o * c * weight.size(2) * weight.size(3);
  const int64_t activation_cost = n * c * x.size(2) * x.size(3) + (demodulate ? n * o * out_hw : 0);
  return weight_cost < activation_cost;
}

template <class Kernels>
at::Tensor modulated_conv2d_forward(const at::Tensor& x_in, const at::Tensor& weight, const at::Tensor& styles,
                                    bool demodulate, int64_t padding, double eps) {
  check_modulated(x_in, weight, styles, padding, eps);
  const at::Tensor x = x_in.contiguous(layout_of(x_in));
  const at::Tensor s = styles.to(accum_type(x.scalar_type())).contiguous();
  if (prefer_grouped(x, weight, demodulate, padding)) {
    const int64_t n = x.size(0), c = x.size(1), o = weight.size(0);
    const at::Tensor d = demodulate ? std::get<0>(demod_coefficients(weight, s, eps)).contiguous() : at::Tensor();
    const at::Tensor per_sample = Kernels::modulate_weight(weight.contiguous(), s, d);
    const at::Tensor out = at::conv2d(x.reshape({1, n * c, x.size(2), x.size(3)}), per_sample, {}, 1, padding, 1, n);
    return out.reshape({n, o, out.size(2), out.size(3)});
  }
  at::Tensor out = at::conv2d(scaled<Kernels>(x, s), weight, {}, 1, padding);
  if (demodulate) {
    out = out.contiguous(layout_of(out));
    Kernels::scale_channels(out, std::get<0>(demod_coefficients(weight, s, eps)).contiguous(), out);
  }
  return out;
}

// Backward of the grouped form out = conv_groups(x, W'), W'[n,o,c,k] = w[o,c,k] s[n,c] d[n,o]: the grouped
// convolution gives dL/dx and dL/dW'; the chain rule through W' runs on the (small) weight-sized tensors.
template <class Kernels>
std::tuple<at::Tensor, at::Tensor, at::Tensor> grouped_backward(const at::Tensor& grad_out, const at::Tensor& x,
                                                                const at::Tensor& weight, const at::Tensor& s,
                                                                at::ScalarType styles_dtype, bool demodulate,
                                                                int64_t padding, double eps) {
  const int64_t n = x.size(0), c = x.size(1), o = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  at::Tensor d, w2;
  if (demodulate) std::tie(d, w2) = demod_coefficients(weight, s, eps);
  const at::Tensor per_sample = Kernels::modulate_weight(weight.contiguous(), s, demodulate ? d.contiguous() : d);
  const at::Tensor x_flat = x.reshape({1, n * c, x.size(2), x.size(3)});
  auto grads = at::convolution_backward(grad_out.reshape({1, n * o, grad_out.size(2), grad_out.size(3)}), x_flat,
                                        per_sample, c10::nullopt, {1, 1}, {padding, padding}, {1, 1}, false, {0, 0},
                                        n, {true, true, false});
  const at::Tensor grad_x = std::get<0>(grads).reshape(x.sizes());
  const at::Tensor g = std::get<1>(grads).to(s.scalar_type()).reshape({n, o, c, kh * kw});  // dL/dW'
  const at::Tensor w = weight.to(s.scalar_type()).reshape({1, o, c, kh * kw});
  const at::Tensor d_no = demodulate ? d : at::ones({n, o}, s.options());
  const at::Tensor gw_dot = (g * w).sum(-1);                                           // [N, O, C]
  at::Tensor grad_s = (gw_dot * d_no.unsqueeze(2)).sum(1);                             // [N, C]
  at::Tensor grad_w = (g * (s.unsqueeze(1) * d_no.unsqueeze(2)).unsqueeze(3)).sum(0);  // [O, C, k*k]
  if (demodulate) {
    const at::Tensor t = (gw_dot * s.unsqueeze(1)).sum(2) * d.pow(3);  // dL/dd * d^3, [N, O]
    grad_s = grad_s - s * at::mm(t, w2);
    grad_w = grad_w - w[0] * at::mm(t.t(), s.square()).unsqueeze(2);
  }
  return {grad_x, grad_w.reshape(weight.sizes()).to(weight.scalar_type()), grad_s.to(styles_dtype)};
}

template <class Kernels>
std::tuple<at::Tensor, at::Tensor, at::Tensor> modulated_conv2d_backward(
    const at::Tensor& grad_out_in, const at::Tensor& out_in, const at::Tensor& x_in, const at::Tensor& weight,
    const at::Tensor& styles, bool demodulate, int64_t padding, double eps) {
  check_modulated(x_in, weight, styles, padding, eps);
  check_same(grad_out_in, x_in, "modulated_conv2d_backward", "grad_out", "x");
  TORCH_CHECK(grad_out_in.sizes() == out_in.sizes(), "modulated_conv2d_backward: grad_out ", shape_str(grad_out_in),
              " and out ", shape_str(out_in), " must have one shape");
  const auto acc = accum_type(x_in.scalar_type());
  const at::Tensor x = x_in.contiguous(layout_of(x_in));
  const at::Tensor s = styles.to(acc).contiguous();
  if (prefer_grouped(x, weight, demodulate, padding))
    return grouped_backward<Kernels>(grad_out_in.contiguous(), x, weight, s, styles.scalar_type(), demodulate,
                                     padding, eps);
  const at::Tensor grad_out = grad_out_in.contiguous(layout_of(grad_out_in));
  const at::Tensor xs = scaled<Kernels>(x, s);

  at::Tensor d, w2;
  at::Tensor grad_y0 = grad_out;
  if (demodulate) {
    std::tie(d, w2) = demod_coefficients(weight, s, eps);
    d = d.contiguous();
    grad_y0 = scaled<Kernels>(grad_out, d);
  }
  auto grads = at::convolution_backward(grad_y0, xs, weight, c10::nullopt, {1, 1}, {padding, padding}, {1, 1},
                                        false, {0, 0}, 1, {true, true, false});
  const at::Tensor grad_xs = std::get<0>(grads).contiguous(layout_of(x));
  at::Tensor grad_w = std::get<1>(grads).to(acc);

  const at::Tensor grad_x = scaled<Kernels>(grad_xs, s);
  at::Tensor grad_s = Kernels::channel_dot(grad_xs, x);
  if (demodulate) {
    // out = y0 * d, so dL/dd = sum_hw grad_out * y0 = sum_hw grad_out * out / d.
    const at::Tensor out = out_in.contiguous(layout_of(grad_out));
    const at::Tensor t = Kernels::channel_dot(grad_out, out) / d * d.pow(3);  // dL/dd * d^3, [N, O]
    grad_s = grad_s - s * at::mm(t, w2);                                      // d(d)/ds = -d^3 * w2 * s
    grad_w = grad_w - weight.to(acc) * at::mm(t.t(), s.square()).unsqueeze(2).unsqueeze(3);
  }
  return {grad_x, grad_w.to(weight.scalar_type()), grad_s.to(styles.scalar_type())};
}

}  // namespace realtime
