// CPU kernels of realtime::seamless_blend (the solver is seamless_blend.h). Work is split into (channel, row)
// tasks; a red-black half-sweep only reads cells of the other colour, so rows update in parallel safely.
// Reductions keep one partial sum per row (rows are short) and add them in order in double, so results do not
// depend on the thread count.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "../seamless_blend.h"

namespace realtime {
namespace {

constexpr int64_t kRowGrain = 8;

template <typename F>
void for_rows(int64_t channels, int64_t h, const F& fn) {
  at::parallel_for(0, channels * h, kRowGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) fn(i / h, i % h);
  });
}

// Writes the per-channel sums of fn(c, y) over rows into out[c] (row sums added in order, in double).
template <typename F>
void sum_rows(int64_t channels, int64_t h, double* out, const F& fn) {
  std::vector<double> rows(channels * h);
  for_rows(channels, h, [&](int64_t c, int64_t y) { rows[c * h + y] = fn(c, y); });
  for (int64_t c = 0; c < channels; ++c) out[c] = 0;
  for (int64_t i = 0; i < channels * h; ++i) out[i / h] += rows[i];
}

// out[i] = sum of the 4 neighbours of row[i]; `up`/`down` are the rows above and below (a zero row at the grid's
// edge). The interior loop is branch-free so the compiler vectorises it.
template <typename T>
inline void row_neighbours(const T* up, const T* row, const T* down, T* out, int64_t w) {
  if (w == 1) {
    out[0] = up[0] + down[0];
    return;
  }
  out[0] = row[1] + up[0] + down[0];
  for (int64_t i = 1; i + 1 < w; ++i) out[i] = row[i - 1] + row[i + 1] + up[i] + down[i];
  out[w - 1] = row[w - 2] + up[w - 1] + down[w - 1];
}

// Rows above/below row y of a [h, w] plane, with a zero row past the edges.
template <typename T>
struct RowWindow {
  const T* up;
  const T* down;
  RowWindow(const T* plane, int64_t y, int64_t h, int64_t w, const T* zeros)
      : up(y > 0 ? plane + (y - 1) * w : zeros), down(y + 1 < h ? plane + (y + 1) * w : zeros) {}
};

// Row loops with reductions live outside the AT_DISPATCH macros so their `omp simd` pragmas apply (they allow
// the float reduction to be reassociated, i.e. vectorised).
template <typename T>
T row_apply_dot(const T* p, const T* nb, const T* deg, const T* mask, T* out, int64_t w) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < w; ++i) {
    out[i] = mask[i] * (deg[i] * p[i] - nb[i]);
    acc += out[i] * p[i];
  }
  return acc;
}

template <typename T>
T row_cg_update(T* x, T* r, const T* p, const T* ap, T alpha, int64_t w) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < w; ++i) {
    x[i] += alpha * p[i];
    r[i] -= alpha * ap[i];
    acc += r[i] * r[i];
  }
  return acc;
}

template <typename T>
T row_dot(const T* a, const T* b, int64_t w) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < w; ++i) acc += a[i] * b[i];
  return acc;
}

// The tail's phases one after another on this thread: its grids have a few thousand cells at most, less than
// the cost of handing rows to a thread pool.
struct SerialPhase {
  template <class F>
  void operator()(int64_t n, const F& fn) const {
    for (int64_t i = 0; i < n; ++i) fn(i);
  }
};

struct CpuBlendKernels {
  static constexpr int64_t kCheckEvery = 1;  // reading the scalars costs nothing here

  template <typename T>
  static void tail(const TailLevels<T>& levels) {
    vcycle_tail(levels, SerialPhase{});
  }

