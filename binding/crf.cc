// Node-API glue for the dense CRF (cpp/dense_crf.h) and the permutohedral lattice filter
// (cpp/permutohedral.h). ts/crf.ts checks the input; here it is read and copied on the main thread
// (binding/args.h), and all computation runs on a lane and settles a Promise.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/async.h"
#include "binding/js_error.h"
#include "dense_crf.h"
#include "permutohedral.h"

namespace binding {
namespace {

// Owned copies of everything the worker needs.
struct CrfJob {
  stcn::crf::CrfInput input;
  std::vector<uint8_t> image, labels;
  std::vector<float> probabilities, energy;
};

std::shared_ptr<CrfJob> parseCrf(const Napi::CallbackInfo& info) {
  const Napi::Object o = object(info[0], "denseCrf options");
  auto field = [&](const char* name) { return o.Get(name); };
  auto job = std::make_shared<CrfJob>();
  stcn::crf::CrfInput& in = job->input;
  in.width = int32(field("width"), "denseCrf width");
  in.height = int32(field("height"), "denseCrf height");
  in.nLabels = int32(field("nLabels"), "denseCrf nLabels");
  in.iterations = int32(field("iterations"), "denseCrf iterations");
  in.threads = int32(field("threads"), "denseCrf threads");
  const int64_t n = static_cast<int64_t>(in.width) * in.height;
  const int64_t nl = n * in.nLabels;
  if (!field("image").IsUndefined() && !field("image").IsNull()) {
    job->image = copyArray<uint8_t>(field("image"), "denseCrf image (RGB, H*W*3)", n * 3);
    in.image = job->image.data();
  }
  in.unaryKind = stcn::crf::parseUnaryKind(string(field("unary"), "denseCrf unary"));
  switch (in.unaryKind) {
    case stcn::crf::UnaryKind::Labels:
      job->labels = copyArray<uint8_t>(field("labels"), "denseCrf labels (H*W)", n);
      in.labels = job->labels.data();
      in.gtProb = number(field("gtProb"), "denseCrf gtProb");
      in.zeroUnsure = boolean(field("zeroUnsure"), "denseCrf zeroUnsure");
      break;
    case stcn::crf::UnaryKind::Probabilities:
      job->probabilities = copyArray<float>(field("probabilities"), "denseCrf probabilities (nLabels*H*W)", nl);
      in.probabilities = job->probabilities.data();
      in.clip = number(field("clip"), "denseCrf clip");
      in.scale = number(field("scale"), "denseCrf scale");
      break;
    case stcn::crf::UnaryKind::Energy:
      job->energy = copyArray<float>(field("energy"), "denseCrf energy (nLabels*H*W)", nl);
      in.energy = job->energy.data();
      break;
  }
  Napi::Value pw = field("pairwise");
  if (!pw.IsArray()) badValue("denseCrf pairwise", "an array", stcn::ErrorCode::Internal);
  Napi::Array terms = pw.As<Napi::Array>();
  for (uint32_t t = 0; t < terms.Length(); t++) {
    const std::string where = "denseCrf pairwise[" + std::to_string(t) + "]";
    const Napi::Object p = object(terms.Get(t), where);
    stcn::crf::PairwiseTerm term;
    term.kind = stcn::crf::PairwiseTerm::parseKind(string(p.Get("kind"), where + ".kind"));
    term.sx = static_cast<float>(number(p.Get("sx"), where + ".sx"));
    term.sy = static_cast<float>(number(p.Get("sy"), where + ".sy"));
    if (term.kind == stcn::crf::PairwiseTerm::Kind::Bilateral) {
      term.sr = static_cast<float>(number(p.Get("sr"), where + ".sr"));
      term.sg = static_cast<float>(number(p.Get("sg"), where + ".sg"));
      term.sb = static_cast<float>(number(p.Get("sb"), where + ".sb"));
    }
    term.compat = static_cast<float>(number(p.Get("compat"), where + ".compat"));
    term.normalization = stcn::crf::parseNormalization(string(p.Get("normalization"), where + ".normalization"));
    in.pairwise.push_back(term);
  }
  return job;
}

Napi::Value denseCrf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guardPromise(env, [&]() -> Napi::Value {
  std::shared_ptr<CrfJob> job = parseCrf(info);
  return PromiseWorker<std::shared_ptr<stcn::crf::CrfResult>>::start(
      env,
      [job]() { return std::make_shared<stcn::crf::CrfResult>(stcn::crf::denseCrf(job->input)); },
      [](Napi::Env env, std::shared_ptr<stcn::crf::CrfResult>& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        Napi::Float32Array q = Napi::Float32Array::New(env, r->q.size());
        std::memcpy(q.Data(), r->q.data(), r->q.size() * sizeof(float));
        Napi::Int32Array argmax = Napi::Int32Array::New(env, r->argmax.size());
        std::memcpy(argmax.Data(), r->argmax.data(), r->argmax.size() * sizeof(int32_t));
        Napi::Array points = Napi::Array::New(env, r->latticePoints.size());
        for (uint32_t i = 0; i < r->latticePoints.size(); i++) points.Set(i, r->latticePoints[i]);
        out.Set("q", q);
        out.Set("argmax", argmax);
        out.Set("latticePoints", points);
        out.Set("unaryMs", r->unaryMs);
        out.Set("setupMs", r->setupMs);
        out.Set("inferenceMs", r->inferenceMs);
        out.Set("totalMs", r->totalMs);
        return out;
      });
  });
}

struct FilterJob {
  std::vector<float> features, values;
  int n = 0, d = 0, valueSize = 0, threads = 1;
  bool reverse = false;
};

struct FilterResult {
  std::vector<float> out;
  int latticePoints = 0;
};

// permutohedralFilter(features: Float32Array [N*d] point-major, d, values: Float32Array [valueSize*N]
// value-major, valueSize, reverse, threads) -> Promise<{ values: Float32Array, latticePoints: number }>
Napi::Value permutohedralFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guardPromise(env, [&]() -> Napi::Value {
  auto job = std::make_shared<FilterJob>();
  job->d = int32(info[1], "permutohedralFilter d");
  job->valueSize = int32(info[3], "permutohedralFilter valueSize");
  job->reverse = boolean(info[4], "permutohedralFilter reverse");
  job->threads = int32(info[5], "permutohedralFilter threads");
  job->features = copyArray<float>(info[0], "permutohedralFilter features");
  if (job->d < 1 || job->features.size() % static_cast<size_t>(job->d) != 0) {
    badValue("permutohedralFilter features", "a multiple of d = " + std::to_string(job->d) + " long", stcn::ErrorCode::Internal);
  }
  job->n = static_cast<int>(job->features.size() / job->d);
  job->values = copyArray<float>(info[2], "permutohedralFilter values (valueSize*N)", static_cast<int64_t>(job->valueSize) * job->n);
  return PromiseWorker<std::shared_ptr<FilterResult>>::start(
      env,
      [job]() {
        stcn::crf::Permutohedral lattice;
        lattice.init(job->features.data(), job->n, job->d, job->threads);
        auto r = std::make_shared<FilterResult>();
        r->out.resize(job->values.size());
        lattice.compute(r->out.data(), job->values.data(), job->valueSize, job->reverse, job->threads);
        r->latticePoints = lattice.latticePoints();
        return r;
      },
      [](Napi::Env env, std::shared_ptr<FilterResult>& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        Napi::Float32Array values = Napi::Float32Array::New(env, r->out.size());
        std::memcpy(values.Data(), r->out.data(), r->out.size() * sizeof(float));
        out.Set("values", values);
        out.Set("latticePoints", r->latticePoints);
        return out;
      });
  });
}

}  // namespace

void registerCrf(Napi::Env env, Napi::Object exports) {
  exports.Set("denseCrf", Napi::Function::New(env, denseCrf, "denseCrf"));
  exports.Set("permutohedralFilter", Napi::Function::New(env, permutohedralFilter, "permutohedralFilter"));
}

}  // namespace binding
