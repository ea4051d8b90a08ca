// CUDA kernels of realtime::depthwise_conv2d: forward with a thread per output element (NCHW) or per output pixel
// and group of up to 8 channels read with vector loads (channels_last, no transposes); a thread per input element
// gathering through the taps (grad_x, no atomics), and a block per (channel, tap) reducing over the batch (grad_w).
// The backward works in NCHW (channels_last inputs are transposed there).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <cstdint>
#include <initializer_list>

#include "../depthwise_conv.h"
#include "cuda_utils.cuh"

namespace realtime {
namespace {

// Calls fn(tap, iy, ix) for every tap (i * kW + j) of output pixel (oy, ox) that lands inside the input: padding
// contributes nothing.
template <typename F>
__device__ inline void for_each_tap(const DepthwiseGeometry& g, int64_t oy, int64_t ox, const F& fn) {
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t iy = oy * g.sh - g.ph + i * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t ix = ox * g.sw - g.pw + j * g.dw;
      if (ix < 0 || ix >= g.w) continue;
      fn(i * g.kw + j, iy, ix);
    }
  }
}

template <typename scalar_t>
__global__ void depthwise_forward_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ w,
                                         const scalar_t* __restrict__ bias, scalar_t* __restrict__ out,
                                         DepthwiseGeometry g) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t total = g.n * g.c * g.ho * g.wo;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = idx % g.wo, oy = (idx / g.wo) % g.ho, plane = idx / (g.wo * g.ho), c = plane % g.c;
    const scalar_t* xp = x + plane * g.h * g.w;
    const scalar_t* wp = w + c * g.kh * g.kw;
    acc_t acc = bias ? static_cast<acc_t>(bias[c]) : acc_t(0);
    for_each_tap(g, oy, ox, [&](int64_t tap, int64_t iy, int64_t ix) {
      acc += static_cast<acc_t>(wp[tap]) * static_cast<acc_t>(xp[iy * g.w + ix]);
    });
    out[idx] = static_cast<scalar_t>(acc);
  }
}

// V consecutive channels of one pixel, loaded and stored as one aligned vector (16 bytes for V * sizeof = 16).
template <typename scalar_t, int V>
struct alignas(sizeof(scalar_t) * V) ChannelVector {
  scalar_t v[V];
};

// channels_last: a thread per (output pixel, group of V channels); consecutive threads take consecutive groups of
// one pixel, so a warp's loads are contiguous. The weight is [kH * kW, C] (transposed once by the caller), so the
// V filters' tap is one vector load too.
template <typename scalar_t, int V>
__global__ void depthwise_forward_nhwc_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ w_taps,
                                              const scalar_t* __restrict__ bias, scalar_t* __restrict__ out,
                                              DepthwiseGeometry g) {
  using acc_t = at::opmath_type<scalar_t>;
  using Vec = ChannelVector<scalar_t, V>;
  const int64_t groups = g.c / V, total = g.n * g.ho * g.wo * groups;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c0 = (idx % groups) * V, pixel = idx / groups;
    const int64_t ox = pixel % g.wo, oy = (pixel / g.wo) % g.ho, n = pixel / (g.wo * g.ho);
    acc_t acc[V];
    for (int v = 0; v < V; ++v) acc[v] = bias ? static_cast<acc_t>(bias[c0 + v]) : acc_t(0);
    for_each_tap(g, oy, ox, [&](int64_t tap, int64_t iy, int64_t ix) {
      const Vec xv = *reinterpret_cast<const Vec*>(x + ((n * g.h + iy) * g.w + ix) * g.c + c0);
      const Vec wv = *reinterpret_cast<const Vec*>(w_taps + tap * g.c + c0);
      for (int v = 0; v < V; ++v) acc[v] += static_cast<acc_t>(wv.v[v]) * static_cast<acc_t>(xv.v[v]);
    });
    Vec result;
    for (int v = 0; v < V; ++v) result.v[v] = static_cast<scalar_t>(acc[v]);
    *reinterpret_cast<Vec*>(out + pixel * g.c + c0) = result;
  }
}