  static void smooth(const BlendLevel& L, at::Tensor& x, const at::Tensor& b, int colour) {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_smooth_cpu", [&] {
      scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* bp = b.const_data_ptr<scalar_t>();
      const scalar_t* inv = L.inv_deg.const_data_ptr<scalar_t>();
      const scalar_t* sel = L.colour_mask[colour].const_data_ptr<scalar_t>();
      const std::vector<scalar_t> zeros(L.w, 0);
      for_rows(x.size(0), L.h, [&](int64_t c, int64_t y) {
        // A half-sweep reads only the other colour, so computing the whole row first and then blending in the
        // cells of this colour equals the in-place Gauss-Seidel update.
        thread_local std::vector<scalar_t> nb;
        nb.resize(L.w);
        scalar_t* plane = xp + c * L.h * L.w;
        scalar_t* row = plane + y * L.w;
        const RowWindow<scalar_t> win(plane, y, L.h, L.w, zeros.data());
        row_neighbours(win.up, row, win.down, nb.data(), L.w);
        const scalar_t* br = bp + c * L.h * L.w + y * L.w;
        const scalar_t* ir = inv + y * L.w;
        const scalar_t* sr = sel + y * L.w;
        for (int64_t i = 0; i < L.w; ++i) row[i] += sr[i] * ((br[i] + nb[i]) * ir[i] - row[i]);
      });
    });
  }

  static void residual(const BlendLevel& L, const at::Tensor& x, const at::Tensor& b, at::Tensor& r) {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_residual_cpu", [&] {
      const scalar_t* xp = x.const_data_ptr<scalar_t>();
      const scalar_t* bp = b.const_data_ptr<scalar_t>();
      scalar_t* rp = r.data_ptr<scalar_t>();
      const scalar_t* deg = L.deg.const_data_ptr<scalar_t>();
      const scalar_t* msk = L.mask.const_data_ptr<scalar_t>();
      const std::vector<scalar_t> zeros(L.w, 0);
      for_rows(x.size(0), L.h, [&](int64_t c, int64_t y) {
        const int64_t off = c * L.h * L.w + y * L.w;
        const RowWindow<scalar_t> win(xp + c * L.h * L.w, y, L.h, L.w, zeros.data());
        scalar_t* rr = rp + off;
        row_neighbours(win.up, xp + off, win.down, rr, L.w);
        const scalar_t* dr = deg + y * L.w;
        const scalar_t* mr = msk + y * L.w;
        for (int64_t i = 0; i < L.w; ++i) rr[i] = mr[i] * (bp[off + i] - dr[i] * xp[off + i] + rr[i]);
      });
    });
  }

  static void apply_dot(const BlendLevel& L, const at::Tensor& p, at::Tensor& ap, at::Tensor& s) {
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "blend_apply_cpu", [&] {
      const scalar_t* pp = p.const_data_ptr<scalar_t>();
      scalar_t* app = ap.data_ptr<scalar_t>();
      const scalar_t* deg = L.deg.const_data_ptr<scalar_t>();
      const scalar_t* msk = L.mask.const_data_ptr<scalar_t>();
      const std::vector<scalar_t> zeros(L.w, 0);
      sum_rows(p.size(0), L.h, s[kPap].data_ptr<double>(), [&](int64_t c, int64_t y) {
        const int64_t off = c * L.h * L.w + y * L.w;
        const RowWindow<scalar_t> win(pp + c * L.h * L.w, y, L.h, L.w, zeros.data());
        scalar_t* ar = app + off;
        row_neighbours(win.up, pp + off, win.down, ar, L.w);
        return static_cast<double>(row_apply_dot(pp + off, ar, deg + y * L.w, msk + y * L.w, ar, L.w));
      });
    });
  }

  static void restrict_sum(const at::Tensor& fine, at::Tensor& coarse) {
    const int64_t h = fine.size(1), w = fine.size(2), ch = coarse.size(1), cw = coarse.size(2);
    AT_DISPATCH_FLOATING_TYPES(fine.scalar_type(), "blend_restrict_cpu", [&] {
      const scalar_t* fp = fine.const_data_ptr<scalar_t>();
      scalar_t* cp = coarse.data_ptr<scalar_t>();
      for_rows(fine.size(0), ch, [&](int64_t c, int64_t y) {
        const scalar_t* r0 = fp + (c * h + 2 * y) * w;
        const scalar_t* r1 = 2 * y + 1 < h ? r0 + w : nullptr;
        scalar_t* out = cp + (c * ch + y) * cw;
        for (int64_t i = 0; i < cw; ++i) {
          const int64_t x0 = 2 * i;
          const bool has_right = x0 + 1 < w;
          scalar_t s = r0[x0] + (has_right ? r0[x0 + 1] : 0);
          if (r1) s += r1[x0] + (has_right ? r1[x0 + 1] : 0);
          out[i] = s;
        }
      });
    });
  }

  static void prolong_add(const at::Tensor& coarse, const BlendLevel& L, at::Tensor& x) {
    const int64_t ch = coarse.size(1), cw = coarse.size(2);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_prolong_cpu", [&] {
      const scalar_t* cp = coarse.const_data_ptr<scalar_t>();
      scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* msk = L.mask.const_data_ptr<scalar_t>();
      for_rows(x.size(0), L.h, [&](int64_t c, int64_t y) {
        const scalar_t* src = cp + (c * ch + y / 2) * cw;
        scalar_t* dst = xp + (c * L.h + y) * L.w;
        const scalar_t* mr = msk + y * L.w;
        for (int64_t i = 0; i < L.w; ++i) dst[i] += mr[i] * src[i / 2];
      });
    });
  }

  static void cg_update(at::Tensor& x, at::Tensor& r, const at::Tensor& p, const at::Tensor& ap, at::Tensor& s) {
    const int64_t channels = x.size(0), h = x.size(1), w = x.size(2);
    const double* scalars = s.const_data_ptr<double>();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "blend_cg_update_cpu", [&] {
      scalar_t* xp = x.data_ptr<scalar_t>();
      scalar_t* rp = r.data_ptr<scalar_t>();
      const scalar_t* pp = p.const_data_ptr<scalar_t>();
      const scalar_t* app = ap.const_data_ptr<scalar_t>();
      sum_rows(channels, h, s[kRr].data_ptr<double>(), [&](int64_t c, int64_t y) {
        const int64_t off = (c * h + y) * w;
        const auto alpha = static_cast<scalar_t>(cg_alpha(scalars, channels, c));
        return static_cast<double>(row_cg_update(xp + off, rp + off, pp + off, app + off, alpha, w));
      });
    });
  }

  static void dot(const at::Tensor& a, const at::Tensor& b, at::Tensor& s, ScalarRow row) {
    const int64_t h = a.size(1), w = a.size(2);
    AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "blend_dot_cpu", [&] {
      const scalar_t* ap = a.const_data_ptr<scalar_t>();
      const scalar_t* bp = b.const_data_ptr<scalar_t>();
      sum_rows(a.size(0), h, s[row].data_ptr<double>(), [&](int64_t c, int64_t y) {
        const int64_t off = (c * h + y) * w;
        return static_cast<double>(row_dot(ap + off, bp + off, w));
      });
    });
  }

  static void direction(at::Tensor& p, const at::Tensor& z, const at::Tensor& s) {
    const int64_t h = p.size(1), w = p.size(2);
    const double* beta = s[kBeta].const_data_ptr<double>();
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "blend_direction_cpu", [&] {
      scalar_t* pp = p.data_ptr<scalar_t>();
      const scalar_t* zp = z.const_data_ptr<scalar_t>();
      for_rows(p.size(0), h, [&](int64_t c, int64_t y) {
        const scalar_t bt = static_cast<scalar_t>(beta[c]);
        for (int64_t k = (c * h + y) * w, e = k + w; k < e; ++k) pp[k] = zp[k] + bt * pp[k];
      });
    });
  }

  static void scalar_step(at::Tensor& s, int step, double rtol) {
    const int64_t channels = s.size(1);
    for (int64_t c = 0; c < channels; ++c) realtime::scalar_step(s.data_ptr<double>(), channels, c, step, rtol);
  }

  static bool any_active(const at::Tensor& s) {
    const double* active = s[kActive].const_data_ptr<double>();
    return std::any_of(active, active + s.size(1), [](double a) { return a != 0; });
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(realtime, CPU, m) {
  m.impl("seamless_blend", &seamless_blend_impl<CpuBlendKernels>);
}

}  // namespace realtime
