// Writing and reading HDF5 datasets and attributes: the one place the
// dataset packer, checkpoints and the integer model file do it.
#pragma once
#include <hdf5.h>

#include <functional>
#include <string>
#include <vector>

#include "data/h5.h"

namespace qat::data {

template <class T>
hid_t h5_native_type();  // float, double, uint8_t, int32_t, int64_t, uint64_t

struct DatasetLayout {
  bool chunk_per_sample = false;  // one chunk per index of the first dimension
  int deflate = 0;                // gzip level; 0: none (needs chunks)
  bool make_parents = true;       // create missing groups in path
  bool track_times = true;        // false: the same data gives the same bytes
};

// Writes dims-shaped values of T to loc:path.
template <class T>
void write_h5_dataset(hid_t loc, const std::string& path, const T* values,
                      const std::vector<hsize_t>& dims, const DatasetLayout& layout = {});

// Opens dataset loc:path (what: how errors name it) and checks that what
// the file stores can hold its shape, because HDF5 1.10.8 does not: it
// trusts the size in a compact dataset's layout message, and the size a
// chunk's filters decompress to (data/h5_chunks.h), and a file that holds
// fewer bytes makes H5Dread read past a heap buffer (found by
// fuzz_dataset_bytes). Every reader opens datasets through here.
H5Handle h5_open_dataset(hid_t loc, const std::string& path, const std::string& what);

// The shape of loc:path; throws naming file_name and path if it is missing.
std::vector<hsize_t> h5_dataset_dims(hid_t loc, const std::string& file_name,
                                     const std::string& path);
// Reads all of loc:path into out (sized by the caller from h5_dataset_dims).
template <class T>
void read_h5_dataset(hid_t loc, const std::string& path, T* out);

// An HDF5 file made in memory (the core driver, no backing file) by
// fill(file), returned as its bytes: callers write them to disk themselves,
// so that a full disk is an ordinary failed write (HDF5 1.10 crashes at exit
// after a file whose close failed; and a checked write can go to a temporary
// name and be renamed).
std::string h5_file_image(const std::function<void(hid_t file)>& fill);

void write_h5_string_attr(hid_t obj, const std::string& name, const std::string& value);
template <class T>
void write_h5_scalar_attr(hid_t obj, const std::string& name, T value);

bool h5_has_attr(hid_t obj, const std::string& name);
// A fixed-length or variable-length (h5py's str) string attribute.
std::string read_h5_string_attr(hid_t obj, const std::string& name, const std::string& where);
template <class T>
T read_h5_scalar_attr(hid_t obj, const std::string& name, const std::string& where);

}  // namespace qat::data
