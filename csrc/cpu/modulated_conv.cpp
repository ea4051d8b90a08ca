// CPU kernels of realtime::modulated_conv2d: per-channel scaling and per-channel dot products as parallel loops
// over planes (NCHW) or pixels (channels_last); the fused op itself is modulated_conv.h.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../modulated_conv.h"

namespace realtime {
namespace {

struct CpuKernels {
  static void scale_channels(const at::Tensor& in, const at::Tensor& scale, at::Tensor& out) {
    const int64_t n = in.size(0), c = in.size(1), hw = in.size(2) * in.size(3);
    const bool channels_last = layout_of(in) == at::MemoryFormat::ChannelsLast;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scalar_type(), "scale_channels_cpu", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      TORCH_INTERNAL_ASSERT(scale.scalar_type() == c10::CppTypeToScalarType<acc_t>::value);
      const scalar_t* ip = in.const_data_ptr<scalar_t>();
      const acc_t* sp = scale.const_data_ptr<acc_t>();
      scalar_t* op = out.mutable_data_ptr<scalar_t>();
      if (!channels_last) {
        at::parallel_for(0, n * c, 1, [&](int64_t b, int64_t e) {
          for (int64_t plane = b; plane < e; ++plane) {
            const acc_t f = sp[plane];
            for (int64_t k = plane * hw; k < (plane + 1) * hw; ++k)
              op[k] = static_cast<scalar_t>(static_cast<acc_t>(ip[k]) * f);
          }
        });
      } else {
        at::parallel_for(0, n * hw, 64, [&](int64_t b, int64_t e) {
          for (int64_t pix = b; pix < e; ++pix) {
            const acc_t* f = sp + (pix / hw) * c;
            for (int64_t k = 0; k < c; ++k)
              op[pix * c + k] = static_cast<scalar_t>(static_cast<acc_t>(ip[pix * c + k]) * f[k]);
          }
        });
      }
    });
  }

  static at::Tensor channel_dot(const at::Tensor& a, const at::Tensor& b) {
    const int64_t n = a.size(0), c = a.size(1), hw = a.size(2) * a.size(3);
    const bool channels_last = layout_of(a) == at::MemoryFormat::ChannelsLast;
    at::Tensor result = at::empty({n, c}, a.options().dtype(accum_type(a.scalar_type())));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "channel_dot_cpu", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* ap = a.const_data_ptr<scalar_t>();
      const scalar_t* bp = b.const_data_ptr<scalar_t>();
      acc_t* rp = result.mutable_data_ptr<acc_t>();
      if (!channels_last) {
        at::parallel_for(0, n * c, 1, [&](int64_t s, int64_t e) {
          for (int64_t plane = s; plane < e; ++plane) {
            double total = 0;
            acc_t partial = 0;
            for (int64_t k = 0; k < hw; ++k) {
              partial += static_cast<acc_t>(ap[plane * hw + k]) * static_cast<acc_t>(bp[plane * hw + k]);
              if ((k & 1023) == 1023) total += partial, partial = 0;
            }
            rp[plane] = static_cast<acc_t>(total + partial);
          }
        });
      } else {
        at::parallel_for(0, n, 1, [&](int64_t s, int64_t e) {
          std::vector<double> total(c);
          for (int64_t img = s; img < e; ++img) {
            std::fill(total.begin(), total.end(), 0.0);
            for (int64_t pix = 0; pix < hw; ++pix) {
              const scalar_t* ar = ap + (img * hw + pix) * c;
              const scalar_t* br = bp + (img * hw + pix) * c;
              for (int64_t k = 0; k < c; ++k) total[k] += static_cast<acc_t>(ar[k]) * static_cast<acc_t>(br[k]);
            }
            for (int64_t k = 0; k < c; ++k) rp[img * c + k] = static_cast<acc_t>(total[k]);
          }
        });
      }
    });
    return result;
  }

  static at::Tensor modulate_weight(const at::Tensor& weight, const at::Tensor& s, const at::Tensor& d) {
    const int64_t n = s.size(0), o = weight.size(0), c = weight.size(1), kk = weight.size(2) * weight.size(3);
    at::Tensor out = at::empty({n * o, c, weight.size(2), weight.size(3)}, weight.options());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weight.scalar_type(), "modulate_weight_cpu", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* wp = weight.const_data_ptr<scalar_t>();
      const acc_t* sp = s.const_data_ptr<acc_t>();
      const acc_t* dp = d.defined() ? d.const_data_ptr<acc_t>() : nullptr;
      scalar_t* op = out.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, n * o, 1, [&](int64_t b, int64_t e) {
        for (int64_t no = b; no < e; ++no) {
          const int64_t img = no / o, oc = no % o;
          const acc_t demod = dp ? dp[no] : acc_t(1);
          for (int64_t ic = 0; ic < c; ++ic) {
            const acc_t f = sp[img * c + ic] * demod;
            const scalar_t* src = wp + (oc * c + ic) * kk;
            scalar_t* dst = op + (no * c + ic) * kk;
            for (int64_t k = 0; k < kk; ++k) dst[k] = static_cast<scalar_t>(static_cast<acc_t>(src[k]) * f);
          }
        }
      });
    });
    return out;
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(realtime, CPU, m) {
  m.impl("modulated_conv2d", &modulated_conv2d_forward<CpuKernels>);
  m.impl("modulated_conv2d_backward", &modulated_conv2d_backward<CpuKernels>);
}

}  // namespace realtime
