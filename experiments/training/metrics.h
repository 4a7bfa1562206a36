// Segmentation metrics: a predicted probability map, thresholded, against a
// binary target. Plain arrays, no autograd: pass tensor.data().
//
// Letters: N images in a batch, H height, W width. Arrays are row-major
// (N,H,W); a (N,1,H,W) tensor has the same layout.
//
// Thresholding: a pixel is predicted foreground when prob >= threshold. The
// default is 0.5; the paper's released code used 0.999 (with the same >=),
// which makes every ratio below stricter on the foreground.
// Target: a uint8 pixel is foreground when nonzero, a float one when >= 0.5.
//
// All ratios are in [0, 1] (the paper prints Dice in percent: x100). A ratio
// whose denominator is 0 is 1: nothing was there to get wrong.
//   Dice        2TP / (2TP + FP + FN)   1 when prediction and target are empty
//   IoU         TP / (TP + FP + FN)     1 when both are empty
//   precision   TP / (TP + FP)          1 when nothing is predicted
//   recall      TP / (TP + FN)          1 when the target is empty
//   specificity TN / (TN + FP)          1 when the target is all foreground
//   accuracy    (TP + TN) / n           n > 0 always
//   Rand index  the fraction of the n(n-1)/2 pixel pairs on which the two
//               partitions agree (both "same class" or both "different");
//               1 when n = 1
// So an empty prediction of a non-empty target has Dice 0, IoU 0, recall 0
// and precision 1; Dice stays 2PR/(P+R) whenever TP > 0.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/check.h"  // qat::Error, thrown on bad sizes

namespace qat {

inline constexpr float kDefaultThreshold = 0.5f;

// Pixel counts of a prediction against a target.
struct Confusion {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;

  int64_t total() const { return tp + fp + fn + tn; }
  Confusion& operator+=(const Confusion& o);
  bool operator==(const Confusion&) const = default;
};

// pred, target (n): masks of 0 and 1.
Confusion confusion(const uint8_t* pred, const uint8_t* target, int64_t n);

double dice(const Confusion& c);
double iou(const Confusion& c);
double precision(const Confusion& c);
double recall(const Confusion& c);
double specificity(const Confusion& c);
double accuracy(const Confusion& c);
// Closed form from the 2x2 contingency table: agreeing pairs =
// C(n,2) + sum_ij n_ij^2 - (sum_i a_i^2 + sum_j b_j^2) / 2, with n_ij the
// table's cells and a_i, b_j its row and column sums.
double rand_index(const Confusion& c);

struct Metrics {
  double dice = 0, iou = 0, precision = 0, recall = 0, specificity = 0,
         accuracy = 0, rand_index = 0;
  static Metrics of(const Confusion& c);
};

// Masks from the inputs: pred (n) = prob >= threshold; target as above.
std::vector<uint8_t> threshold_mask(const float* prob, int64_t n, float threshold);
std::vector<uint8_t> target_mask(const float* target, int64_t n);
std::vector<uint8_t> target_mask(const uint8_t* target, int64_t n);

// mask (H,W) -> its boundary (H,W): the foreground pixels with a background
// 4-neighbour; pixels outside the image count as background, so a mask
// touching the edge has a boundary along it.
std::vector<uint8_t> boundary(const uint8_t* mask, int64_t H, int64_t W);

// Symmetric Hausdorff distance between the boundaries of two masks (H,W):
// max(max over a of min over b |a-b|, the same with a, b swapped), Euclidean,
// in pixels. 0 when both masks are empty; +infinity when exactly one is
// (no finite distance can describe a missed or an invented object).
// O(H*W): an exact Euclidean distance transform of each boundary.
double hausdorff(const uint8_t* pred, const uint8_t* target, int64_t H, int64_t W);

// Sums metrics over the batches of a validation set, in three ways that give
// different numbers, so each is named for what it averages:
//   global()         the metrics of the counts summed over every pixel of the
//                    set: each pixel weighs the same. (Its Rand index pairs
//                    pixels across images too.)
//   mean_per_image() each image's metrics, averaged: each image weighs the same.
//   mean_per_batch() the metrics of each batch's summed counts, averaged over
//                    batches: what the paper's code reported. Depends on the
//                    batch size and on how the set was cut into batches.
// Hausdorff is per image only: the mean over the images where it is finite,
// plus the count of images where it is infinite.
class MetricAccumulator {
 public:
  explicit MetricAccumulator(float threshold = kDefaultThreshold);

  // prob, target (N,H,W): one batch.
  void add(const float* prob, const float* target, int64_t N, int64_t H, int64_t W);
  void add(const float* prob, const uint8_t* target, int64_t N, int64_t H, int64_t W);

  float threshold() const { return threshold_; }
  int64_t images() const { return images_; }
  int64_t batches() const { return batches_; }
  const Confusion& counts() const { return total_; }

  // Each throws qat::Error when nothing was added yet.
  Metrics global() const;
  Metrics mean_per_image() const;
  Metrics mean_per_batch() const;
  double mean_hausdorff() const;  // 0 if no image had a finite distance
  int64_t hausdorff_infinite() const { return hausdorff_infinite_; }

 private:
  void add_masks(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& target,
                 int64_t N, int64_t H, int64_t W);

  float threshold_;
  Confusion total_;
  Metrics image_sum_, batch_sum_;
  int64_t images_ = 0, batches_ = 0;
  double hausdorff_sum_ = 0;
  int64_t hausdorff_finite_ = 0, hausdorff_infinite_ = 0;
};

}  // namespace qat
