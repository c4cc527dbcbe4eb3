// First-stage loader of stcn-node (see docs/install.md): a Node-API module without LibTorch.
// preload(paths: string[]) dlopen()s each library, in order, with RTLD_NOW | RTLD_GLOBAL and never
// closes it. Loading the found LibTorch this way before the real addon satisfies the addon's
// DT_NEEDED sonames (libtorch.so..., libc10.so...) from wherever that LibTorch lives, so a prebuilt
// addon needs neither an absolute rpath nor LD_LIBRARY_PATH. Throws with dlerror() on failure.
#include <dlfcn.h>
#include <node_api.h>

#include <string>

namespace {

napi_value throwError(napi_env env, const std::string& message) {
  napi_throw_error(env, "ERR_STCN_ADDON_LOAD", message.c_str());
  return nullptr;
}

napi_value preload(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1) {
    return throwError(env, "preload(paths): paths is required");
  }
  bool isArray = false;
  napi_is_array(env, argv[0], &isArray);
  if (!isArray) return throwError(env, "preload(paths): paths must be an array of strings");
  uint32_t length = 0;
  napi_get_array_length(env, argv[0], &length);
  for (uint32_t i = 0; i < length; ++i) {
    napi_value item;
    napi_get_element(env, argv[0], i, &item);
    size_t size = 0;
    if (napi_get_value_string_utf8(env, item, nullptr, 0, &size) != napi_ok) {
      return throwError(env, "preload(paths): paths must be an array of strings");
    }
    std::string path(size, '\0');
    napi_get_value_string_utf8(env, item, path.data(), size + 1, &size);
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char* why = dlerror();
      return throwError(env, why != nullptr ? std::string(why) : "dlopen failed: " + path);
    }
  }
  return nullptr;
}

napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "preload", NAPI_AUTO_LENGTH, preload, nullptr, &fn);
  napi_set_named_property(env, exports, "preload", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(stcn_loader, init)
