// A Module owns named parameters (trained), buffers (saved but not trained,
// e.g. BatchNorm's running statistics) and child modules, all in
// registration order, and a train/eval flag that its children follow.
// Names are dotted paths as PyTorch's state_dict: "up1.conv.bn1.weight".
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace qat {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  int64_t parameter_count() const;  // as PyTorch counts: every parameter element

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  // Both return the handle they registered: the module keeps it as a member
  // and the registry shares its data, so load in place, never reassign.
  Tensor add_parameter(const std::string& name, Tensor t);
  Tensor add_buffer(const std::string& name, Tensor t);
  template <class M>
  M& add_module(const std::string& name, M& child) {
    children_.emplace_back(name, &child);
    return child;
  }

 private:
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;

  bool training_ = true;
  NamedTensors parameters_, buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
};

}  // namespace qat
