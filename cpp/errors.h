// Engine errors: every failure the engine reports carries a stable code (surfaced to JavaScript as
// `error.code`) and a message without LibTorch's C++ backtrace.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace stcn {

enum class ErrorCode {
  ModelNotFound,   // ERR_STCN_MODEL_NOT_FOUND: the model file does not exist / cannot be read
  ModelLoad,       // ERR_STCN_MODEL_LOAD: the file is not a loadable TorchScript archive
  UnknownMethod,   // ERR_STCN_UNKNOWN_METHOD: no such method on the module
  Argument,        // ERR_STCN_ARGUMENT: wrong argument count or kind for a method / native call
  Run,             // ERR_STCN_RUN: LibTorch failed while running (dtype, shape, ...)
  Device,          // ERR_STCN_DEVICE: bad device string, or CUDA requested where unavailable
  Disposed,        // ERR_STCN_DISPOSED: the object was disposed
  Tensor,          // ERR_STCN_TENSOR: bad tensor data (shape/length/dtype mismatch)
  ModelContract,   // ERR_STCN_MODEL_CONTRACT: a model's outputs break its contract (shape, channels, dtype, NaN/Inf)
  Internal,        // ERR_STCN_INTERNAL: anything else (a bug)
};

const char* errorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Turns the exception currently being handled (call inside `catch (...)`) into an stcn::Error:
// stcn::Error passes through; c10::Error keeps its message without backtrace, reduced to the
// TorchScript interpreter's final reason; anything else becomes `fallback` with its what().
Error currentException(ErrorCode fallback, const std::string& context);

// Removes the C++ backtrace and the TorchScript "traceback" preamble from a LibTorch message.
std::string cleanTorchMessage(const std::string& message);

}  // namespace stcn
