#pragma once
// Argument checks shared by the CPU and CUDA kernels: every message names the op and what to change.
#include <ATen/ATen.h>

#include <string>

namespace realtime {

inline std::string shape_str(const at::Tensor& t) { return c10::str(t.sizes()); }

inline void check_float(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), op, ": ", name,
              " must be float16, bfloat16, float32 or float64, got ", t.scalar_type());
}

inline void check_dim(const at::Tensor& t, int64_t dim, const char* op, const char* name, const char* layout) {
  TORCH_CHECK(t.dim() == dim, op, ": ", name, " must be ", layout, ", got shape ", shape_str(t));
}

inline void check_same(const at::Tensor& a, const at::Tensor& b, const char* op, const char* na, const char* nb) {
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), op, ": ", na, " and ", nb, " must share a dtype, got ",
              a.scalar_type(), " and ", b.scalar_type(), " (cast one of them)");
  TORCH_CHECK(a.device() == b.device(), op, ": ", na, " and ", nb, " must be on one device, got ", a.device(),
              " and ", b.device());
}

// The memory format a result should keep: channels_last in, channels_last out.
inline at::MemoryFormat layout_of(const at::Tensor& t) {
  return t.dim() == 4 && !t.is_contiguous() && t.is_contiguous(at::MemoryFormat::ChannelsLast)
             ? at::MemoryFormat::ChannelsLast
             : at::MemoryFormat::Contiguous;
}

}  // namespace realtime
