// Dense CRF mean-field inference (see dense_crf.h).
#include "dense_crf.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "enum_names.h"
#include "errors.h"
#include "permutohedral.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define STCN_CRF_SSE2 1
#endif

namespace stcn::crf {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr int kMaxLabels = 256;

// Broken invariants of the input: ts/crf.ts checks every user value first, so these are bugs of ours.
[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::Internal, "internal: denseCrf: " + message); }

void validate(const CrfInput& in) {
  if (in.width < 1 || in.height < 1) fail("image size must be positive, got " + std::to_string(in.width) + "x" + std::to_string(in.height));
  if (static_cast<int64_t>(in.width) * in.height > (int64_t{1} << 30)) fail("image too large");
  if (in.nLabels < 1 || in.nLabels > kMaxLabels) {
    fail("nLabels must be in [1, " + std::to_string(kMaxLabels) + "], got " + std::to_string(in.nLabels));
  }
  if (in.iterations < 0) fail("iterations must be >= 0, got " + std::to_string(in.iterations));
  const size_t n = static_cast<size_t>(in.width) * in.height;
  switch (in.unaryKind) {
    case UnaryKind::Labels: {
      if (!in.labels) fail("labels missing");
      if (!(in.gtProb > 0.0 && in.gtProb < 1.0)) fail("gtProb must be in (0, 1), got " + std::to_string(in.gtProb));
      const int limit = in.zeroUnsure ? in.nLabels : in.nLabels - 1;
      for (size_t i = 0; i < n; i++) {
        if (in.labels[i] > limit) {
          fail("label " + std::to_string(in.labels[i]) + " at pixel (x " + std::to_string(i % in.width) + ", y " +
               std::to_string(i / in.width) + ") is out of range: with nLabels " + std::to_string(in.nLabels) +
               (in.zeroUnsure ? " and zeroUnsure labels are 0 (unsure) or 1.." + std::to_string(in.nLabels)
                              : " labels are 0.." + std::to_string(in.nLabels - 1)));
        }
      }
      break;
    }
    case UnaryKind::Probabilities:
      if (!in.probabilities) fail("probabilities missing");
      if (!(in.clip > 0.0 && in.clip <= 1.0)) fail("clip must be in (0, 1], got " + std::to_string(in.clip));
      if (!(in.scale >= 0.0 && in.scale <= 1.0)) fail("scale must be in (0, 1] (0 = no blending), got " + std::to_string(in.scale));
      break;
    case UnaryKind::Energy:
      if (!in.energy) fail("energy missing");
      break;
  }
  for (size_t t = 0; t < in.pairwise.size(); t++) {
    const PairwiseTerm& p = in.pairwise[t];
    const std::string name = std::string(PairwiseTerm::kindName(p.kind)) + " term " + std::to_string(t);
    if (!(p.sx > 0.0f && p.sy > 0.0f && std::isfinite(p.sx) && std::isfinite(p.sy))) fail(name + ": sxy must be positive and finite");
    if (!std::isfinite(p.compat)) fail(name + ": compat must be finite");
    if (p.kind == PairwiseTerm::Kind::Bilateral) {
      if (!(p.sr > 0.0f && p.sg > 0.0f && p.sb > 0.0f && std::isfinite(p.sr) && std::isfinite(p.sg) && std::isfinite(p.sb))) {
        fail(name + ": srgb must be positive and finite");
      }
      if (!in.image) fail(name + " needs the RGB image");
    }
  }
}

// One pairwise term: lattice, per-pixel normaliser, Potts weight, and its grids. Grids are
// vertex-major ([M+1][nLabels], slot 0 = "no neighbour", always 0) like the reference's values.
struct Kernel {
  Permutohedral lattice;
  std::vector<float> norm;
  bool normBefore = false;  // multiply Q by norm before filtering
  bool normAfter = false;   // multiply the filtered values by norm
  float compat = 0.0f;
  std::vector<float> grid;                 // blurred values, read by the slice
  std::vector<float> tmp;                  // blur scratch
  std::vector<std::vector<float>> splat;   // one splat accumulator per thread
};

