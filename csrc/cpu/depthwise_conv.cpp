// CPU kernels of realtime::depthwise_conv2d. channels_last inputs run a kernel vectorised over channels (below);
// NCHW inputs take one (image, channel) plane per task, through a zero-padded copy of the plane split into stride
// phases (phase p holds padded columns p, p+s, p+2s, ...). In that layout every tap of every output is a fixed
// offset from the output row's origin, contiguous in ox and always inside the buffer, so the forward pass and both
// gradients run bounds-free vector loops. Accumulation is in the op math type (float for half/bfloat16).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../depthwise_conv.h"
#include "vec.h"

namespace realtime {
namespace {

// Zero-padded, phase-split copy of a plane for the forward pass: padded column X = m * sw + p is stored at
// out[(p * hp + Y) * pwid + m], with hp = h + 2ph and pwid = ceil((w + 2pw) / sw). Every tap of every output
// then reads inside the buffer, so the inner loops need no bounds checks.
struct PaddedLayout {
  int64_t hp, pwid;
  explicit PaddedLayout(const DepthwiseGeometry& g) : hp(g.h + 2 * g.ph), pwid((g.w + 2 * g.pw + g.sw - 1) / g.sw) {}
  int64_t size(const DepthwiseGeometry& g) const { return g.sw * hp * pwid; }

  // Offset of tap (i, j) from an output row's origin (row oy starts at oy * sh * pwid): row i*dh, phase
  // (j*dw) % sw, column (j*dw) / sw.
  std::vector<int64_t> tap_offsets(const DepthwiseGeometry& g) const {
    std::vector<int64_t> offsets(g.kh * g.kw);
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t col = j * g.dw;
        offsets[i * g.kw + j] = ((col % g.sw) * hp + i * g.dh) * pwid + col / g.sw;
      }
    return offsets;
  }
};

template <typename scalar_t>
void pad_and_split(const scalar_t* in, scalar_t* out, const DepthwiseGeometry& g, const PaddedLayout& L) {
  if (g.sw == 1) {  // the common case: zero only the border, copy rows
    std::fill(out, out + g.ph * L.pwid, scalar_t(0));
    std::fill(out + (g.ph + g.h) * L.pwid, out + L.hp * L.pwid, scalar_t(0));
    for (int64_t y = 0; y < g.h; ++y) {
      scalar_t* dst = out + (y + g.ph) * L.pwid;
      std::fill(dst, dst + g.pw, scalar_t(0));
      std::copy(in + y * g.w, in + (y + 1) * g.w, dst + g.pw);
      std::fill(dst + g.pw + g.w, dst + L.pwid, scalar_t(0));
    }
    return;
  }
  std::fill(out, out + L.size(g), scalar_t(0));
  for (int64_t p = 0; p < g.sw; ++p) {
    // padded columns p, p + sw, ... hold input columns x = m * sw + p - pw
    const int64_t m_first = p >= g.pw ? 0 : (g.pw - p + g.sw - 1) / g.sw;
    const int64_t x_first = m_first * g.sw + p - g.pw;
    const int64_t count = x_first < g.w ? std::min(L.pwid - m_first, (g.w - x_first + g.sw - 1) / g.sw) : 0;
    for (int64_t y = 0; y < g.h; ++y) {
      const scalar_t* src = in + y * g.w + x_first;
      scalar_t* dst = out + (p * L.hp + y + g.ph) * L.pwid + m_first;
      for (int64_t m = 0; m < count; ++m) dst[m] = src[m * g.sw];
    }
  }
}

// Inverse of pad_and_split: the interior of a padded, phase-split plane back to a plain [h, w] plane (whatever
// landed in the padding is dropped).
template <typename acc_t, typename scalar_t>
void unpad_and_merge(const acc_t* in, scalar_t* out, const DepthwiseGeometry& g, const PaddedLayout& L) {
  for (int64_t p = 0; p < g.sw; ++p) {
    const int64_t m_first = p >= g.pw ? 0 : (g.pw - p + g.sw - 1) / g.sw;
    const int64_t x_first = m_first * g.sw + p - g.pw;
    const int64_t count = x_first < g.w ? std::min(L.pwid - m_first, (g.w - x_first + g.sw - 1) / g.sw) : 0;
    for (int64_t y = 0; y < g.h; ++y) {
      const acc_t* src = in + (p * L.hp + y + g.ph) * L.pwid + m_first;
      scalar_t* dst = out + y * g.w + x_first;
      for (int64_t m = 0; m < count; ++m) dst[m * g.sw] = static_cast<scalar_t>(src[m]);
    }
  }
}

// A kRows x kBlock tile of outputs (kRows consecutive rows): every tap accumulated in registers, then one store.
// Each row has its own accumulators, so a tile keeps 2·kRows independent FMA chains in flight (one chain would be
// bound by FMA latency, not throughput). kTaps > 0 fixes the tap count at compile time (3x3, 5x5, 7x7).
template <int64_t kRows, int64_t kBlock, int64_t kTaps, typename scalar_t, typename acc_t>
REALTIME_INLINE void forward_tile(const scalar_t* origin, int64_t row_step, const int64_t* tap_offsets,
                                  const acc_t* weights, int64_t taps, acc_t bias, scalar_t* dst, int64_t dst_step) {
  acc_t acc[kRows][kBlock];
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t k = 0; k < kBlock; ++k) acc[r][k] = bias;
  const int64_t n_taps = kTaps > 0 ? kTaps : taps;
  for (int64_t t = 0; t < n_taps; ++t) {
    const acc_t wv = weights[t];
    for (int64_t r = 0; r < kRows; ++r) {
      const scalar_t* in = origin + r * row_step + tap_offsets[t];
#pragma omp simd
      for (int64_t k = 0; k < kBlock; ++k) acc[r][k] += wv * static_cast<acc_t>(in[k]);
    }
  }
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t k = 0; k < kBlock; ++k) dst[r * dst_step + k] = static_cast<scalar_t>(acc[r][k]);
}

