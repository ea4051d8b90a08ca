// CUDA kernels of realtime::seamless_blend (the solver is seamless_blend.h). The stencil and transfer kernels give
// each thread a cell and run seamless_blend_cells.h's operation on it; the per-channel reductions use a block sum
// and one double atomicAdd per block into the device-resident CG scalars, which the update kernels read back on
// the device. The host waits for the device only to test convergence, every kCheckEvery iterations. Levels of at
// most kTailCells cells run as one kernel of one block (vcycle_tail_kernel), so a V-cycle launches about 12
// kernels per level above that instead of ~150 in all for a face-sized region.
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "../seamless_blend.h"
#include "cuda_utils.cuh"

namespace realtime {
namespace {

// Grid-stride loop over the flat indices [0, total) of a [C, h, w] grid.
#define REALTIME_FOR_CELLS(total)                                                          \
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < (total);       \
       idx += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__global__ void smooth_kernel(const LevelView<T> L, int64_t channels, int colour) {
  // A thread per cell of this colour: (w + 1) / 2 candidates per row, the row's parity picking which.
  const int64_t half_w = (L.w + 1) / 2;
  REALTIME_FOR_CELLS(channels * L.h * half_w) {
    const int64_t c = idx / (L.h * half_w), y = (idx / half_w) % L.h;
    const int64_t x = 2 * (idx % half_w) + ((y + colour) & 1);
    if (x < L.w) smooth_cell(L, c, y * L.w + x, colour);
  }
}

template <typename T>
__global__ void residual_kernel(const LevelView<T> L, int64_t channels) {
  REALTIME_FOR_CELLS(channels * L.h * L.w) residual_at(L, idx);
}

template <typename T>
__global__ void apply_dot_kernel(const T* __restrict__ p, T* __restrict__ ap, const T* __restrict__ deg,
                                 const T* __restrict__ mask, int64_t h, int64_t w, double* __restrict__ sums) {
  // blockIdx.y is the channel, so each block reduces into one channel's sum.
  const int64_t c = blockIdx.y, hw = h * w;
  const T* plane = p + c * hw;
  double acc = 0;
  for (int64_t cell = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; cell < hw;
       cell += int64_t(gridDim.x) * blockDim.x) {
    const T v = mask[cell] * (deg[cell] * plane[cell] - neighbour_sum_at(plane, cell / w, cell % w, h, w));
    ap[c * hw + cell] = v;
    acc += static_cast<double>(v) * plane[cell];
  }
  acc = cuda::block_sum(acc);
  if (threadIdx.x == 0) atomicAdd(sums + c, acc);
}

template <typename T>
__global__ void restrict_kernel(const LevelView<T> fine, const LevelView<T> coarse, int64_t channels) {
  REALTIME_FOR_CELLS(channels * coarse.h * coarse.w) restrict_at(fine, coarse, idx);
}

template <typename T>
__global__ void prolong_add_kernel(const LevelView<T> coarse, const LevelView<T> fine, int64_t channels) {
  REALTIME_FOR_CELLS(channels * fine.h * fine.w) prolong_at(coarse, fine, idx);
}

// `scalars` is read (alpha) and `rr` accumulated into rows of the same allocation, so neither is __restrict__.
template <typename T>
__global__ void cg_update_kernel(T* __restrict__ x, T* __restrict__ r, const T* __restrict__ p,
                                 const T* __restrict__ ap, const double* scalars, int64_t channels, int64_t hw,
                                 double* rr) {
  const int64_t c = blockIdx.y;
  const T a = static_cast<T>(cg_alpha(scalars, channels, c));
  double acc = 0;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < hw; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t idx = c * hw + k;
    x[idx] += a * p[idx];
    r[idx] -= a * ap[idx];
    acc += static_cast<double>(r[idx]) * r[idx];
  }
  acc = cuda::block_sum(acc);
  if (threadIdx.x == 0) atomicAdd(rr + c, acc);
}

// a and b may be one tensor (b.b), so neither is __restrict__.
template <typename T>
__global__ void dot_kernel(const T* a, const T* b, int64_t hw, double* __restrict__ sums) {
  const int64_t c = blockIdx.y;
  double acc = 0;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < hw; k += int64_t(gridDim.x) * blockDim.x)
    acc += static_cast<double>(a[c * hw + k]) * b[c * hw + k];
  acc = cuda::block_sum(acc);
  if (threadIdx.x == 0) atomicAdd(sums + c, acc);
}

template <typename T>
__global__ void direction_kernel(T* __restrict__ p, const T* __restrict__ z, const double* __restrict__ beta,
                                 int64_t hw) {
  const int64_t c = blockIdx.y;
  const T bt = static_cast<T>(beta[c]);
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < hw; k += int64_t(gridDim.x) * blockDim.x)
    p[c * hw + k] = z[c * hw + k] + bt * p[c * hw + k];
}

__global__ void scalar_step_kernel(double* scalars, int64_t channels, int step, double rtol) {
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) scalar_step(scalars, channels, c, step, rtol);
}

// The tail's phases over the threads of one block, a barrier after each. (The host branch exists only because
// vcycle_tail is compiled for both sides; the kernel is the only caller.)
struct BlockPhase {
  template <class F>
  __host__ __device__ void operator()(int64_t n, const F& fn) const {
#ifdef __CUDA_ARCH__
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) fn(i);
    __syncthreads();
#else
    for (int64_t i = 0; i < n; ++i) fn(i);
#endif
  }
};

constexpr int kTailThreads = 512;

template <typename T>
__global__ void __launch_bounds__(kTailThreads) vcycle_tail_kernel(const TailLevels<T> levels) {
  vcycle_tail(levels, BlockPhase{});
}

