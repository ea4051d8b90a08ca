// CUDA kernels of realtime::modulated_conv2d (the fused op is modulated_conv.h): per-channel scaling and per-channel
// dot products, for NCHW and channels_last, launched on the current stream and accumulating in float32 for half.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <algorithm>

#include "../modulated_conv.h"
#include "cuda_utils.cuh"

namespace realtime {
namespace {

template <typename scalar_t, typename acc_t>
__global__ void scale_channels_kernel(const scalar_t* __restrict__ in, const acc_t* __restrict__ scale,
                                      scalar_t* __restrict__ out, int64_t total, int64_t c, int64_t hw,
                                      bool channels_last) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t nc = channels_last ? (idx / (hw * c)) * c + idx % c : idx / hw;
    out[idx] = static_cast<scalar_t>(static_cast<acc_t>(in[idx]) * scale[nc]);
  }
}

// NCHW: one block per (n, c), its threads walking the plane (consecutive addresses).
template <typename scalar_t, typename acc_t>
__global__ void channel_dot_kernel(const scalar_t* __restrict__ a, const scalar_t* __restrict__ b,
                                   acc_t* __restrict__ out, int64_t hw) {
  const int64_t nc = blockIdx.x;
  acc_t acc = 0;
  for (int64_t k = threadIdx.x; k < hw; k += blockDim.x)
    acc += static_cast<acc_t>(a[nc * hw + k]) * static_cast<acc_t>(b[nc * hw + k]);
  acc = cuda::block_sum(acc);
  if (threadIdx.x == 0) out[nc] = acc;
}

constexpr int kDotChannels = 32, kDotRows = 8;  // channels_last block: 32 channels x 8 positions

// channels_last: a block per (32 channels, image, slice of the plane). threadIdx.x walks the channels, so a warp
// reads 32 consecutive values of one position (one coalesced load, not 32 loads C apart); threadIdx.y takes every
// 8th position of the slice, and the 8 partial sums of a channel are added in shared memory. Slice z writes
// partial[z, n, c] (the caller sums the slices: no atomics, the same result every run).
template <typename scalar_t, typename acc_t>
__global__ void channel_dot_nhwc_kernel(const scalar_t* __restrict__ a, const scalar_t* __restrict__ b,
                                        acc_t* __restrict__ partial, int64_t n, int64_t c, int64_t hw,
                                        int64_t slice) {
  __shared__ acc_t sums[kDotRows][kDotChannels + 1];
  const int64_t ch = blockIdx.x * int64_t(kDotChannels) + threadIdx.x, img = blockIdx.y;
  const int64_t begin = blockIdx.z * slice, end = begin + slice < hw ? begin + slice : hw;
  acc_t acc = 0;
  if (ch < c)
    for (int64_t k = begin + threadIdx.y; k < end; k += kDotRows) {
      const int64_t idx = (img * hw + k) * c + ch;
      acc += static_cast<acc_t>(a[idx]) * static_cast<acc_t>(b[idx]);
    }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && ch < c) {
    acc_t total = 0;
    for (int r = 0; r < kDotRows; ++r) total += sums[r][threadIdx.x];
    partial[(blockIdx.z * n + img) * c + ch] = total;
  }
}

template <typename scalar_t, typename acc_t>
__global__ void modulate_weight_kernel(const scalar_t* __restrict__ w, const acc_t* __restrict__ s,
                                       const acc_t* __restrict__ d, scalar_t* __restrict__ out, int64_t n, int64_t o,
                                       int64_t c, int64_t kk) {
  const int64_t total = n * o * c * kk;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = idx % kk, ic = (idx / kk) % c, no = idx / (kk * c), img = no / o, oc = no % o;
    const acc_t f = s[img * c + ic] * (d ? d[no] : acc_t(1));
    out[idx] = static_cast<scalar_t>(static_cast<acc_t>(w[(oc * c + ic) * kk + k]) * f);
  }
}

struct CudaKernels {
  static void scale_channels(const at::Tensor& in, const at::Tensor& scale, at::Tensor& out) {
    const c10::cuda::CUDAGuard guard(in.device());
    const int64_t total = in.numel();
    if (total == 0) return;
    const bool channels_last = layout_of(in) == at::MemoryFormat::ChannelsLast;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scalar_type(), "scale_channels_cuda", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      scale_channels_kernel<scalar_t, acc_t><<<cuda::blocks_for(total), cuda::kThreads, 0,
                                               c10::cuda::getCurrentCUDAStream()>>>(
          in.const_data_ptr<scalar_t>(), scale.const_data_ptr<acc_t>(), out.mutable_data_ptr<scalar_t>(), total,
          in.size(1), in.size(2) * in.size(3), channels_last);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static at::Tensor channel_dot(const at::Tensor& a, const at::Tensor& b) {
    const c10::cuda::CUDAGuard guard(a.device());
    const int64_t n = a.size(0), c = a.size(1), hw = a.size(2) * a.size(3);
    const auto acc = accum_type(a.scalar_type());
    if (n * c == 0 || hw == 0) return at::zeros({n, c}, a.options().dtype(acc));
    const auto stream = c10::cuda::getCurrentCUDAStream();
    if (layout_of(a) != at::MemoryFormat::ChannelsLast) {
      at::Tensor result = at::empty({n, c}, a.options().dtype(acc));
      AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "channel_dot_cuda", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        channel_dot_kernel<scalar_t, acc_t><<<static_cast<unsigned int>(n * c), cuda::kThreads, 0, stream>>>(
            a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(), result.mutable_data_ptr<acc_t>(), hw);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
      return result;
    }
    // Enough slices of the plane to fill the GPU when there are few images and channels; each at least 2048.
    const int64_t slices = std::clamp<int64_t>((hw + 2047) / 2048, 1, 64), slice = (hw + slices - 1) / slices;
    at::Tensor partial = at::empty({slices, n, c}, a.options().dtype(acc));
    const dim3 grid(static_cast<unsigned int>((c + kDotChannels - 1) / kDotChannels), static_cast<unsigned int>(n),
                    static_cast<unsigned int>(slices));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "channel_dot_nhwc_cuda", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      channel_dot_nhwc_kernel<scalar_t, acc_t><<<grid, dim3(kDotChannels, kDotRows), 0, stream>>>(
          a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(), partial.mutable_data_ptr<acc_t>(), n, c, hw,
          slice);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return slices == 1 ? partial[0] : partial.sum(0);
  }

  static at::Tensor modulate_weight(const at::Tensor& weight, const at::Tensor& s, const at::Tensor& d) {
    const c10::cuda::CUDAGuard guard(weight.device());
    const int64_t n = s.size(0), o = weight.size(0), c = weight.size(1), kk = weight.size(2) * weight.size(3);
    at::Tensor out = at::empty({n * o, c, weight.size(2), weight.size(3)}, weight.options());
    if (out.numel() == 0) return out;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weight.scalar_type(), "modulate_weight_cuda", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      modulate_weight_kernel<scalar_t, acc_t><<<cuda::blocks_for(out.numel()), cuda::kThreads, 0,
                                                c10::cuda::getCurrentCUDAStream()>>>(
          weight.const_data_ptr<scalar_t>(), s.const_data_ptr<acc_t>(),
          d.defined() ? d.const_data_ptr<acc_t>() : nullptr, out.mutable_data_ptr<scalar_t>(), n, o, c, kk);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return out;
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(realtime, CUDA, m) {
  m.impl("modulated_conv2d", &modulated_conv2d_forward<CudaKernels>);
  m.impl("modulated_conv2d_backward", &modulated_conv2d_backward<CudaKernels>);
}

}  // namespace realtime
