// Detection operators: registers torchvision::nms / torchvision::roi_align (cpp/detection_ops.h) in the
// LibTorch dispatcher when the addon loads, before any TorchScript detector is loaded, and exposes
// `detectionOps()` (who provides each operator) for diagnostics and tests.
#include <napi.h>

#include "binding/js_error.h"
#include "detection_ops.h"

namespace binding {
namespace {

Napi::Value detectionOps(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const stcn::DetectionOpsStatus& status = stcn::registerDetectionOps();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("nms", stcn::opProviderName(status.nms));
    out.Set("roiAlign", stcn::opProviderName(status.roiAlign));
    out.Set("cudaKernels", status.cudaKernels);
    return out;
  });
}

}  // namespace

void registerDetection(Napi::Env env, Napi::Object exports) {
  guard(env, [&]() -> Napi::Value {
    stcn::registerDetectionOps();
    return env.Undefined();
  });
  exports.Set("detectionOps", Napi::Function::New(env, detectionOps, "detectionOps"));
}

}  // namespace binding
