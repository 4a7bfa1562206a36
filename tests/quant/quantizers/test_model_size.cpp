// Size and energy arithmetic: the paper's size column exactly, the honest
// size and the energy on hand-computed cases.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "quant/quantizers/model_size.h"

using namespace qat::quant;

namespace {

std::string two_decimals(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// The paper's U-Net (SPEC.md) on a 200x200 input: DownConv = two 3x3 convs
// with bias, each followed by a BatchNorm (gamma, beta); the first block and
// the last conv stay full precision.
std::vector<LayerRecord> unet_records(const QuantSpec& w, const QuantSpec& a) {
  std::vector<LayerRecord> layers;
  auto conv = [&](const std::string& name, int64_t in, int64_t out, int64_t side, bool bn,
                  bool full) {
    LayerRecord l;
    l.name = name;
    l.weights = out * in * 9;
    l.biases = out;
    l.out_channels = out;
    l.bn_params = bn ? 2 * out : 0;
    l.macs = l.weights * side * side;
    l.weight = w;
    l.activation = a;
    l.full_precision = full;
    layers.push_back(l);
  };
  auto block = [&](const std::string& name, int64_t in, int64_t out, int64_t side, bool full) {
    conv(name + ".conv1", in, out, side, true, full);
    conv(name + ".conv2", out, out, side, true, full);
  };
  block("conv1", 1, 64, 200, true);
  block("conv2", 64, 128, 100, false);
  block("conv3", 128, 256, 50, false);
  block("conv4", 256, 256, 25, false);
  block("up1", 512, 256, 50, false);
  block("up2", 384, 128, 100, false);
  block("up3", 192, 64, 200, false);
  conv("conv9", 64, 1, 200, false, true);
  return layers;
}

}  // namespace

TEST_CASE("paper size column: 4,837,249 parameters at one width") {
  const int64_t params = 4837249;
  CHECK(two_decimals(paper_size_mib(params, 16)) == "9.23");
  CHECK(two_decimals(paper_size_mib(params, 8)) == "4.61");
  CHECK(two_decimals(paper_size_mib(params, 4)) == "2.31");
  CHECK(two_decimals(paper_size_mib(params, 2)) == "1.15");
  CHECK(two_decimals(paper_size_mib(params, 32)) == "18.45");  // paper: 18.48
  CHECK(two_decimals(paper_size_mib(params, 1)) == "0.58");    // paper: 0.56
  // The U-Net of SPEC.md has exactly that many, and the rows' bit widths
  // come from the weight format's i + f.
  const auto layers = unet_records(make_spec(Format::Fixed, 0, 8), make_spec(Format::Fixed, 8, 0));
  CHECK(parameter_count(layers) == params);
  CHECK(two_decimals(paper_size_mib(layers, make_spec(Format::Fixed, 8, 8).paper_bits())) == "9.23");
  CHECK(two_decimals(paper_size_mib(layers, make_spec(Format::Fixed, 0, 8).paper_bits())) == "4.61");
  CHECK(two_decimals(paper_size_mib(layers, make_spec(Format::Fixed, 0, 4).paper_bits())) == "2.31");
  CHECK(two_decimals(paper_size_mib(layers, make_spec(Format::Fixed, 0, 2).paper_bits())) == "1.15");
  CHECK(two_decimals(paper_size_mib(layers, make_spec(Format::Ternary).paper_bits())) == "1.15");
  CHECK(two_decimals(paper_size_mib(layers, make_spec(Format::Binary).paper_bits())) == "0.58");
}

TEST_CASE("honest size of the U-Net: quantized weights at storage bits, the rest float32") {
  // 4,792,320 weights are quantized (every conv but conv1.* and conv9); the
  // other 44,929 parameters (those weights, all biases, all BatchNorm) are
  // 32-bit. Q0.8 sign-magnitude: 9 bits.
  const QuantSpec a = make_spec(Format::Fixed, 8, 0);
  const double q08 = (4792320.0 * 9 + 44929.0 * 32) / 8 / 1048576;
  CHECK(honest_size_mib(unet_records(make_spec(Format::Fixed, 0, 8), a)) == doctest::Approx(q08));
  CHECK(two_decimals(q08) == "5.31");
  const double q04 = (4792320.0 * 5 + 44929.0 * 32) / 8 / 1048576;
  CHECK(honest_size_mib(unet_records(make_spec(Format::Fixed, 0, 4), a)) == doctest::Approx(q04));
  // ternary: 2 bits, plus one float alpha for each of 2,176 quantized channels
  const double tern = (4792320.0 * 2 + 44929.0 * 32 + 2176.0 * 32) / 8 / 1048576;
  CHECK(honest_size_mib(unet_records(make_spec(Format::Ternary), a)) == doctest::Approx(tern));
  CHECK(honest_size_mib(unet_records(make_spec(Format::None), make_spec(Format::None))) ==
        doctest::Approx(4837249.0 * 4 / 1048576));
}

TEST_CASE("energy: the Horowitz table, costed at the wider format") {
  LayerRecord fp;  // kept full precision whatever its specs
  fp.weights = 100, fp.biases = 10, fp.bn_params = 20, fp.macs = 1000;
  fp.weight = make_spec(Format::Fixed, 0, 2);
  fp.activation = make_spec(Format::Fixed, 4, 0);
  fp.full_precision = true;
  LayerRecord tern;  // ternary weights x Q6.0 (7 bits) -> int8
  tern.weights = 1000, tern.biases = 10, tern.out_channels = 10, tern.bn_params = 20;
  tern.macs = 5000;
  tern.weight = make_spec(Format::Ternary);
  tern.activation = make_spec(Format::Fixed, 6, 0);
  LayerRecord bin;  // binary x binary -> int8 (an upper bound)
  bin.weights = 64, bin.macs = 640;
  bin.weight = bin.activation = make_spec(Format::Binary);
  LayerRecord q8;  // sign-magnitude Q0.8 (9 bits) x Q8.0 (9 bits) -> int32
  q8.weights = 8, q8.macs = 100;
  q8.weight = make_spec(Format::Fixed, 0, 8);
  q8.activation = make_spec(Format::Fixed, 8, 0);
  LayerRecord twos;  // two's complement Q8.0 x Q1.7: 8 bits -> int8
  twos.macs = 100;
  twos.weight = make_twos_spec(1, 7, true);
  twos.activation = make_twos_spec(8, 0, true);
  LayerRecord q88;  // Q8.8 (17 bits) -> int32
  q88.macs = 10;
  q88.weight = q88.activation = make_spec(Format::Fixed, 8, 8);
  LayerRecord flt;  // float weights -> fp32
  flt.macs = 10;
  flt.weight = make_spec(Format::None);
  flt.activation = make_spec(Format::Int, 8, 0);

  CHECK(energy_class(fp) == EnergyClass::Fp32);
  CHECK(energy_class(tern) == EnergyClass::Int8);
  CHECK(energy_class(bin) == EnergyClass::Int8);
  CHECK(energy_class(q8) == EnergyClass::Int32);
  CHECK(energy_class(twos) == EnergyClass::Int8);
  CHECK(energy_class(q88) == EnergyClass::Int32);
  CHECK(energy_class(flt) == EnergyClass::Fp32);
  CHECK(std::string(energy_class_name(EnergyClass::Fp16)) == "fp16");
  CHECK(op_energy(EnergyClass::Fp16).mul_pj == 1.1);
  CHECK(op_energy(EnergyClass::Fp16).add_pj == 0.4);

  CHECK(layer_energy_pj(fp) == doctest::Approx(1000 * (3.7 + 0.9)));
  CHECK(layer_energy_pj(tern) == doctest::Approx(5000 * (0.2 + 0.03)));
  CHECK(layer_energy_pj(q8) == doctest::Approx(100 * (3.1 + 0.1)));
  const std::vector<LayerRecord> net{fp, tern, bin, q8, twos, q88, flt};
  CHECK(energy_pj(net) == doctest::Approx(4600 + 1150 + 147.2 + 320 + 23 + 32 + 46));
  // bits: fp 130*32; tern 1000*2 + 30*32 + 10 alphas*32; bin 64*1 + H;
  // q8 8*9; the others have no parameters
  CHECK(honest_size_mib(net) ==
        doctest::Approx((4160.0 + 3280.0 + 96.0 + 72.0) / 8 / 1048576));
}
