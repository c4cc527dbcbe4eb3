// Permutohedral lattice, reference-equivalent float32 arithmetic (see permutohedral.h).
#include "permutohedral.h"

#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"

namespace stcn::crf {
namespace {

constexpr int kMaxDims = 16;

// Open-addressing (linear probing) hash table from d-dimensional int16 keys to dense vertex ids,
// assigned in insertion order (the reference's order: point by point, vertex 0..d).
class LatticeHash {
 public:
  LatticeHash(int keySize, int64_t expected) : keySize_(keySize) {
    size_t capacity = 1024;
    while (capacity < static_cast<size_t>(expected) * 2) capacity *= 2;
    table_.assign(capacity, -1);
    mask_ = capacity - 1;
    keys_.reserve(static_cast<size_t>(expected) * keySize_);
  }

  int size() const { return filled_; }
  const int16_t* key(int id) const { return keys_.data() + static_cast<size_t>(id) * keySize_; }

  int findOrInsert(const int16_t* k) {
    if (2 * static_cast<size_t>(filled_) >= table_.size()) grow();
    size_t h = hash(k) & mask_;
    for (;;) {
      const int e = table_[h];
      if (e < 0) {
        keys_.insert(keys_.end(), k, k + keySize_);
        table_[h] = filled_;
        return filled_++;
      }
      if (std::memcmp(key(e), k, sizeof(int16_t) * keySize_) == 0) return e;
      h = (h + 1) & mask_;
    }
  }

  // -1 when absent. Read-only (safe from several threads once building is over).
  int find(const int16_t* k) const {
    size_t h = hash(k) & mask_;
    for (;;) {
      const int e = table_[h];
      if (e < 0) return -1;
      if (std::memcmp(key(e), k, sizeof(int16_t) * keySize_) == 0) return e;
      h = (h + 1) & mask_;
    }
  }

 private:
  size_t hash(const int16_t* k) const {
    uint64_t r = 0;
    for (int i = 0; i < keySize_; i++) {
      r += static_cast<uint16_t>(k[i]);
      r *= 0x9E3779B97F4A7C15ull;
    }
    return static_cast<size_t>(r ^ (r >> 29));
  }

  void grow() {
    std::vector<int32_t> old;
    old.swap(table_);
    table_.assign(old.size() * 2, -1);
    mask_ = table_.size() - 1;
    for (int32_t e : old) {
      if (e < 0) continue;
      size_t h = hash(key(e)) & mask_;
      while (table_[h] >= 0) h = (h + 1) & mask_;
      table_[h] = e;
    }
  }

  int keySize_;
  int filled_ = 0;
  size_t mask_ = 0;
  std::vector<int32_t> table_;
  std::vector<int16_t> keys_;
};

// Elevation, simplex, barycentric weights and vertex keys of every point; D > 0 is the compile-time
// dimension, D == 0 reads it from `d`.
template <int D>
void buildVertices(const float* features, int n, int dRuntime, LatticeHash& hash, int32_t* offset, float* bary) {
  const int d = D > 0 ? D : dRuntime;
  const int dp1 = d + 1;
  // Expected standard deviation of the filter (p.6 in Adams et al. 2010), as the reference computes it.
  const float invStdDev = static_cast<float>(std::sqrt(2.0 / 3.0) * dp1);
  float scale[kMaxDims];
  for (int i = 0; i < d; i++) scale[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>((i + 2) * (i + 1))) * invStdDev);
  int canonical[kMaxDims + 1][kMaxDims + 1];
  for (int r = 0; r <= d; r++) {
    for (int j = 0; j <= d - r; j++) canonical[r][j] = r;
    for (int j = d - r + 1; j <= d; j++) canonical[r][j] = r - dp1;
  }
  const float invDp1 = 1.0f / static_cast<float>(dp1);
  const float fDp1 = static_cast<float>(dp1);

  float elevated[kMaxDims + 1];
  float rem0[kMaxDims + 1];
  int rank[kMaxDims + 1];
  float b[kMaxDims + 2];
  int16_t keys[kMaxDims + 1][kMaxDims];
  int16_t prevKeys[kMaxDims + 1][kMaxDims];
  int32_t prevIds[kMaxDims + 1];
  bool havePrev = false;

