#include "experiments/training/checkpoint.h"

#include <cmath>
#include <filesystem>

#include "data/h5.h"
#include "data/h5_io.h"
#include "experiments/training/train.h"

namespace qat {
namespace {

using data::h5_check;
using data::H5Handle;

constexpr const char* kFormat = "qat-checkpoint-1";

void write_tensor(hid_t file, const std::string& path, const Tensor& t) {
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  data::write_h5_dataset(file, path, t.data(), dims);
}

// Reads dataset `path` into `out`, whose size and shape must match.
void read_into(hid_t file, const std::string& file_name, const std::string& path,
               float* out, const Shape& expected) {
  if (H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0)
    throw Error(file_name + ": dataset '" + path + "' is missing (expected shape " +
                to_string(expected) + "): a checkpoint from a different architecture?");
  H5Handle ds = data::h5_open_dataset(file, path, file_name + ":" + path);
  H5Handle space = data::h5_space(H5Dget_space(ds), "read the shape of " + path);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  const Shape found(dims.begin(), dims.end());
  if (found != expected)
    throw Error(file_name + ": '" + path + "' has shape " + to_string(found) +
                ", the model expects " + to_string(expected) +
                ": a checkpoint from a different architecture (width?)");
  h5_check(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "read " + path);
  // Training stops at the first non-finite loss, so no run saves one.
  const int64_t n = numel(expected);
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(out[i]))
      throw Error(file_name + ": '" + path + "' holds " + std::to_string(out[i]) + " at " +
                  std::to_string(i) + ", expected finite values");
}

// An optimizer buffer's name below its slot: the parameter's index.
size_t parameter_index(const std::string& file_name, const std::string& slot,
                       const std::string& name) {
  if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos)
    throw Error(file_name + ": optimizer buffer '" + slot + "/" + name +
                "': expected a parameter index");
  return std::stoul(name);
}

// A checkpoint's attributes: missing ones name the file and say what it
// probably is not.
template <class T>
T get_attr(hid_t obj, const std::string& file_name, const char* name) {
  return data::read_h5_scalar_attr<T>(obj, name, file_name + " (not a qat checkpoint?)");
}
std::string get_string_attr(hid_t obj, const std::string& file_name, const char* name) {
  return data::read_h5_string_attr(obj, name, file_name + " (not a qat checkpoint?)");
}

H5Handle open_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": checkpoint not found");
  H5Handle f = data::h5_file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                             "open checkpoint " + path + " (not an HDF5 file?)");
  const std::string format = get_string_attr(f, path, "format");
  if (format != kFormat)
    throw Error(path + ": format '" + format + "', expected '" + kFormat + "'");
  return f;
}

TrainState read_state(hid_t f, const std::string& path) {
  TrainState s;
  s.epoch = get_attr<int64_t>(f, path, "epoch");
  s.step = get_attr<int64_t>(f, path, "step");
  s.best_score = get_attr<double>(f, path, "best_score");
  s.best_epoch = get_attr<int64_t>(f, path, "best_epoch");
  s.config_yaml = get_string_attr(f, path, "config");
  if (H5Aexists(f, "provenance") > 0) s.provenance_yaml = get_string_attr(f, path, "provenance");
  return s;
}

// The whole checkpoint into `f`.
void fill_checkpoint(hid_t f, const UNet& net, const Optimizer* optimizer,
                     const TrainState& state) {
  data::write_h5_string_attr(f, "format", kFormat);
  data::write_h5_scalar_attr<int64_t>(f, "epoch", state.epoch);
  data::write_h5_scalar_attr<int64_t>(f, "step", state.step);
  data::write_h5_scalar_attr<double>(f, "best_score", state.best_score);
  data::write_h5_scalar_attr<int64_t>(f, "best_epoch", state.best_epoch);
  data::write_h5_string_attr(f, "config", state.config_yaml);
  if (!state.provenance_yaml.empty())
    data::write_h5_string_attr(f, "provenance", state.provenance_yaml);
  for (const auto& [name, t] : net.named_parameters()) write_tensor(f, "params/" + name, t);
  for (const auto& [name, t] : net.named_buffers()) write_tensor(f, "buffers/" + name, t);
  const auto& rng = net.rng.state();
  data::write_h5_dataset(f, "rng", rng.data(), {hsize_t(rng.size())});
  if (!optimizer) return;
  const OptimizerState s = optimizer->state();
  H5Handle g = data::h5_group(H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                              "create group optimizer");
  data::write_h5_string_attr(g, "kind", s.kind);
  data::write_h5_scalar_attr<float>(g, "lr", s.lr);
  data::write_h5_scalar_attr<int64_t>(g, "steps", s.steps);
  data::write_h5_dataset(f, "optimizer/param_steps", s.param_steps.data(),
                         {hsize_t(s.param_steps.size())});
  for (const auto& [name, values] : s.buffers)
    data::write_h5_dataset(f, "optimizer/" + name, values.data(), {hsize_t(values.size())});
}

}  // namespace