template <int64_t kRows, int64_t kTaps, typename scalar_t, typename acc_t>
REALTIME_INLINE void forward_row_group(const scalar_t* origin, const int64_t* tap_offsets, const acc_t* weights,
                                       acc_t bias, scalar_t* dst, const DepthwiseGeometry& g, const PaddedLayout& L) {
  const int64_t taps = g.kh * g.kw, step = g.sh * L.pwid;
  int64_t ox = 0;
  for (; ox + 16 <= g.wo; ox += 16)
    forward_tile<kRows, 16, kTaps>(origin + ox, step, tap_offsets, weights, taps, bias, dst + ox, g.wo);
  for (; ox + 8 <= g.wo; ox += 8)
    forward_tile<kRows, 8, kTaps>(origin + ox, step, tap_offsets, weights, taps, bias, dst + ox, g.wo);
  for (; ox < g.wo; ++ox)
    forward_tile<kRows, 1, kTaps>(origin + ox, step, tap_offsets, weights, taps, bias, dst + ox, g.wo);
}

template <int64_t kTaps, typename scalar_t, typename acc_t>
REALTIME_INLINE void forward_rows(const scalar_t* padded, const int64_t* tap_offsets, const acc_t* weights, acc_t bias,
                                  scalar_t* out, const DepthwiseGeometry& g, const PaddedLayout& L) {
  int64_t oy = 0;
  for (; oy + 2 <= g.ho; oy += 2)
    forward_row_group<2, kTaps>(padded + oy * g.sh * L.pwid, tap_offsets, weights, bias, out + oy * g.wo, g, L);
  for (; oy < g.ho; ++oy)
    forward_row_group<1, kTaps>(padded + oy * g.sh * L.pwid, tap_offsets, weights, bias, out + oy * g.wo, g, L);
}

// One output plane of the forward pass from its padded, phase-split input, in tiles of 2 rows x 16 outputs
// (then 8 and single columns for a row's tail, and a single row for an odd last row).
template <typename scalar_t, typename acc_t>
REALTIME_VECTOR_CLONES void forward_plane(const scalar_t* padded, const scalar_t* w_plane, acc_t bias,
                                          scalar_t* out, const DepthwiseGeometry& g, const PaddedLayout& L) {
  const int64_t taps = g.kh * g.kw;
  const std::vector<int64_t> tap_offsets = L.tap_offsets(g);
  std::vector<acc_t> weights(taps);
  for (int64_t t = 0; t < taps; ++t) weights[t] = static_cast<acc_t>(w_plane[t]);
  switch (taps) {
    case 9: return forward_rows<9>(padded, tap_offsets.data(), weights.data(), bias, out, g, L);
    case 25: return forward_rows<25>(padded, tap_offsets.data(), weights.data(), bias, out, g, L);
    case 49: return forward_rows<49>(padded, tap_offsets.data(), weights.data(), bias, out, g, L);
    default: return forward_rows<0>(padded, tap_offsets.data(), weights.data(), bias, out, g, L);
  }
}