  for (int p = 0; p < n; p++) {
    const float* f = features + static_cast<size_t>(p) * d;
    // Elevate (y = E p, p.5 in Adams et al. 2010).
    float sm = 0.0f;
    for (int j = d; j > 0; j--) {
      if (!std::isfinite(f[j - 1])) {
        throw Error(ErrorCode::Argument, "permutohedral lattice: feature " + std::to_string(j - 1) + " of point " +
                                             std::to_string(p) + " is not finite");
      }
      const float cf = f[j - 1] * scale[j - 1];
      elevated[j] = sm - static_cast<float>(j) * cf;
      sm += cf;
    }
    elevated[0] = sm;

    // Closest remainder-0 point: round to nearest (ties to even, as the reference's SSE path).
    float sum = 0.0f;
    for (int i = 0; i <= d; i++) {
      const float v = std::nearbyint(invDp1 * elevated[i]);
      rem0[i] = v * fDp1;
      sum += v;
    }
    // Rank of each coordinate's residual (larger residual, lower rank).
    for (int i = 0; i <= d; i++) rank[i] = 0;
    for (int i = 0; i < d; i++) {
      const float di = elevated[i] - rem0[i];
      for (int j = i + 1; j <= d; j++) {
        if (di < elevated[j] - rem0[j]) rank[i]++;
        else rank[j]++;
      }
    }
    // Bring the point back onto the plane.
    const int isum = static_cast<int>(sum);
    for (int i = 0; i <= d; i++) {
      rank[i] += isum;
      if (rank[i] < 0) {
        rank[i] += dp1;
        rem0[i] += fDp1;
      } else if (rank[i] >= dp1) {
        rank[i] -= dp1;
        rem0[i] -= fDp1;
      }
    }
    // Barycentric coordinates (p.10 in Adams et al. 2010).
    for (int i = 0; i <= d + 1; i++) b[i] = 0.0f;
    for (int i = 0; i <= d; i++) {
      const float v = (elevated[i] - rem0[i]) * invDp1;
      b[d - rank[i]] += v;
      b[d - rank[i] + 1] -= v;
    }
    b[0] += 1.0f + b[d + 1];

    // Vertex keys (the first d lattice coordinates; the last one is implied).
    for (int r = 0; r <= d; r++) {
      for (int i = 0; i < d; i++) {
        const float kv = rem0[i] + static_cast<float>(canonical[r][rank[i]]);
        if (!(kv > -32000.0f && kv < 32000.0f)) {
          throw Error(ErrorCode::Argument,
                      "permutohedral lattice: feature values of point " + std::to_string(p) +
                          " are too large for 16-bit lattice coordinates (is a kernel width such as sxy/srgb far too small?)");
        }
        keys[r][i] = static_cast<int16_t>(kv);
      }
    }
    int32_t* off = offset + static_cast<size_t>(p) * dp1;
    float* w = bary + static_cast<size_t>(p) * dp1;
    for (int r = 0; r <= d; r++) {
      int id = -1;
      // Neighbouring points mostly share vertices: look in the previous point's vertices first.
      if (havePrev) {
        for (int q = 0; q <= d; q++) {
          if (std::memcmp(prevKeys[q], keys[r], sizeof(int16_t) * d) == 0) {
            id = prevIds[q];
            break;
          }
        }
      }
      if (id < 0) id = hash.findOrInsert(keys[r]);
      off[r] = id + 1;
      w[r] = b[r];
    }
    std::memcpy(prevKeys, keys, sizeof(keys));
    for (int r = 0; r <= d; r++) prevIds[r] = off[r] - 1;
    havePrev = true;
  }
}

template <int D>
void splatImpl(const int32_t* offset, const float* bary, int n, int dRuntime, float* grid, const float* in, const float* scale) {
  const int dp1 = (D > 0 ? D : dRuntime) + 1;
  for (int i = 0; i < n; i++) {
    const float v = scale ? in[i] * scale[i] : in[i];
    const int32_t* o = offset + static_cast<size_t>(i) * dp1;
    const float* w = bary + static_cast<size_t>(i) * dp1;
    for (int r = 0; r < dp1; r++) grid[o[r]] += w[r] * v;
  }
}

// Slice: out[i] = sum_r (w_r * grid[o_r]) * alpha (the reference's order for <= 2 value rows), or
// sum_r (w_r * alpha) * grid[o_r] (its SSE path, used for > 2 rows).
template <int D>
void sliceImpl(const int32_t* offset, const float* bary, int n, int dRuntime, const float* grid, float alpha,
               bool alphaFirst, float* out) {
  const int dp1 = (D > 0 ? D : dRuntime) + 1;
  for (int i = 0; i < n; i++) {
    const int32_t* o = offset + static_cast<size_t>(i) * dp1;
    const float* w = bary + static_cast<size_t>(i) * dp1;
    float acc = 0.0f;
    if (alphaFirst) {
      for (int r = 0; r < dp1; r++) acc += (w[r] * alpha) * grid[o[r]];
    } else {
      for (int r = 0; r < dp1; r++) acc += w[r] * grid[o[r]] * alpha;
    }
    out[i] = acc;
  }
}

}  // namespace

