#include "errors.h"

#include <c10/util/Exception.h>

namespace stcn {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::ModelNotFound: return "ERR_STCN_MODEL_NOT_FOUND";
    case ErrorCode::ModelLoad: return "ERR_STCN_MODEL_LOAD";
    case ErrorCode::UnknownMethod: return "ERR_STCN_UNKNOWN_METHOD";
    case ErrorCode::Argument: return "ERR_STCN_ARGUMENT";
    case ErrorCode::Run: return "ERR_STCN_RUN";
    case ErrorCode::Device: return "ERR_STCN_DEVICE";
    case ErrorCode::Disposed: return "ERR_STCN_DISPOSED";
    case ErrorCode::Tensor: return "ERR_STCN_TENSOR";
    case ErrorCode::ModelContract: return "ERR_STCN_MODEL_CONTRACT";
    case ErrorCode::Internal: return "ERR_STCN_INTERNAL";
  }
  return "ERR_STCN_INTERNAL";
}

static std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

std::string cleanTorchMessage(const std::string& message) {
  std::string text = message;
  // c10 appends "Exception raised from <fn> at <file>:<line> (most recent call first):" + frames.
  for (const char* marker : {"Exception raised from ", "\nframe #0"}) {
    const auto pos = text.find(marker);
    if (pos != std::string::npos) text = text.substr(0, pos);
  }
  // The TorchScript interpreter prefixes a script traceback; the reason is its last
  // "<Kind>Error: ..." paragraph.
  const std::string preamble = "The following operation failed in the TorchScript interpreter.";
  if (text.find(preamble) != std::string::npos) {
    const auto pos = text.rfind("Error: ");
    if (pos != std::string::npos) {
      auto lineStart = text.rfind('\n', pos);
      lineStart = lineStart == std::string::npos ? 0 : lineStart + 1;
      text = text.substr(lineStart);
    }
  }
  return trim(text);
}

Error currentException(ErrorCode fallback, const std::string& context) {
  const std::string prefix = context.empty() ? "" : context + ": ";
  try {
    throw;
  } catch (const Error& e) {
    return Error(e.code(), prefix + e.what());
  } catch (const c10::Error& e) {
    return Error(fallback, prefix + cleanTorchMessage(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return Error(fallback, prefix + cleanTorchMessage(e.what()));
  } catch (...) {
    return Error(ErrorCode::Internal, prefix + "unknown native exception");
  }
}

}  // namespace stcn
