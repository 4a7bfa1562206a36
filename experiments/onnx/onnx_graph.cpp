// The graph builder; see onnx_graph.h.
#include "experiments/onnx/onnx_graph.h"

namespace qat::onnx_export {

onnx::TensorProto* GraphBuilder::constant(const std::string& name, int elem_type,
                                          const std::vector<int64_t>& dims) {
  onnx::TensorProto* t = g_->add_initializer();
  t->set_name(name);
  t->set_data_type(elem_type);
  for (int64_t d : dims) t->add_dims(d);
  return t;
}

namespace {

// t with v appended by add(t, x); returns t's name.
template <class T, class Add>
std::string filled(onnx::TensorProto* t, const std::vector<T>& v, Add add) {
  for (const T& x : v) add(t, x);
  return t->name();
}

}  // namespace

std::string GraphBuilder::floats(const std::string& name, const std::vector<float>& v,
                                 const std::vector<int64_t>& dims) {
  return filled(constant(name, onnx::TensorProto::FLOAT, dims), v,
                [](onnx::TensorProto* t, float x) { t->add_float_data(x); });
}

std::string GraphBuilder::doubles(const std::string& name, const std::vector<double>& v,
                                  const std::vector<int64_t>& dims) {
  return filled(constant(name, onnx::TensorProto::DOUBLE, dims), v,
                [](onnx::TensorProto* t, double x) { t->add_double_data(x); });
}

// int8, uint8 and int32 tensors keep their values in int32_data (onnx.proto).
std::string GraphBuilder::int8s(const std::string& name, const std::vector<int32_t>& codes,
                                const std::vector<int64_t>& dims) {
  return filled(constant(name, onnx::TensorProto::INT8, dims), codes,
                [](onnx::TensorProto* t, int32_t x) { t->add_int32_data(x); });
}

std::string GraphBuilder::uint8s(const std::string& name, const std::vector<int32_t>& codes,
                                 const std::vector<int64_t>& dims) {
  return filled(constant(name, onnx::TensorProto::UINT8, dims), codes,
                [](onnx::TensorProto* t, int32_t x) { t->add_int32_data(x); });
}

std::string GraphBuilder::int32s(const std::string& name, const std::vector<int32_t>& v,
                                 const std::vector<int64_t>& dims) {
  return filled(constant(name, onnx::TensorProto::INT32, dims), v,
                [](onnx::TensorProto* t, int32_t x) { t->add_int32_data(x); });
}

onnx::NodeProto* GraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                    const std::string& out) {
  onnx::NodeProto* n = g_->add_node();
  n->set_op_type(op);
  n->set_name(out);
  for (const std::string& in : inputs) n->add_input(in);
  n->add_output(out);
  return n;
}

namespace {

void value_info(onnx::ValueInfoProto* v, const std::string& name, int elem_type,
                const std::vector<std::string>& dims) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  for (const std::string& d : dims) {
    onnx::TensorShapeProto_Dimension* dim = t->mutable_shape()->add_dim();
    if (!d.empty() && d.find_first_not_of("0123456789") == std::string::npos)
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

}  // namespace

void GraphBuilder::input(const std::string& name, int elem_type,
                         const std::vector<std::string>& dims) {
  value_info(g_->add_input(), name, elem_type, dims);
}

void GraphBuilder::output(const std::string& name, int elem_type,
                          const std::vector<std::string>& dims) {
  value_info(g_->add_output(), name, elem_type, dims);
}

void set_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void set_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

}  // namespace qat::onnx_export
