// A chunked dataset's stored chunks, each sized (and decoded, where filters
// are applied) before HDF5 reads them: HDF5 1.10.8 does not check that a
// chunk the index records, or the bytes its filters decompress, have the
// chunk's size, and a file whose chunk is shorter makes H5Dread read past a
// heap buffer (found by fuzz_dataset_bytes: an unfiltered 2 x 4 x 4 uint8
// dataset whose two chunks of 16 bytes were recorded as 30 bytes in all).
// Chunks larger than their dataset, or than 256 MiB, are refused too: HDF5
// allocates a whole chunk to read one.
#pragma once
#include <hdf5.h>

#include <string>

namespace qat::data {

// Throws qat::Error naming `what` if a stored chunk of ds (chunked layout,
// creation properties dcpl) does not decode to the chunk's size through its
// filters, or if a filter is one qat does not decode (deflate, shuffle and
// fletcher32 are: what HDF5, h5py and qat's own writer use).
void check_chunks(hid_t ds, hid_t dcpl, const std::string& what);

}  // namespace qat::data