// Gradient of one input plane, scattered into a zeroed padded, phase-split accumulator `acc` (L.size(g) cells)
// through the same tap offsets the forward pass reads.
template <typename scalar_t, typename acc_t>
REALTIME_VECTOR_CLONES void grad_input_plane(const scalar_t* grad_plane, const acc_t* weights,
                                             const int64_t* tap_offsets, acc_t* acc, const DepthwiseGeometry& g,
                                             const PaddedLayout& L) {
  std::fill(acc, acc + L.size(g), acc_t(0));
  for (int64_t oy = 0; oy < g.ho; ++oy) {
    acc_t* origin = acc + oy * g.sh * L.pwid;
    const scalar_t* go_row = grad_plane + oy * g.wo;
    for (int64_t t = 0; t < g.kh * g.kw; ++t) vec::axpy(origin + tap_offsets[t], go_row, weights[t], g.wo);
  }
}

// Adds one plane's contribution to the kh*kw weight gradients of its channel, from the padded, phase-split input.
template <typename scalar_t, typename acc_t>
REALTIME_VECTOR_CLONES void grad_weight_plane(const scalar_t* grad_plane, const scalar_t* padded,
                                              const int64_t* tap_offsets, double* totals, const DepthwiseGeometry& g,
                                              const PaddedLayout& L) {
  for (int64_t oy = 0; oy < g.ho; ++oy) {
    const scalar_t* origin = padded + oy * g.sh * L.pwid;
    const scalar_t* go_row = grad_plane + oy * g.wo;
    for (int64_t t = 0; t < g.kh * g.kw; ++t)
      totals[t] += static_cast<double>(vec::dot<acc_t>(go_row, origin + tap_offsets[t], g.wo));
  }
}

// channels_last forward of one output row: per output pixel, each tap is one long vector loop over the contiguous
// channel dimension into a C-long accumulator that stays in L1 (weights transposed to [tap][C]). Register-blocked
// variants over channels measured slower here (per-block tap bookkeeping outweighed the saved loads).
template <typename scalar_t, typename acc_t>
REALTIME_VECTOR_CLONES void forward_row_nhwc(const scalar_t* x, const acc_t* w_t, const acc_t* bias, scalar_t* out,
                                             acc_t* acc, int64_t n, int64_t oy, const DepthwiseGeometry& g) {
  for (int64_t ox = 0; ox < g.wo; ++ox) {
    for (int64_t c = 0; c < g.c; ++c) acc[c] = bias[c];
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = oy * g.sh - g.ph + i * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ix = ox * g.sw - g.pw + j * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        vec::fma_into(acc, w_t + (i * g.kw + j) * g.c, x + ((n * g.h + iy) * g.w + ix) * g.c, g.c);
      }
    }
    scalar_t* dst = out + ((n * g.ho + oy) * g.wo + ox) * g.c;
    for (int64_t c = 0; c < g.c; ++c) dst[c] = static_cast<scalar_t>(acc[c]);
  }
}

at::Tensor depthwise_forward_cpu_nhwc(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias_in,
                                      const DepthwiseGeometry& g) {
  at::Tensor out = at::empty({g.n, g.c, g.ho, g.wo}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  const bool has_bias = bias_in.has_value() && bias_in->defined();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "depthwise_conv2d_cpu_nhwc", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    // weight [C, 1, kh, kw] -> [kh*kw, C] and bias -> [C], in the accumulation type
    const at::Tensor w_t = weight.reshape({g.c, g.kh * g.kw}).t().to(c10::CppTypeToScalarType<acc_t>::value).contiguous();
    const at::Tensor b = has_bias ? bias_in->to(c10::CppTypeToScalarType<acc_t>::value).contiguous()
                                  : at::zeros({g.c}, w_t.options());
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    const acc_t* wp = w_t.const_data_ptr<acc_t>();
    const acc_t* bp = b.const_data_ptr<acc_t>();
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, g.n * g.ho, 1, [&](int64_t begin, int64_t end) {
      std::vector<acc_t> acc(g.c);
      for (int64_t row = begin; row < end; ++row)
        forward_row_nhwc(xp, wp, bp, op, acc.data(), row / g.ho, row % g.ho, g);
    });
  });
  return out;
}

