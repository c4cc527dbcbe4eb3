#include "tensor_util.h"

#include <cstring>
#include <sstream>

#include "errors.h"

namespace stcn {

c10::ScalarType parseDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "uint8") return at::kByte;
  if (name == "int8") return at::kChar;
  if (name == "int16") return at::kShort;
  if (name == "int32") return at::kInt;
  if (name == "int64") return at::kLong;
  if (name == "bool") return at::kBool;
  throw Error(ErrorCode::Tensor, "unknown dtype \"" + name + "\"");
}

std::string dtypeName(c10::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kByte: return "uint8";
    case at::kChar: return "int8";
    case at::kShort: return "int16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kBool: return "bool";
    default: return c10::toString(type);
  }
}

std::string shapeString(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

at::Tensor tensorFromHost(const void* data, size_t bytes, const std::vector<int64_t>& shape, c10::ScalarType type) {
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(ErrorCode::Internal, "internal: negative dimension in shape " + shapeString(shape));
    numel *= d;
  }
  const size_t expected = static_cast<size_t>(numel) * c10::elementSize(type);
  if (bytes != expected) {
    throw Error(ErrorCode::Internal, "internal: data holds " + std::to_string(bytes / c10::elementSize(type)) +
                                       " elements but shape " + shapeString(shape) + " needs " +
                                       std::to_string(numel));
  }
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(type).device(at::kCPU));
  if (bytes) std::memcpy(tensor.data_ptr(), data, bytes);
  return tensor;
}

void copyToHost(const at::Tensor& tensor, void* out, size_t outBytes) {
  at::Tensor host = tensor.to(at::kCPU).contiguous();
  const size_t bytes = static_cast<size_t>(host.numel()) * host.element_size();
  if (bytes != outBytes) throw Error(ErrorCode::Internal, "copyToHost: size mismatch");
  if (bytes) std::memcpy(out, host.data_ptr(), bytes);
}

}  // namespace stcn