void Permutohedral::init(const float* features, int n, int d, int threads) {
  if (d < 1 || d > kMaxDims) {
    throw Error(ErrorCode::Argument, "permutohedral lattice: feature dimension must be 1.." + std::to_string(kMaxDims) +
                                         ", got " + std::to_string(d));
  }
  if (n < 1) throw Error(ErrorCode::Argument, "permutohedral lattice: no points");
  n_ = n;
  d_ = d;
  alpha_ = 1.0f / (1.0f + std::pow(2.0f, static_cast<float>(-d)));
  const int dp1 = d + 1;
  offset_.assign(static_cast<size_t>(n) * dp1, 0);
  bary_.assign(static_cast<size_t>(n) * dp1, 0.0f);

  LatticeHash hash(d, std::max<int64_t>(1024, static_cast<int64_t>(n) * dp1 / 8));
  switch (d) {
    case 2: buildVertices<2>(features, n, d, hash, offset_.data(), bary_.data()); break;
    case 5: buildVertices<5>(features, n, d, hash, offset_.data(), bary_.data()); break;
    default: buildVertices<0>(features, n, d, hash, offset_.data(), bary_.data()); break;
  }
  m_ = hash.size();

  // Blur neighbours along each of the d+1 axes: n1 = key - 1 on every stored coordinate except
  // n1[j] = key[j] + d; n2 = key + 1 except n2[j] = key[j] - d (axis d shifts all stored coordinates).
  neighbours_.assign(static_cast<size_t>(dp1) * m_ * 2, 0);
  const int m = m_;
  parallelFor(threads, m, [&](int64_t begin, int64_t end) {
    int16_t n1[kMaxDims + 1];
    int16_t n2[kMaxDims + 1];
    for (int j = 0; j <= d; j++) {
      int32_t* nb = neighbours_.data() + static_cast<size_t>(j) * m * 2;
      for (int64_t i = begin; i < end; i++) {
        const int16_t* key = hash.key(static_cast<int>(i));
        for (int k = 0; k < d; k++) {
          n1[k] = static_cast<int16_t>(key[k] - 1);
          n2[k] = static_cast<int16_t>(key[k] + 1);
        }
        if (j < d) {
          n1[j] = static_cast<int16_t>(key[j] + d);
          n2[j] = static_cast<int16_t>(key[j] - d);
        }
        nb[2 * i] = hash.find(n1) + 1;
        nb[2 * i + 1] = hash.find(n2) + 1;
      }
    }
  });
}

void Permutohedral::splat(float* grid, const float* in, const float* scale) const {
  switch (d_) {
    case 2: splatImpl<2>(offset_.data(), bary_.data(), n_, d_, grid, in, scale); break;
    case 5: splatImpl<5>(offset_.data(), bary_.data(), n_, d_, grid, in, scale); break;
    default: splatImpl<0>(offset_.data(), bary_.data(), n_, d_, grid, in, scale); break;
  }
}

void Permutohedral::blur(float* grid, float* tmp, bool reverse) const {
  float* values = grid;
  float* next = tmp;
  next[0] = 0.0f;
  for (int step = 0; step <= d_; step++) {
    const int j = reverse ? d_ - step : step;
    const int32_t* nb = neighbours_.data() + static_cast<size_t>(j) * m_ * 2;
    for (int i = 0; i < m_; i++) {
      next[i + 1] = values[i + 1] + 0.5f * (values[nb[2 * i]] + values[nb[2 * i + 1]]);
    }
    std::swap(values, next);
  }
  if (values != grid) std::memcpy(grid, values, sizeof(float) * (static_cast<size_t>(m_) + 1));
}

void Permutohedral::compute(float* out, const float* in, int valueSize, bool reverse, int threads) const {
  if (valueSize < 1) return;
  const size_t g = static_cast<size_t>(gridSize());
  const bool alphaFirst = valueSize > 2;
  // Every value row is independent: splat, blur and slice one row per task.
  std::vector<float> rowsOut(static_cast<size_t>(valueSize) * n_);
  parallelFor(threads, valueSize, [&](int64_t begin, int64_t end) {
    std::vector<float> grid(g), tmp(g);
    for (int64_t k = begin; k < end; k++) {
      std::fill(grid.begin(), grid.end(), 0.0f);
      splat(grid.data(), in + static_cast<size_t>(k) * n_, nullptr);
      blur(grid.data(), tmp.data(), reverse);
      float* o = rowsOut.data() + static_cast<size_t>(k) * n_;
      switch (d_) {
        case 2: sliceImpl<2>(offset_.data(), bary_.data(), n_, d_, grid.data(), alpha_, alphaFirst, o); break;
        case 5: sliceImpl<5>(offset_.data(), bary_.data(), n_, d_, grid.data(), alpha_, alphaFirst, o); break;
        default: sliceImpl<0>(offset_.data(), bary_.data(), n_, d_, grid.data(), alpha_, alphaFirst, o); break;
      }
    }
  });
  std::memcpy(out, rowsOut.data(), sizeof(float) * rowsOut.size());
}

}  // namespace stcn::crf
