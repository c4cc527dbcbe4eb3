// Tensors to and from plain host memory. Everything here copies: JavaScript never holds a pointer
// into memory that LibTorch owns, and LibTorch never keeps a pointer into JavaScript memory.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace stcn {

// "float32" <-> at::kFloat etc. Names: float32 float64 float16 bfloat16 uint8 int8 int16 int32 int64 bool.
c10::ScalarType parseDtype(const std::string& name);
std::string dtypeName(c10::ScalarType type);

// A new contiguous CPU tensor holding a copy of `bytes` (checked against shape x element size).
at::Tensor tensorFromHost(const void* data, size_t bytes, const std::vector<int64_t>& shape, c10::ScalarType type);

// Copies `tensor` (any device, any layout) into `out`, which must hold tensor.numel() elements of
// the tensor's element size.
void copyToHost(const at::Tensor& tensor, void* out, size_t outBytes);

std::string shapeString(at::IntArrayRef shape);

}  // namespace stcn