void setupKernel(Kernel& k, const PairwiseTerm& term, const CrfInput& in, int threads, int pixelThreads) {
  const int w = in.width;
  const int h = in.height;
  const size_t n = static_cast<size_t>(w) * h;
  const bool bilateral = term.kind == PairwiseTerm::Kind::Bilateral;
  const int d = bilateral ? 5 : 2;
  std::vector<float> features(n * d);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      const size_t i = static_cast<size_t>(y) * w + x;
      float* f = features.data() + i * d;
      f[0] = static_cast<float>(x) / term.sx;
      f[1] = static_cast<float>(y) / term.sy;
      if (bilateral) {
        f[2] = static_cast<float>(in.image[i * 3 + 0]) / term.sr;
        f[3] = static_cast<float>(in.image[i * 3 + 1]) / term.sg;
        f[4] = static_cast<float>(in.image[i * 3 + 2]) / term.sb;
      }
    }
  }
  k.lattice.init(features.data(), static_cast<int>(n), d, threads);
  features = std::vector<float>();

  // Normaliser from the filter of an all-ones signal, as the reference's DenseKernel::initLattice.
  std::vector<float> ones(n, 1.0f);
  k.norm.assign(n, 0.0f);
  k.lattice.compute(k.norm.data(), ones.data(), 1, false, 1);
  switch (term.normalization) {
    case Normalization::None: {
      // The reference computes N / sum(L(1)) here but its filter never applies it: the filter is raw.
      k.normBefore = k.normAfter = false;
      break;
    }
    case Normalization::Symmetric:
      for (float& v : k.norm) v = static_cast<float>(1.0 / std::sqrt(static_cast<double>(v) + 1e-20));
      k.normBefore = k.normAfter = true;
      break;
    case Normalization::Before:
    case Normalization::After:
      for (float& v : k.norm) v = static_cast<float>(1.0 / (static_cast<double>(v) + 1e-20));
      k.normBefore = term.normalization == Normalization::Before;
      k.normAfter = term.normalization == Normalization::After;
      break;
  }
  k.compat = term.compat;
  const size_t g = static_cast<size_t>(k.lattice.gridSize()) * in.nLabels;
  k.grid.assign(g, 0.0f);
  k.tmp.assign(g, 0.0f);
  k.splat.assign(static_cast<size_t>(pixelThreads), std::vector<float>(g, 0.0f));
}

// grid = sum of the threads' splat accumulators (in thread order), then the d+1 blur passes
// new = old + 0.5 * (n1 + n2) on all labels of a vertex.
void reduceAndBlur(Kernel& ker, int L, int usedThreads) {
  const size_t g = ker.grid.size();
  float* values = ker.grid.data();
  std::copy(ker.splat[0].begin(), ker.splat[0].end(), ker.grid.begin());
  for (int t = 1; t < usedThreads; t++) {
    const float* s = ker.splat[t].data();
    for (size_t j = 0; j < g; j++) values[j] += s[j];
  }
  const int d = ker.lattice.dims();
  const int m = ker.lattice.latticePoints();
  const int32_t* nbAll = ker.lattice.neighbourSlots();
  float* next = ker.tmp.data();
  for (int k = 0; k < L; k++) next[k] = 0.0f;
  for (int j = 0; j <= d; j++) {
    const int32_t* nb = nbAll + static_cast<size_t>(j) * m * 2;
#ifdef STCN_CRF_SSE2
    if (L == 2) {
      const __m128 half = _mm_set1_ps(0.5f);
      auto load2 = [&](size_t slot) { return _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(values + slot * 2))); };
      for (int i = 0; i < m; i++) {
        const __m128 r = _mm_add_ps(load2(static_cast<size_t>(i) + 1),
                                    _mm_mul_ps(half, _mm_add_ps(load2(static_cast<size_t>(nb[2 * i])), load2(static_cast<size_t>(nb[2 * i + 1])))));
        _mm_store_sd(reinterpret_cast<double*>(next + (static_cast<size_t>(i) + 1) * 2), _mm_castps_pd(r));
      }
      std::swap(values, next);
      continue;
    }
