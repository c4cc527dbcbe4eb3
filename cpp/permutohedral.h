// Permutohedral lattice (Adams, Baek & Davis 2010) for fast high-dimensional Gaussian filtering,
// with the exact arithmetic of the lattice in Krähenbühl & Koltun's dense CRF code (`densecrf`,
// as shipped with pydensecrf): same scale factors, elevation, rounding, rank, barycentric weights,
// unnormalised [1/2, 1, 1/2] blur along the d+1 lattice axes and the alpha = 1/(1+2^-d) slice factor.
//
// Pure C++17 (std::thread), no Node or LibTorch headers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace stcn::crf {

// Runs fn(chunk, begin, end) on up to `threads` threads over [0, count) in contiguous chunks
// (chunk = 0.. number of chunks - 1; the calling thread runs chunk 0). Exceptions from any chunk are
// rethrown after all chunks finished.
template <typename F>
void parallelChunks(int threads, int64_t count, F&& fn) {
  if (count <= 0) return;
  const int64_t t = std::max<int64_t>(1, std::min<int64_t>(threads, count));
  if (t == 1) {
    fn(int64_t{0}, int64_t{0}, count);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(t));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(t - 1));
  auto chunk = [&](int64_t c) {
    try {
      fn(c, count * c / t, count * (c + 1) / t);
    } catch (...) {
      errors[static_cast<size_t>(c)] = std::current_exception();
    }
  };
  for (int64_t c = 1; c < t; c++) pool.emplace_back(chunk, c);
  chunk(0);
  for (std::thread& th : pool) th.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

// parallelChunks without the chunk index: fn(begin, end).
template <typename F>
void parallelFor(int threads, int64_t count, F&& fn) {
  parallelChunks(threads, count, [&fn](int64_t, int64_t begin, int64_t end) { fn(begin, end); });
}

class Permutohedral {
 public:
  // Builds the lattice for `n` points of `d` features each, point-major (features[i * d + j]).
  // Throws stcn::Error(Argument) when d < 1, n < 1, a feature is not finite or the lattice
  // coordinates do not fit 16 bits (feature values too large, e.g. a tiny sxy).
  // `threads` parallelises the neighbour search.
  void init(const float* features, int n, int d, int threads = 1);

  int dims() const { return d_; }               // d
  int latticePoints() const { return m_; }      // M (distinct lattice vertices)
  float alpha() const { return alpha_; }        // 1 / (1 + 2^-d)

  // The lattice filter: out[k * N + i] = sum over i's vertices of b * blur(splat(in_k)) * alpha,
  // k < valueSize (value-major layout, like the reference's (M, N) matrices). `out` may alias `in`.
  // `reverse` blurs the axes in reverse order (the transpose). Labels run in parallel.
  void compute(float* out, const float* in, int valueSize, bool reverse = false, int threads = 1) const;

  // Building blocks used by the fused CRF loop. A "grid" is M+1 floats: slot 0 stays 0 and stands
  // for a missing neighbour; vertex v lives in slot v+1.
  int gridSize() const { return m_ + 1; }
  // grid (zeroed by the caller) += splat of in[i] * scale[i] (scale may be null = 1).
  void splat(float* grid, const float* in, const float* scale) const;
  // d+1 blur passes; `grid` holds the result on return, `tmp` is scratch of gridSize() floats.
  void blur(float* grid, float* tmp, bool reverse) const;

  // Per point i, vertex r (r = 0..d): grid slot (vertex + 1) and barycentric weight.
  const int32_t* slots() const { return offset_.data(); }
  const float* weights() const { return bary_.data(); }
  // Per axis j (0..d), vertex i: grid slots of its two neighbours at [(j * M + i) * 2 + 0/1].
  const int32_t* neighbourSlots() const { return neighbours_.data(); }

 private:
  int n_ = 0;
  int d_ = 0;
  int m_ = 0;
  float alpha_ = 1.0f;
  std::vector<int32_t> offset_;      // n * (d+1): grid slot (vertex index + 1)
  std::vector<float> bary_;          // n * (d+1)
  std::vector<int32_t> neighbours_;  // (d+1) * m * 2: grid slots of the two neighbours per axis
};

}  // namespace stcn::crf
