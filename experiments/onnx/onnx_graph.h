// A small builder over onnx::GraphProto (Debian's libonnx-dev protobuf
// classes): constants and nodes by name, so that onnx_export.cpp reads as
// the list of ops it writes.
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qat::onnx_export {

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* g) : g_(g) {}

  // Initializers (constants); each returns its name. dims {}: a scalar.
  std::string floats(const std::string& name, const std::vector<float>& v,
                     const std::vector<int64_t>& dims);
  std::string doubles(const std::string& name, const std::vector<double>& v,
                      const std::vector<int64_t>& dims);
  std::string int8s(const std::string& name, const std::vector<int32_t>& codes,
                    const std::vector<int64_t>& dims);
  std::string uint8s(const std::string& name, const std::vector<int32_t>& codes,
                     const std::vector<int64_t>& dims);
  std::string int32s(const std::string& name, const std::vector<int32_t>& v,
                     const std::vector<int64_t>& dims);

  // A node; returns its (first) output's name, which is `out`.
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& out);
  std::string op(const std::string& op, const std::vector<std::string>& inputs,
                 const std::string& out) {
    node(op, inputs, out);
    return out;
  }

  // Graph inputs and outputs: float or int8, dims < 0 are symbolic (named).
  void input(const std::string& name, int elem_type, const std::vector<std::string>& dims);
  void output(const std::string& name, int elem_type, const std::vector<std::string>& dims);

 private:
  onnx::TensorProto* constant(const std::string& name, int elem_type,
                              const std::vector<int64_t>& dims);
  onnx::GraphProto* g_;
};

void set_int(onnx::NodeProto* n, const std::string& name, int64_t v);
void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v);
void set_string(onnx::NodeProto* n, const std::string& name, const std::string& v);

}  // namespace qat::onnx_export