#endif
    for (int i = 0; i < m; i++) {
      const float* o = values + static_cast<size_t>(i + 1) * L;
      const float* n1 = values + static_cast<size_t>(nb[2 * i]) * L;
      const float* n2 = values + static_cast<size_t>(nb[2 * i + 1]) * L;
      float* out = next + static_cast<size_t>(i + 1) * L;
      for (int k = 0; k < L; k++) out[k] = o[k] + 0.5f * (n1[k] + n2[k]);
    }
    std::swap(values, next);
  }
  if (values != ker.grid.data()) std::copy(values, values + g, ker.grid.data());
}

// Splat a block of pixels' Q (qBlock[(i-begin)*L + k]) into `acc`, times norm_i when normalising
// before (the reference multiplies Q by the normaliser, then adds w * value per vertex).
template <int D, int LL>
void splatBlock(const Kernel& ker, int64_t begin, int64_t end, int lRuntime, const float* qBlock, float* acc) {
  constexpr int dp1 = D + 1;
  const int L = LL > 0 ? LL : lRuntime;
  const int32_t* slots = ker.lattice.slots();
  const float* weights = ker.lattice.weights();
  const float* norm = ker.norm.data();
  float v[LL > 0 ? LL : kMaxLabels];
  for (int64_t i = begin; i < end; i++) {
    const float* qi = qBlock + (i - begin) * L;
    if (ker.normBefore) {
      const float nrm = norm[i];
      for (int k = 0; k < L; k++) v[k] = qi[k] * nrm;
    } else {
      for (int k = 0; k < L; k++) v[k] = qi[k];
    }
    const int32_t* o = slots + i * dp1;
    const float* w = weights + i * dp1;
#ifdef STCN_CRF_SSE2
    if constexpr (LL == 2) {
      // Both labels in one register: the same IEEE operations per lane as the scalar code.
      const __m128 vv = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(v)));
      for (int r = 0; r < dp1; r++) {
        double* a = reinterpret_cast<double*>(acc + static_cast<size_t>(o[r]) * 2);
        const __m128 cur = _mm_castpd_ps(_mm_load_sd(a));
        _mm_store_sd(a, _mm_castps_pd(_mm_add_ps(cur, _mm_mul_ps(_mm_set1_ps(w[r]), vv))));
      }
      continue;
    }
#endif
    for (int r = 0; r < dp1; r++) {
      float* a = acc + static_cast<size_t>(o[r]) * L;
      for (int k = 0; k < L; k++) a[k] += w[r] * v[k];
    }
  }
}

// acc[j*L + k] += compat * post(slice_k(pixel begin+j)) for pixels [begin, end), with the
// reference's float order: s = sum_r w_r * v_r * alpha (or (w_r * alpha) * v_r for > 2 labels),
// post = s * norm_i when normalising after, and T - (-compat * post).
template <int D, int LL>
void sliceAccumulate(const Kernel& ker, int64_t begin, int64_t end, int lRuntime, float* acc) {
  constexpr int dp1 = D + 1;
  const int L = LL > 0 ? LL : lRuntime;
  const bool alphaFirst = L > 2;
  const int32_t* slots = ker.lattice.slots();
  const float* weights = ker.lattice.weights();
  const float alpha = ker.lattice.alpha();
  const float negCompat = -ker.compat;
  const float* g = ker.grid.data();
  const float* norm = ker.norm.data();
  float s[LL > 0 ? LL : kMaxLabels];
  for (int64_t i = begin; i < end; i++) {
    const int32_t* o = slots + i * dp1;
    const float* w = weights + i * dp1;
    float* a = acc + (i - begin) * L;
#ifdef STCN_CRF_SSE2
    if constexpr (LL == 2) {
      // Both labels in one register: (w * v) * alpha accumulated in vertex order, per lane.
      const __m128 al = _mm_set1_ps(alpha);
      __m128 sv = _mm_setzero_ps();
      for (int r = 0; r < dp1; r++) {
        const __m128 vv = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(g + static_cast<size_t>(o[r]) * 2)));
        sv = _mm_add_ps(sv, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(w[r]), vv), al));
      }
      if (ker.normAfter) sv = _mm_mul_ps(sv, _mm_set1_ps(norm[i]));
      const __m128 av = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(a)));
      _mm_store_sd(reinterpret_cast<double*>(a), _mm_castps_pd(_mm_sub_ps(av, _mm_mul_ps(_mm_set1_ps(negCompat), sv))));
      continue;
    }
