// The paper's U-Net written down once (SPEC.md "The network"): its blocks in
// forward order, what each reads, and where the skips join. The training
// model (layers/unet.h), the exporter, the integer engine and the tests all
// read this table; none spells the wiring out again. Plain data, no
// dependencies, so that the integer runtime can use it without layers/.
//
//   conv1 ─pool─ conv2 ─pool─ conv3 ─pool─ conv4
//     │            │            │            │
//     │            │            └──── up1 ◄──┘   up(conv4) ++ conv3
//     │            └───────────── up2 ◄┘         up(up1)   ++ conv2
//     └───────────────────── up3 ◄┘              up(up2)   ++ conv1
//                             └─ conv9 -> logits (1 channel)
//
// Each block is conv3x3 -> act -> BN [-> dropout] -> quantizer, twice; its
// convs are "<block>.conv1" and "<block>.conv2".
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qat::topology {

enum class Join {
  Image,     // the network's input
  Pooled,    // max_pool2d 2x2 of the previous block's output
  UpConcat,  // [bilinear x2 of the previous block's output, skip block's output]
};

struct Block {
  std::string_view name;  // module name: "conv1" .. "conv4", "up1.conv" .. "up3.conv"
  Join join;
  std::string_view skip;  // UpConcat only: the block whose output joins
  // Channels in units of the base width w; 0 in `in` means the image's.
  int64_t in, out;
};

inline constexpr std::array<Block, 7> kBlocks{{
    {"conv1", Join::Image, "", 0, 1},
    {"conv2", Join::Pooled, "", 1, 2},
    {"conv3", Join::Pooled, "", 2, 4},
    {"conv4", Join::Pooled, "", 4, 4},
    {"up1.conv", Join::UpConcat, "conv3", 8, 4},
    {"up2.conv", Join::UpConcat, "conv2", 6, 2},
    {"up3.conv", Join::UpConcat, "conv1", 3, 1},
}};
// The last conv reads the last block; its output is the logits.
inline constexpr std::string_view kHead = "conv9";
inline constexpr int64_t kHeadChannels = 1;
// Three poolings: H and W must be multiples of 2^3.
inline constexpr int64_t kSizeMultiple = 8;

// The block's two convs: "<block>.conv1", "<block>.conv2".
inline std::string conv_name(const Block& b, int which) {
  return std::string(b.name) + (which == 1 ? ".conv1" : ".conv2");
}

// Index in kBlocks of the block called name; -1 if there is none.
inline int block_index(std::string_view name) {
  for (size_t i = 0; i < kBlocks.size(); ++i)
    if (kBlocks[i].name == name) return int(i);
  return -1;
}

// Does a later block read this block's output through a skip?
inline bool feeds_skip(std::string_view name) {
  for (const Block& b : kBlocks)
    if (b.join == Join::UpConcat && b.skip == name) return true;
  return false;
}

// Every conv in forward order, the head last.
inline std::vector<std::string> conv_names() {
  std::vector<std::string> out;
  for (const Block& b : kBlocks) out.push_back(conv_name(b, 1)), out.push_back(conv_name(b, 2));
  out.emplace_back(kHead);
  return out;
}

}  // namespace qat::topology