// Made in memory, then written to <path>.tmp and renamed (train.h
// write_file_atomic): a full disk or a file-size limit is one failed write,
// and the previous checkpoint at path stays as it was.
void save_checkpoint(const std::string& path, const UNet& net, const Optimizer* optimizer,
                     const TrainState& state) {
  write_file_atomic(path, data::h5_file_image([&](hid_t f) {
    fill_checkpoint(f, net, optimizer, state);
  }));
}

TrainState read_checkpoint_state(const std::string& path) {
  H5Handle f = open_checkpoint(path);
  return read_state(f, path);
}

TrainState load_checkpoint(const std::string& path, UNet& net, Optimizer* optimizer) {
  H5Handle f = open_checkpoint(path);
  TrainState state = read_state(f, path);
  for (const auto& [name, t] : net.named_parameters())
    read_into(f, path, "params/" + name, t.data(), t.shape());
  for (const auto& [name, t] : net.named_buffers())
    read_into(f, path, "buffers/" + name, t.data(), t.shape());
  {
    Rng::State rng{};
    if (data::h5_dataset_dims(f, path, "rng") != std::vector<hsize_t>{rng.size()})
      throw Error(path + ": dataset 'rng' is not " + std::to_string(rng.size()) +
                  " numbers (the dropout generator's state): not a qat checkpoint?");
    H5Handle ds = data::h5_open_dataset(f, "rng", path + ":rng");
    h5_check(H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, rng.data()),
             "read rng in " + path);
    net.rng.set_state(rng);
  }
  if (optimizer) {
    if (H5Lexists(f, "optimizer", H5P_DEFAULT) <= 0)
      throw Error(path + ": no optimizer state (a model exported without it?)");
    H5Handle g = data::h5_group(H5Gopen2(f, "optimizer", H5P_DEFAULT), "open optimizer");
    OptimizerState s;
    s.kind = get_string_attr(g, path, "kind");
    s.lr = get_attr<float>(g, path, "lr");
    s.steps = get_attr<int64_t>(g, path, "steps");
    s.param_steps.resize(optimizer->params().size());
    {
      H5Handle ds = data::h5_open_dataset(f, "optimizer/param_steps", path + ":optimizer/param_steps");
      H5Handle space = data::h5_space(H5Dget_space(ds), "read a shape");
      if (H5Sget_simple_extent_npoints(space) != hssize_t(s.param_steps.size()))
        throw Error(path + ": optimizer state for " +
                    std::to_string(H5Sget_simple_extent_npoints(space)) +
                    " parameters, the model has " + std::to_string(s.param_steps.size()));
      h5_check(H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.param_steps.data()),
               "read optimizer/param_steps");
    }
    // Slots are groups of datasets named by parameter index.
    H5G_info_t info;
    h5_check(H5Gget_info(g, &info), "list optimizer");
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      char slot[256];
      H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, slot, sizeof slot, H5P_DEFAULT);
      if (std::string(slot) == "param_steps") continue;
      H5Handle sg = data::h5_group(H5Gopen2(g, slot, H5P_DEFAULT), std::string("open optimizer/") + slot);
      H5G_info_t sinfo;
      h5_check(H5Gget_info(sg, &sinfo), "list a slot");
      for (hsize_t j = 0; j < sinfo.nlinks; ++j) {
        char index[64];
        H5Lget_name_by_idx(sg, ".", H5_INDEX_NAME, H5_ITER_INC, j, index, sizeof index, H5P_DEFAULT);
        const std::string name = std::string(slot) + "/" + index;
        const size_t p = parameter_index(path, slot, index);
        if (p >= optimizer->params().size())
          throw Error(path + ": optimizer buffer '" + name + "' for a parameter the model lacks");
        std::vector<float> values(size_t(optimizer->params()[p].numel()));
        read_into(f, path, "optimizer/" + name, values.data(), Shape{int64_t(values.size())});
        s.buffers.emplace_back(name, std::move(values));
      }
    }
    optimizer->load_state(s);
  }
  return state;
}

}  // namespace qat