template <typename scalar_t, int V>
void launch_forward_nhwc(const at::Tensor& x, const at::Tensor& w_taps, const at::Tensor& bias, at::Tensor& out,
                         const DepthwiseGeometry& g) {
  depthwise_forward_nhwc_kernel<scalar_t, V><<<cuda::blocks_for(out.numel() / V), cuda::kThreads, 0,
                                               c10::cuda::getCurrentCUDAStream()>>>(
      x.const_data_ptr<scalar_t>(), w_taps.const_data_ptr<scalar_t>(),
      bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr, out.mutable_data_ptr<scalar_t>(), g);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// The widest vector (16 bytes at most) that divides C and that every pointer is aligned to.
template <typename scalar_t>
int vector_width(const DepthwiseGeometry& g, std::initializer_list<const void*> pointers) {
  for (int v = 16 / static_cast<int>(sizeof(scalar_t)); v > 1; v /= 2) {
    bool aligned = g.c % v == 0;
    for (const void* p : pointers) aligned = aligned && reinterpret_cast<uintptr_t>(p) % (v * sizeof(scalar_t)) == 0;
    if (aligned) return v;
  }
  return 1;
}

template <typename scalar_t>
__global__ void depthwise_grad_input_kernel(const scalar_t* __restrict__ grad_out, const scalar_t* __restrict__ w,
                                            scalar_t* __restrict__ grad_x, DepthwiseGeometry g) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t total = g.n * g.c * g.h * g.w;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ix = idx % g.w, iy = (idx / g.w) % g.h, plane = idx / (g.w * g.h), c = plane % g.c;
    const scalar_t* gp = grad_out + plane * g.ho * g.wo;
    const scalar_t* wp = w + c * g.kh * g.kw;
    acc_t acc = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ty = iy + g.ph - i * g.dh;  // = oy * sh
      if (ty < 0 || ty % g.sh != 0) continue;
      const int64_t oy = ty / g.sh;
      if (oy >= g.ho) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tx = ix + g.pw - j * g.dw;
        if (tx < 0 || tx % g.sw != 0) continue;
        const int64_t ox = tx / g.sw;
        if (ox >= g.wo) continue;
        acc += static_cast<acc_t>(wp[i * g.kw + j]) * static_cast<acc_t>(gp[oy * g.wo + ox]);
      }
    }
    grad_x[idx] = static_cast<scalar_t>(acc);
  }
}

template <typename scalar_t>
__global__ void depthwise_grad_weight_kernel(const scalar_t* __restrict__ grad_out, const scalar_t* __restrict__ x,
                                             scalar_t* __restrict__ grad_w, DepthwiseGeometry g) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t c = blockIdx.x / (g.kh * g.kw), tap = blockIdx.x % (g.kh * g.kw);
  const int64_t i = tap / g.kw, j = tap % g.kw;
  const int64_t per_image = g.ho * g.wo;
  acc_t acc = 0;
  for (int64_t k = threadIdx.x; k < g.n * per_image; k += blockDim.x) {
    const int64_t n = k / per_image, oy = (k % per_image) / g.wo, ox = k % g.wo;
    const int64_t iy = oy * g.sh - g.ph + i * g.dh, ix = ox * g.sw - g.pw + j * g.dw;
    if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
    const int64_t plane = n * g.c + c;
    acc += static_cast<acc_t>(grad_out[plane * per_image + oy * g.wo + ox]) *
           static_cast<acc_t>(x[(plane * g.h + iy) * g.w + ix]);
  }
  acc = cuda::block_sum(acc);
  if (threadIdx.x == 0) grad_w[blockIdx.x] = static_cast<scalar_t>(acc);
}