#endif
    for (int k = 0; k < L; k++) s[k] = 0.0f;
    for (int r = 0; r < dp1; r++) {
      const float* v = g + static_cast<size_t>(o[r]) * L;
      if (alphaFirst) {
        const float wa = w[r] * alpha;
        for (int k = 0; k < L; k++) s[k] += wa * v[k];
      } else {
        for (int k = 0; k < L; k++) s[k] += w[r] * v[k] * alpha;
      }
    }
    if (ker.normAfter) {
      const float nrm = norm[i];
      for (int k = 0; k < L; k++) s[k] = s[k] * nrm;
    }
    for (int k = 0; k < L; k++) a[k] = a[k] - negCompat * s[k];
  }
}

template <int LL>
void sliceAccumulateL(const Kernel& ker, int64_t begin, int64_t end, int L, float* acc) {
  switch (ker.lattice.dims()) {
    case 2: sliceAccumulate<2, LL>(ker, begin, end, L, acc); break;
    case 5: sliceAccumulate<5, LL>(ker, begin, end, L, acc); break;
    default: throw Error(ErrorCode::Internal, "denseCrf: unexpected lattice dimension");
  }
}

template <int LL>
void splatBlockL(const Kernel& ker, int64_t begin, int64_t end, int L, const float* qBlock, float* acc) {
  switch (ker.lattice.dims()) {
    case 2: splatBlock<2, LL>(ker, begin, end, L, qBlock, acc); break;
    case 5: splatBlock<5, LL>(ker, begin, end, L, qBlock, acc); break;
    default: throw Error(ErrorCode::Internal, "denseCrf: unexpected lattice dimension");
  }
}

void splatBlockAny(const Kernel& ker, int64_t begin, int64_t end, int L, const float* qBlock, float* acc) {
  switch (L) {
    case 1: splatBlockL<1>(ker, begin, end, L, qBlock, acc); break;
    case 2: splatBlockL<2>(ker, begin, end, L, qBlock, acc); break;
    case 3: splatBlockL<3>(ker, begin, end, L, qBlock, acc); break;
    case 4: splatBlockL<4>(ker, begin, end, L, qBlock, acc); break;
    default: splatBlockL<0>(ker, begin, end, L, qBlock, acc); break;
  }
}

void sliceAccumulateAny(const Kernel& ker, int64_t begin, int64_t end, int L, float* acc) {
  switch (L) {
    case 1: sliceAccumulateL<1>(ker, begin, end, L, acc); break;
    case 2: sliceAccumulateL<2>(ker, begin, end, L, acc); break;
    case 3: sliceAccumulateL<3>(ker, begin, end, L, acc); break;
    case 4: sliceAccumulateL<4>(ker, begin, end, L, acc); break;
    default: sliceAccumulateL<0>(ker, begin, end, L, acc); break;
  }
}

// Q[:, i] = softmax(t) with the reference's arithmetic (max-subtracted, exp, divided by the sum;
// the maximum's exp(0) is exactly 1). t is overwritten with Q.
inline void softmaxInPlace(float* t, int L) {
  if (L == 2) {
    const bool first = !(t[1] > t[0]);
    const float mx = first ? t[0] : t[1];
    const float e0 = first ? 1.0f : std::exp(t[0] - mx);
    const float e1 = first ? std::exp(t[1] - mx) : 1.0f;
    const float sum = e0 + e1;
    t[0] = e0 / sum;
    t[1] = e1 / sum;
    return;
  }
  float mx = t[0];
  int arg = 0;
  for (int k = 1; k < L; k++) {
    if (t[k] > mx) {
      mx = t[k];
      arg = k;
    }
  }
  float sum = 0.0f;
  for (int k = 0; k < L; k++) {
    t[k] = k == arg ? 1.0f : std::exp(t[k] - mx);
    sum += t[k];
  }
  for (int k = 0; k < L; k++) t[k] = t[k] / sum;
}

}  // namespace

constexpr EnumName<Normalization> kNormalizations[] = {
    {"symmetric", Normalization::Symmetric}, {"before", Normalization::Before}, {"after", Normalization::After}, {"none", Normalization::None}};
