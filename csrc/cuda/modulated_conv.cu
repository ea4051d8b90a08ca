// CUDA kernels of realtime::modulated_conv2d (the fused op is modulated_conv.h): per-channel scaling and per-channel
// dot products, for NCHW and channels_last, launched on the current stream and accumulating in float32 for half.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

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

// One block per (n, c): sum over the plane of a*b.
template <typename scalar_t, typename acc_t>
__global__ void channel_dot_kernel(const scalar_t* __restrict__ a, const scalar_t* __restrict__ b,
                                   acc_t* __restrict__ out, int64_t c, int64_t hw, bool channels_last) {
  const int64_t nc = blockIdx.x, n = nc / c, ch = nc % c;
  acc_t acc = 0;
  for (int64_t k = threadIdx.x; k < hw; k += blockDim.x) {
    const int64_t idx = channels_last ? (n * hw + k) * c + ch : nc * hw + k;
    acc += static_cast<acc_t>(a[idx]) * static_cast<acc_t>(b[idx]);
  }
  acc = cuda::block_sum(acc);
  if (threadIdx.x == 0) out[nc] = acc;
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
    at::Tensor result = at::zeros({n, c}, a.options().dtype(accum_type(a.scalar_type())));
    if (n * c == 0) return result;
    const bool channels_last = layout_of(a) == at::MemoryFormat::ChannelsLast;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "channel_dot_cuda", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      channel_dot_kernel<scalar_t, acc_t><<<static_cast<unsigned int>(n * c), cuda::kThreads, 0,
                                            c10::cuda::getCurrentCUDAStream()>>>(
          a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(), result.mutable_data_ptr<acc_t>(), c, hw,
          channels_last);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return result;
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
