#pragma once
#include <map>
#include <string>

namespace realtime {

// Compile-time facts about this build, reported by `python -m realtime.env`.
inline std::map<std::string, std::string> build_info() {
  std::map<std::string, std::string> info;
#ifdef REALTIME_WITH_CUDA
  info["cuda"] = "1";
#ifdef REALTIME_CUDA_ARCH_LIST
  info["cuda_arch_list"] = REALTIME_CUDA_ARCH_LIST;
#endif
#ifdef REALTIME_CUDA_VERSION
  info["cuda_version"] = REALTIME_CUDA_VERSION;
#endif
#else
  info["cuda"] = "";
#endif
#ifdef REALTIME_TORCH_VERSION
  info["torch_version"] = REALTIME_TORCH_VERSION;
#endif
  info["kernels"] = "modulated_conv2d,depthwise_conv2d,seamless_blend";
  return info;
}

}  // namespace realtime