at::Tensor depthwise_forward_cuda(const at::Tensor& x_in, const at::Tensor& weight_in,
                                  const c10::optional<at::Tensor>& bias_in, at::IntArrayRef stride,
                                  at::IntArrayRef padding, at::IntArrayRef dilation) {
  const auto g = depthwise_geometry(x_in, weight_in, bias_in, stride, padding, dilation);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const auto format = layout_of(x_in);
  const at::Tensor x = x_in.contiguous(format), weight = weight_in.contiguous();
  const bool has_bias = bias_in.has_value() && bias_in->defined();
  const at::Tensor bias = has_bias ? bias_in->contiguous() : at::Tensor();
  at::Tensor out = at::empty({g.n, g.c, g.ho, g.wo}, x.options().memory_format(format));
  if (out.numel() == 0) return out;
  const auto stream = c10::cuda::getCurrentCUDAStream();
  if (format == at::MemoryFormat::ChannelsLast) {
    const at::Tensor w_taps = weight.view({g.c, g.kh * g.kw}).t().contiguous();  // [kH * kW, C]
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "depthwise_conv2d_nhwc_cuda", [&] {
      const int v = vector_width<scalar_t>(g, {x.const_data_ptr(), w_taps.const_data_ptr(), out.const_data_ptr()});
      if (v == 8) launch_forward_nhwc<scalar_t, 8>(x, w_taps, bias, out, g);
      else if (v == 4) launch_forward_nhwc<scalar_t, 4>(x, w_taps, bias, out, g);
      else if (v == 2) launch_forward_nhwc<scalar_t, 2>(x, w_taps, bias, out, g);
      else launch_forward_nhwc<scalar_t, 1>(x, w_taps, bias, out, g);
    });
    return out;
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "depthwise_conv2d_cuda", [&] {
    depthwise_forward_kernel<scalar_t><<<cuda::blocks_for(out.numel()), cuda::kThreads, 0, stream>>>(
        x.const_data_ptr<scalar_t>(), weight.const_data_ptr<scalar_t>(),
        has_bias ? bias.const_data_ptr<scalar_t>() : nullptr, out.mutable_data_ptr<scalar_t>(), g);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> depthwise_backward_cuda(const at::Tensor& grad_out_in, const at::Tensor& x_in,
                                                           const at::Tensor& weight_in, at::IntArrayRef stride,
                                                           at::IntArrayRef padding, at::IntArrayRef dilation) {
  const auto g = depthwise_geometry(x_in, weight_in, c10::nullopt, stride, padding, dilation);
  check_depthwise_grad(grad_out_in, x_in, g);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const auto format = layout_of(x_in);
  const at::Tensor x = x_in.contiguous(), weight = weight_in.contiguous(), grad_out = grad_out_in.contiguous();
  at::Tensor grad_x = at::empty({g.n, g.c, g.h, g.w}, x.options());
  at::Tensor grad_w = at::empty({g.c, 1, g.kh, g.kw}, x.options());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "depthwise_conv2d_backward_cuda", [&] {
    if (grad_x.numel() > 0) {
      depthwise_grad_input_kernel<scalar_t><<<cuda::blocks_for(grad_x.numel()), cuda::kThreads, 0, stream>>>(
          grad_out.const_data_ptr<scalar_t>(), weight.const_data_ptr<scalar_t>(), grad_x.mutable_data_ptr<scalar_t>(),
          g);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    depthwise_grad_weight_kernel<scalar_t><<<static_cast<unsigned int>(g.c * g.kh * g.kw), cuda::kThreads, 0,
                                             stream>>>(grad_out.const_data_ptr<scalar_t>(),
                                                       x.const_data_ptr<scalar_t>(),
                                                       grad_w.mutable_data_ptr<scalar_t>(), g);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {grad_x.contiguous(format), grad_w};
}

}  // namespace

TORCH_LIBRARY_IMPL(realtime, CUDA, m) {
  m.impl("depthwise_conv2d", &depthwise_forward_cuda);
  m.impl("depthwise_conv2d_backward", &depthwise_backward_cuda);
}

}  // namespace realtime
