// Autocast kernels of the realtime ops (AutocastCPU and AutocastCUDA), torchvision's pattern: exclude the autocast
// key, cast the floating inputs, and call the op again through the dispatcher. So torch.ops.realtime.* behaves
// under autocast the way a built-in op does, however it is called: the convolutions run in autocast's lower
// precision (like F.conv2d), and nothing inside a kernel is recast mid-way (the kernels call ATen ops, which
// autocast would otherwise cast one by one). The backward ops and the seamless blend keep their inputs' dtypes
// (a gradient must match its forward; the Poisson solve needs its own precision): their autocast kernels only
// switch autocast off.
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <optional>
#include <tuple>

namespace realtime {
namespace {

using at::Tensor;

template <typename Signature>
c10::TypedOperatorHandle<Signature> op_handle(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

template <c10::DeviceType device>
Tensor low(const Tensor& t) {
  return at::autocast::cached_cast(at::autocast::get_lower_precision_fp_from_device_type(device), t, device);
}

template <c10::DispatchKey key, c10::DeviceType device>
Tensor modulated_conv2d_autocast(const Tensor& x, const Tensor& weight, const Tensor& styles, bool demodulate,
                                 int64_t padding, double eps) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(key);
  static auto op = op_handle<Tensor(const Tensor&, const Tensor&, const Tensor&, bool, int64_t, double)>(
      "realtime::modulated_conv2d");
  return op.call(low<device>(x), low<device>(weight), low<device>(styles), demodulate, padding, eps);
}

template <c10::DispatchKey key, c10::DeviceType device>
Tensor depthwise_conv2d_autocast(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias,
                                 c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(key);
  static auto op = op_handle<Tensor(const Tensor&, const Tensor&, const std::optional<Tensor>&, c10::IntArrayRef,
                                    c10::IntArrayRef, c10::IntArrayRef)>("realtime::depthwise_conv2d");
  const std::optional<Tensor> low_bias = bias.has_value() ? std::optional<Tensor>(low<device>(*bias)) : bias;
  return op.call(low<device>(x), low<device>(weight), low_bias, stride, padding, dilation);
}

// Ops whose inputs keep their dtypes: autocast is switched off and the call goes on unchanged.
template <c10::DispatchKey key>
std::tuple<Tensor, Tensor, Tensor> modulated_conv2d_backward_autocast(const Tensor& grad_out, const Tensor& out,
                                                                      const Tensor& x, const Tensor& weight,
                                                                      const Tensor& styles, bool demodulate,
                                                                      int64_t padding, double eps) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(key);
  static auto op = op_handle<std::tuple<Tensor, Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                                                const Tensor&, const Tensor&, bool, int64_t, double)>(
      "realtime::modulated_conv2d_backward");
  return op.call(grad_out, out, x, weight, styles, demodulate, padding, eps);
}

template <c10::DispatchKey key>
std::tuple<Tensor, Tensor> depthwise_conv2d_backward_autocast(const Tensor& grad_out, const Tensor& x,
                                                              const Tensor& weight, c10::IntArrayRef stride,
                                                              c10::IntArrayRef padding, c10::IntArrayRef dilation) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(key);
  static auto op = op_handle<std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&, c10::IntArrayRef,
                                                        c10::IntArrayRef, c10::IntArrayRef)>(
      "realtime::depthwise_conv2d_backward");
  return op.call(grad_out, x, weight, stride, padding, dilation);
}

template <c10::DispatchKey key>
std::tuple<Tensor, Tensor> seamless_blend_autocast(const Tensor& dst, const Tensor& src, const Tensor& mask,
                                                   double rtol, int64_t max_iter) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(key);
  static auto op = op_handle<std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&, double, int64_t)>(
      "realtime::seamless_blend");
  return op.call(dst, src, mask, rtol, max_iter);
}

}  // namespace

#define REALTIME_AUTOCAST_IMPLS(KEY, DEVICE)                                                                     \
  m.impl("modulated_conv2d", TORCH_FN((modulated_conv2d_autocast<c10::DispatchKey::KEY, DEVICE>)));              \
  m.impl("depthwise_conv2d", TORCH_FN((depthwise_conv2d_autocast<c10::DispatchKey::KEY, DEVICE>)));              \
  m.impl("modulated_conv2d_backward", TORCH_FN((modulated_conv2d_backward_autocast<c10::DispatchKey::KEY>)));    \
  m.impl("depthwise_conv2d_backward", TORCH_FN((depthwise_conv2d_backward_autocast<c10::DispatchKey::KEY>)));    \
  m.impl("seamless_blend", TORCH_FN((seamless_blend_autocast<c10::DispatchKey::KEY>)));

TORCH_LIBRARY_IMPL(realtime, AutocastCPU, m) { REALTIME_AUTOCAST_IMPLS(AutocastCPU, c10::DeviceType::CPU) }

TORCH_LIBRARY_IMPL(realtime, AutocastCUDA, m) { REALTIME_AUTOCAST_IMPLS(AutocastCUDA, c10::DeviceType::CUDA) }

#undef REALTIME_AUTOCAST_IMPLS

}  // namespace realtime
