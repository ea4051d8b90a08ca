#pragma once
// Contiguous vector primitives for the CPU kernels. They are inlined into the per-plane kernels, which carry
// REALTIME_VECTOR_CLONES: on x86-64 Linux such a function is compiled twice, for AVX2+FMA and for the baseline
// ISA, and the loader picks the clone the running CPU supports (GCC's target_clones + ifunc), so the build
// stays portable while modern CPUs get 8-wide FMA loops. Put the attribute on coarse functions (a plane, not a
// row): a clone cannot be inlined, so per-row calls would cost more than they save.
#include <cstdint>

// GCC only: clang (which also defines __GNUC__) rejects target_clones on templates, and the kernels are templates.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
// "arch=x86-64-v3" (AVX2, FMA, F16C, BMI) is resolved by CPU features; "arch=haswell" would test for the Intel
// model and silently pick the baseline clone on AMD CPUs.
#define REALTIME_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define REALTIME_VECTOR_CLONES
#endif

// Helpers called from a REALTIME_VECTOR_CLONES function must be inlined into it to be compiled for the clone's
// ISA; a call to a separate function runs baseline code.
#if defined(__GNUC__) || defined(__clang__)
#define REALTIME_INLINE inline __attribute__((always_inline))
#else
#define REALTIME_INLINE inline
#endif

namespace realtime {
namespace vec {

// y[i] += a * x[i] for i < n (x may be a narrower type than y, e.g. Half into float).
template <typename Y, typename X>
REALTIME_INLINE void axpy(Y* __restrict__ y, const X* __restrict__ x, Y a, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += a * static_cast<Y>(x[i]);
}

// acc[i] += w[i] * x[i] for i < n (elementwise weights, e.g. one per channel).
template <typename Acc, typename X>
REALTIME_INLINE void fma_into(Acc* __restrict__ acc, const Acc* __restrict__ w, const X* __restrict__ x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) acc[i] += w[i] * static_cast<Acc>(x[i]);
}

// sum_i a[i] * b[i] accumulated in Acc.
template <typename Acc, typename X>
REALTIME_INLINE Acc dot(const X* __restrict__ a, const X* __restrict__ b, int64_t n) {
  Acc acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += static_cast<Acc>(a[i]) * static_cast<Acc>(b[i]);
  return acc;
}

}  // namespace vec
}  // namespace realtime