constexpr EnumName<PairwiseTerm::Kind> kKernelKinds[] = {{"gaussian", PairwiseTerm::Kind::Gaussian}, {"bilateral", PairwiseTerm::Kind::Bilateral}};
constexpr EnumName<UnaryKind> kUnaryKinds[] = {
    {"labels", UnaryKind::Labels}, {"probabilities", UnaryKind::Probabilities}, {"energy", UnaryKind::Energy}};

Normalization parseNormalization(const std::string& name) { return parseEnum(name, kNormalizations, "normalization"); }
const char* normalizationName(Normalization normalization) { return enumName(normalization, kNormalizations); }
PairwiseTerm::Kind PairwiseTerm::parseKind(const std::string& name) { return parseEnum(name, kKernelKinds, "pairwise kind"); }
const char* PairwiseTerm::kindName(Kind kind) { return enumName(kind, kKernelKinds); }
UnaryKind parseUnaryKind(const std::string& name) { return parseEnum(name, kUnaryKinds, "unary"); }
const char* unaryKindName(UnaryKind kind) { return enumName(kind, kUnaryKinds); }

std::vector<float> computeUnary(const CrfInput& in) {
  const size_t n = static_cast<size_t>(in.width) * in.height;
  const int m = in.nLabels;
  std::vector<float> u(n * m);
  switch (in.unaryKind) {
    case UnaryKind::Labels: {
      // unary_from_labels: -log(gt) for the annotated label, -log((1-gt)/(M-1)) for the others,
      // -log(1/M) everywhere where the label is 0 with zeroUnsure (then labels are 1-based).
      const float nEnergy = m > 1 ? static_cast<float>(-std::log((1.0 - in.gtProb) / (m - 1))) : 0.0f;
      const float pEnergy = static_cast<float>(-std::log(in.gtProb));
      const float uniform = static_cast<float>(-std::log(1.0 / m));
      for (size_t i = 0; i < n; i++) {
        const int label = in.labels[i];
        if (in.zeroUnsure && label == 0) {
          for (int k = 0; k < m; k++) u[k * n + i] = uniform;
          continue;
        }
        const int row = in.zeroUnsure ? label - 1 : label;
        for (int k = 0; k < m; k++) u[k * n + i] = k == row ? pEnergy : nEnergy;
      }
      break;
    }
    case UnaryKind::Probabilities: {
      // unary_from_softmax: optional blend scale*p + (1-scale)/M, clip to [clip, 1], -log.
      for (size_t j = 0; j < n * m; j++) {
        double p = in.probabilities[j];
        if (!std::isfinite(p)) fail("probability " + std::to_string(j) + " is not finite");
        if (in.scale > 0.0) p = in.scale * p + (1.0 - in.scale) / m;
        if (in.clip > 0.0) p = std::min(std::max(p, in.clip), 1.0);
        u[j] = static_cast<float>(-std::log(p));
      }
      break;
    }
    case UnaryKind::Energy:
      for (size_t j = 0; j < n * m; j++) {
        if (std::isnan(in.energy[j])) fail("energy " + std::to_string(j) + " is NaN");
        u[j] = in.energy[j];
      }
      break;
  }
  return u;
}

