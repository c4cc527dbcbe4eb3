// Node-API glue for the dense CRF (cpp/dense_crf.h) and the permutohedral lattice filter
// (cpp/permutohedral.h). Inputs are validated and copied on the main thread; all computation runs on
// a worker thread and settles a Promise (see ts/crf.ts for the typed public API).
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "binding/async.h"
#include "binding/js_error.h"
#include "dense_crf.h"
#include "permutohedral.h"

namespace binding {
namespace {

using stcn::Error;
using stcn::ErrorCode;

[[noreturn]] void argError(const std::string& message) { throw Error(ErrorCode::Argument, message); }

double number(const Napi::Object& o, const char* name, const std::string& where) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) argError(where + "." + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int integer(const Napi::Object& o, const char* name, const std::string& where) {
  const double v = number(o, name, where);
  if (v != static_cast<double>(static_cast<int>(v))) argError(where + "." + name + " must be an integer, got " + std::to_string(v));
  return static_cast<int>(v);
}

std::string string(const Napi::Object& o, const char* name, const std::string& where) {
  Napi::Value v = o.Get(name);
  if (!v.IsString()) argError(where + "." + name + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

template <typename T>
std::vector<T> copyTyped(const Napi::Value& v, napi_typedarray_type type, const char* typeName, const std::string& what,
                         size_t expected) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) argError(what + " must be a " + typeName);
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  if (a.ElementLength() != expected) {
    argError(what + " has " + std::to_string(a.ElementLength()) + " elements, expected " + std::to_string(expected));
  }
  std::vector<T> out(expected);
  if (expected) std::memcpy(out.data(), a.Data(), expected * sizeof(T));
  return out;
}

stcn::crf::Normalization parseNormalization(const std::string& s, const std::string& where) {
  if (s == "symmetric") return stcn::crf::Normalization::Symmetric;
  if (s == "before") return stcn::crf::Normalization::Before;
  if (s == "after") return stcn::crf::Normalization::After;
  if (s == "none") return stcn::crf::Normalization::None;
  argError(where + ".normalization must be \"symmetric\", \"before\", \"after\" or \"none\", got \"" + s + "\"");
}

// Owned copies of everything the worker needs.
struct CrfJob {
  stcn::crf::CrfInput input;
  std::vector<uint8_t> image, labels;
  std::vector<float> probabilities, energy;
};

std::shared_ptr<CrfJob> parseCrf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) argError("denseCrf(options: object)");
  const Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_shared<CrfJob>();
  stcn::crf::CrfInput& in = job->input;
  in.width = integer(o, "width", "denseCrf options");
  in.height = integer(o, "height", "denseCrf options");
  in.nLabels = integer(o, "nLabels", "denseCrf options");
  in.iterations = integer(o, "iterations", "denseCrf options");
  in.threads = integer(o, "threads", "denseCrf options");
  if (in.width < 1 || in.height < 1) argError("denseCrf: width and height must be positive");
  if (in.nLabels < 1) argError("denseCrf: nLabels must be >= 1");
  const size_t n = static_cast<size_t>(in.width) * static_cast<size_t>(in.height);
  const size_t nl = n * static_cast<size_t>(in.nLabels);
  if (o.Has("image") && !o.Get("image").IsUndefined() && !o.Get("image").IsNull()) {
    job->image = copyTyped<uint8_t>(o.Get("image"), napi_uint8_array, "Uint8Array", "denseCrf image (RGB, H*W*3)", n * 3);
    in.image = job->image.data();
  }
  const std::string unary = string(o, "unary", "denseCrf options");
  if (unary == "labels") {
    in.unaryKind = stcn::crf::UnaryKind::Labels;
    job->labels = copyTyped<uint8_t>(o.Get("labels"), napi_uint8_array, "Uint8Array", "denseCrf labels (H*W)", n);
    in.labels = job->labels.data();
    in.gtProb = number(o, "gtProb", "denseCrf options");
    Napi::Value z = o.Get("zeroUnsure");
    if (!z.IsBoolean()) argError("denseCrf options.zeroUnsure must be a boolean");
    in.zeroUnsure = z.As<Napi::Boolean>().Value();
  } else if (unary == "probabilities") {
    in.unaryKind = stcn::crf::UnaryKind::Probabilities;
    job->probabilities = copyTyped<float>(o.Get("probabilities"), napi_float32_array, "Float32Array",
                                          "denseCrf probabilities (nLabels*H*W)", nl);
    in.probabilities = job->probabilities.data();
    in.clip = number(o, "clip", "denseCrf options");
    in.scale = number(o, "scale", "denseCrf options");
  } else if (unary == "energy") {
    in.unaryKind = stcn::crf::UnaryKind::Energy;
    job->energy = copyTyped<float>(o.Get("energy"), napi_float32_array, "Float32Array", "denseCrf energy (nLabels*H*W)", nl);
    in.energy = job->energy.data();
  } else {
    argError("denseCrf options.unary must be \"labels\", \"probabilities\" or \"energy\", got \"" + unary + "\"");
  }
  Napi::Value pw = o.Get("pairwise");
  if (!pw.IsArray()) argError("denseCrf options.pairwise must be an array");
  Napi::Array terms = pw.As<Napi::Array>();
  for (uint32_t t = 0; t < terms.Length(); t++) {
    const std::string where = "denseCrf pairwise[" + std::to_string(t) + "]";
    Napi::Value tv = terms.Get(t);
    if (!tv.IsObject()) argError(where + " must be an object");
    const Napi::Object p = tv.As<Napi::Object>();
    stcn::crf::PairwiseTerm term;
    const std::string kind = string(p, "kind", where);
    if (kind == "gaussian") term.kind = stcn::crf::PairwiseTerm::Kind::Gaussian;
    else if (kind == "bilateral") term.kind = stcn::crf::PairwiseTerm::Kind::Bilateral;
    else argError(where + ".kind must be \"gaussian\" or \"bilateral\", got \"" + kind + "\"");
    term.sx = static_cast<float>(number(p, "sx", where));
    term.sy = static_cast<float>(number(p, "sy", where));
    if (term.kind == stcn::crf::PairwiseTerm::Kind::Bilateral) {
      term.sr = static_cast<float>(number(p, "sr", where));
      term.sg = static_cast<float>(number(p, "sg", where));
      term.sb = static_cast<float>(number(p, "sb", where));
    }
    term.compat = static_cast<float>(number(p, "compat", where));
    term.normalization = parseNormalization(string(p, "normalization", where), where);
    in.pairwise.push_back(term);
  }
  return job;
}