// Launch geometry for per-channel kernels: blockIdx.y = channel.
inline dim3 channel_grid(int64_t hw, int64_t channels) {
  return dim3(std::min<unsigned int>(cuda::blocks_for(hw), 1024u), static_cast<unsigned int>(channels));
}

struct CudaBlendKernels {
  static void smooth(const BlendLevel& L, at::Tensor& x, const at::Tensor& b, int colour) {
    const int64_t channels = x.size(0);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_smooth_cuda", [&] {
      smooth_kernel<scalar_t><<<cuda::blocks_for(channels * L.h * ((L.w + 1) / 2)), cuda::kThreads, 0,
                                c10::cuda::getCurrentCUDAStream()>>>(level_view<scalar_t>(L, b, x), channels, colour);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void residual(const BlendLevel& L, const at::Tensor& x, const at::Tensor& b, at::Tensor& r) {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_residual_cuda", [&] {
      residual_kernel<scalar_t><<<cuda::blocks_for(x.numel()), cuda::kThreads, 0,
                                  c10::cuda::getCurrentCUDAStream()>>>(level_view<scalar_t>(L, b, x, r), x.size(0));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void apply_dot(const BlendLevel& L, const at::Tensor& p, at::Tensor& ap, at::Tensor& s) {
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "blend_apply_cuda", [&] {
      apply_dot_kernel<scalar_t><<<channel_grid(L.h * L.w, p.size(0)), cuda::kThreads, 0,
                                   c10::cuda::getCurrentCUDAStream()>>>(
          p.const_data_ptr<scalar_t>(), ap.data_ptr<scalar_t>(), L.deg.const_data_ptr<scalar_t>(),
          L.mask.const_data_ptr<scalar_t>(), L.h, L.w, s[kPap].data_ptr<double>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void restrict_sum(const at::Tensor& fine, at::Tensor& coarse) {
    AT_DISPATCH_FLOATING_TYPES(fine.scalar_type(), "blend_restrict_cuda", [&] {
      restrict_kernel<scalar_t><<<cuda::blocks_for(coarse.numel()), cuda::kThreads, 0,
                                  c10::cuda::getCurrentCUDAStream()>>>(
          grid_view<scalar_t>({}, {}, fine), grid_view<scalar_t>(coarse, {}), fine.size(0));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void prolong_add(const at::Tensor& coarse, const BlendLevel& L, at::Tensor& x) {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_prolong_cuda", [&] {
      prolong_add_kernel<scalar_t><<<cuda::blocks_for(x.numel()), cuda::kThreads, 0,
                                     c10::cuda::getCurrentCUDAStream()>>>(
          grid_view<scalar_t>({}, coarse), level_view<scalar_t>(L, {}, x), x.size(0));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void cg_update(at::Tensor& x, at::Tensor& r, const at::Tensor& p, const at::Tensor& ap, at::Tensor& s) {
    const int64_t hw = x.size(1) * x.size(2);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_cg_update_cuda", [&] {
      cg_update_kernel<scalar_t><<<channel_grid(hw, x.size(0)), cuda::kThreads, 0,
                                   c10::cuda::getCurrentCUDAStream()>>>(
          x.data_ptr<scalar_t>(), r.data_ptr<scalar_t>(), p.const_data_ptr<scalar_t>(), ap.const_data_ptr<scalar_t>(),
          s.const_data_ptr<double>(), x.size(0), hw, s[kRr].data_ptr<double>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void dot(const at::Tensor& a, const at::Tensor& b, at::Tensor& s, ScalarRow row) {
    const int64_t hw = a.size(1) * a.size(2);
    AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "blend_dot_cuda", [&] {
      dot_kernel<scalar_t><<<channel_grid(hw, a.size(0)), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
          a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(), hw, s[row].data_ptr<double>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void direction(at::Tensor& p, const at::Tensor& z, const at::Tensor& s) {
    const int64_t hw = p.size(1) * p.size(2);
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "blend_direction_cuda", [&] {
      direction_kernel<scalar_t><<<channel_grid(hw, p.size(0)), cuda::kThreads, 0,
                                   c10::cuda::getCurrentCUDAStream()>>>(
          p.data_ptr<scalar_t>(), z.const_data_ptr<scalar_t>(), s[kBeta].const_data_ptr<double>(), hw);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  template <typename T>
  static void tail(const TailLevels<T>& levels) {
    vcycle_tail_kernel<T><<<1, kTailThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(levels);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  static void scalar_step(at::Tensor& s, int step, double rtol) {
    scalar_step_kernel<<<1, 32, 0, c10::cuda::getCurrentCUDAStream()>>>(s.data_ptr<double>(), s.size(1), step, rtol);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  // One small copy to the host, the solve's only wait. Checking every other iteration halves the waits and
  // costs at most one iteration that changes nothing (converged channels take alpha = beta = 0).
  static constexpr int64_t kCheckEvery = 2;
  static bool any_active(const at::Tensor& s) { return s[kActive].ne(0).any().item<bool>(); }
};

std::tuple<at::Tensor, at::Tensor> seamless_blend_cuda(const at::Tensor& dst, const at::Tensor& src,
                                                       const at::Tensor& mask, double rtol, int64_t max_iter) {
  const c10::cuda::CUDAGuard guard(dst.device());
  return seamless_blend_impl<CudaBlendKernels>(dst, src, mask, rtol, max_iter);
}

}  // namespace

TORCH_LIBRARY_IMPL(realtime, CUDA, m) { m.impl("seamless_blend", &seamless_blend_cuda); }

}  // namespace realtime