CrfResult denseCrf(const CrfInput& in) {
  const Clock::time_point start = Clock::now();
  validate(in);
  // More threads than this never pays off here (and each pixel thread owns splat accumulators).
  const int threads = std::min(std::max(1, in.threads), 64);
  const int L = in.nLabels;
  const size_t n = static_cast<size_t>(in.width) * in.height;
  CrfResult result;

  // Unary, as -U (the softmax input).
  Clock::time_point t0 = Clock::now();
  // Kept pixel-major ([N][L]) for the pixel pass; with a label unary every pixel's row is one of
  // nLabels+1 distinct rows, so only a row index per pixel is kept (less memory traffic per step).
  std::vector<float> negU;
  std::vector<uint8_t> rowOf;
  if (in.unaryKind == UnaryKind::Labels && L < 256) {
    const std::vector<float> u = computeUnary(in);  // validated above; rows recomputed exactly below
    rowOf.resize(n);
    negU.assign(static_cast<size_t>(L + 1) * L, 0.0f);
    std::vector<bool> have(static_cast<size_t>(L + 1), false);
    for (size_t i = 0; i < n; i++) {
      const int label = in.labels[i];
      const int row = in.zeroUnsure ? (label == 0 ? L : label - 1) : label;
      rowOf[i] = static_cast<uint8_t>(row);
      if (!have[row]) {
        have[row] = true;
        for (int k = 0; k < L; k++) negU[static_cast<size_t>(row) * L + k] = -u[k * n + i];
      }
    }
  } else {
    const std::vector<float> u = computeUnary(in);
    negU.resize(n * L);
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < L; k++) negU[i * L + k] = -u[k * n + i];
  }
  result.unaryMs = msSince(t0);

  // Lattices and normalisers: the terms are independent, so they are built in parallel.
  t0 = Clock::now();
  const int nTerms = static_cast<int>(in.pairwise.size());
  const int usedThreads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, static_cast<int64_t>(n))));
  std::vector<std::unique_ptr<Kernel>> kernels;
  for (int m = 0; m < nTerms; m++) kernels.push_back(std::make_unique<Kernel>());
  if (in.iterations > 0 && nTerms > 0) {
    // Each term's parallel parts (simplex search, neighbours) get every thread; the sequential parts
    // (vertex numbering, normaliser) of different terms overlap.
    const int inner = threads;
    parallelFor(std::min(threads, nTerms), nTerms, [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; m++) setupKernel(*kernels[m], in.pairwise[m], in, inner, usedThreads);
    });
    for (auto& k : kernels) result.latticePoints.push_back(k->lattice.latticePoints());
  }
  result.setupMs = msSince(t0);

  // Mean-field: Q0 = softmax(-U); each step Q = softmax(-U + sum_m w_m * Filter_m(Q)).
  // One pass over the pixels per step: slice the blurred grids, softmax, and splat the new Q into
  // per-thread accumulators for the next step; then sum the accumulators and blur.
  t0 = Clock::now();
  result.q.assign(n * L, 0.0f);
  float* q = result.q.data();
  const int iterations = nTerms > 0 ? in.iterations : 0;
  for (int it = 0; it <= iterations; it++) {
    const bool slice = it > 0;
    const bool splat = it < iterations;
    if (slice) {
      parallelFor(std::min(threads, nTerms), nTerms, [&](int64_t b, int64_t e) {
        for (int64_t m = b; m < e; m++) reduceAndBlur(*kernels[m], L, usedThreads);
      });
    }
    parallelChunks(usedThreads, static_cast<int64_t>(n), [&](int64_t chunk, int64_t b, int64_t e) {
      const size_t thread = static_cast<size_t>(chunk);
      if (splat) {
        for (auto& kp : kernels) std::fill(kp->splat[thread].begin(), kp->splat[thread].end(), 0.0f);
      }
      constexpr int64_t kBlock = 256;
      std::vector<float> acc(static_cast<size_t>(kBlock) * L);
      for (int64_t b0 = b; b0 < e; b0 += kBlock) {
        const int64_t e0 = std::min(e, b0 + kBlock);
        for (int64_t i = b0; i < e0; i++) {
          const float* row = negU.data() + (rowOf.empty() ? static_cast<size_t>(i) : rowOf[i]) * L;
          for (int k = 0; k < L; k++) acc[(i - b0) * L + k] = row[k];
        }
        if (slice) {
          for (const auto& kp : kernels) sliceAccumulateAny(*kp, b0, e0, L, acc.data());
        }
        for (int64_t i = b0; i < e0; i++) {
          float* t = acc.data() + (i - b0) * L;
          softmaxInPlace(t, L);
          if (!splat) {
            for (int k = 0; k < L; k++) q[k * n + i] = t[k];
          }
        }
        if (splat) {
          for (const auto& kp : kernels) splatBlockAny(*kp, b0, e0, L, acc.data(), kp->splat[thread].data());
        }
      }
    });
  }
  result.inferenceMs = msSince(t0);

  result.argmax.assign(n, 0);
  for (size_t i = 0; i < n; i++) {
    int best = 0;
    float bv = q[i];
    for (int k = 1; k < L; k++) {
      if (q[k * n + i] > bv) {
        bv = q[k * n + i];
        best = k;
      }
    }
    result.argmax[i] = best;
  }
  result.totalMs = msSince(start);
  return result;
}

}  // namespace stcn::crf