Napi::Value denseCrf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<CrfJob> job;
  try {
    job = parseCrf(info);
  } catch (const Error& e) {
    return rejected(env, e);
  }
  return PromiseWorker<std::shared_ptr<stcn::crf::CrfResult>>::start(
      env, "stcn.denseCrf",
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
  auto job = std::make_shared<FilterJob>();
  try {
    if (info.Length() < 6 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
        !info[3].IsNumber() || !info[4].IsBoolean() || !info[5].IsNumber()) {
      argError("permutohedralFilter(features: Float32Array, d: number, values: Float32Array, valueSize: number, reverse: boolean, threads: number)");
    }
    job->d = info[1].As<Napi::Number>().Int32Value();
    job->valueSize = info[3].As<Napi::Number>().Int32Value();
    job->reverse = info[4].As<Napi::Boolean>().Value();
    job->threads = info[5].As<Napi::Number>().Int32Value();
    if (job->d < 1) argError("permutohedralFilter: d must be >= 1");
    if (job->valueSize < 1) argError("permutohedralFilter: valueSize must be >= 1");
    const size_t featureLength = info[0].As<Napi::TypedArray>().ElementLength();
    if (featureLength % static_cast<size_t>(job->d) != 0) {
      argError("permutohedralFilter: features length " + std::to_string(featureLength) + " is not a multiple of d = " + std::to_string(job->d));
    }
    job->n = static_cast<int>(featureLength / job->d);
    job->features = copyTyped<float>(info[0], napi_float32_array, "Float32Array", "permutohedralFilter features", featureLength);
    job->values = copyTyped<float>(info[2], napi_float32_array, "Float32Array", "permutohedralFilter values (valueSize*N)",
                                   static_cast<size_t>(job->valueSize) * job->n);
  } catch (const Error& e) {
    return rejected(env, e);
  }
  return PromiseWorker<std::shared_ptr<FilterResult>>::start(
      env, "stcn.permutohedralFilter",
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
}

}  // namespace

void registerCrf(Napi::Env env, Napi::Object exports) {
  exports.Set("denseCrf", Napi::Function::New(env, denseCrf, "denseCrf"));
  exports.Set("permutohedralFilter", Napi::Function::New(env, permutohedralFilter, "permutohedralFilter"));
}

}  // namespace binding