at::Tensor depthwise_forward_cpu(const at::Tensor& x_in, const at::Tensor& weight_in,
                                 const c10::optional<at::Tensor>& bias_in, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation) {
  const auto g = depthwise_geometry(x_in, weight_in, bias_in, stride, padding, dilation);
  const auto format = layout_of(x_in);
  if (format == at::MemoryFormat::ChannelsLast) return depthwise_forward_cpu_nhwc(x_in, weight_in, bias_in, g);
  const at::Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
  const bool has_bias = bias_in.has_value() && bias_in->defined();
  const at::Tensor bias = has_bias ? bias_in->contiguous() : at::Tensor();
  at::Tensor out = at::empty({g.n, g.c, g.ho, g.wo}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "depthwise_conv2d_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    const scalar_t* wp = weight.const_data_ptr<scalar_t>();
    const scalar_t* bp = has_bias ? bias.const_data_ptr<scalar_t>() : nullptr;
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
    const PaddedLayout layout(g);
    at::parallel_for(0, g.n * g.c, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> padded(layout.size(g));
      for (int64_t plane = begin; plane < end; ++plane) {
        const int64_t c = plane % g.c;
        pad_and_split(xp + plane * g.h * g.w, padded.data(), g, layout);
        const acc_t b = bp ? static_cast<acc_t>(bp[c]) : acc_t(0);
        forward_plane(padded.data(), wp + c * g.kh * g.kw, b, op + plane * g.ho * g.wo, g, layout);
      }
    });
  });
  return out.contiguous(format);
}

std::tuple<at::Tensor, at::Tensor> depthwise_backward_cpu(const at::Tensor& grad_out_in, const at::Tensor& x_in,
                                                          const at::Tensor& weight_in, at::IntArrayRef stride,
                                                          at::IntArrayRef padding, at::IntArrayRef dilation) {
  const auto g = depthwise_geometry(x_in, weight_in, c10::nullopt, stride, padding, dilation);
  check_depthwise_grad(grad_out_in, x_in, g);
  const auto format = layout_of(x_in);
  const at::Tensor x = x_in.contiguous(), weight = weight_in.contiguous(), grad_out = grad_out_in.contiguous();
  at::Tensor grad_x = at::empty({g.n, g.c, g.h, g.w}, x.options());
  at::Tensor grad_w = at::empty({g.c, 1, g.kh, g.kw}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "depthwise_conv2d_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    const scalar_t* wp = weight.const_data_ptr<scalar_t>();
    const scalar_t* gp = grad_out.const_data_ptr<scalar_t>();
    scalar_t* gxp = grad_x.mutable_data_ptr<scalar_t>();
    scalar_t* gwp = grad_w.mutable_data_ptr<scalar_t>();
    const PaddedLayout layout(g);
    const std::vector<int64_t> tap_offsets = layout.tap_offsets(g);
    // grad_x: scatter each output row back through the taps, then keep the padded accumulator's interior.
    at::parallel_for(0, g.n * g.c, 1, [&](int64_t begin, int64_t end) {
      std::vector<acc_t> acc(layout.size(g)), weights(g.kh * g.kw);
      for (int64_t plane = begin; plane < end; ++plane) {
        const scalar_t* w_plane = wp + (plane % g.c) * g.kh * g.kw;
        for (int64_t t = 0; t < g.kh * g.kw; ++t) weights[t] = static_cast<acc_t>(w_plane[t]);
        grad_input_plane(gp + plane * g.ho * g.wo, weights.data(), tap_offsets.data(), acc.data(), g, layout);
        unpad_and_merge(acc.data(), gxp + plane * g.h * g.w, g, layout);
      }
    });
    // grad_w: a channel per task; per-row dot products in acc_t, totals in double.
    at::parallel_for(0, g.c, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> totals(g.kh * g.kw);
      std::vector<scalar_t> padded(layout.size(g));
      for (int64_t c = begin; c < end; ++c) {
        std::fill(totals.begin(), totals.end(), 0.0);
        for (int64_t n = 0; n < g.n; ++n) {
          const int64_t plane = n * g.c + c;
          pad_and_split(xp + plane * g.h * g.w, padded.data(), g, layout);
          grad_weight_plane<scalar_t, acc_t>(gp + plane * g.ho * g.wo, padded.data(), tap_offsets.data(),
                                             totals.data(), g, layout);
        }
        for (int64_t k = 0; k < g.kh * g.kw; ++k) gwp[c * g.kh * g.kw + k] = static_cast<scalar_t>(totals[k]);
      }
    });
  });
  return {grad_x.contiguous(format), grad_w};
}

}  // namespace

TORCH_LIBRARY_IMPL(realtime, CPU, m) {
  m.impl("depthwise_conv2d", &depthwise_forward_cpu);
  m.impl("depthwise_conv2d_backward", &depthwise_backward_cpu);
}

}  // namespace realtime
