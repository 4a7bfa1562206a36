// `qat report` at the paper's width gives the paper's size column.
#include <doctest/doctest.h>

#include <cstdio>

#include "experiments/studies/report.h"

using namespace qat;

namespace {
std::string two_decimals(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

ModelReport paper_row(const std::string& quantization, int wi, int wf, int ai, int af) {
  Config c;
  c.width = 64;
  c.crop = 200;
  c.quantization = quantization;
  c.weight_i_width = wi, c.weight_f_width = wf;
  c.activation_i_width = ai, c.activation_f_width = af;
  Model m = build_model(c);
  return make_report(c, m, false);
}
}  // namespace

TEST_CASE("report: the paper's model sizes at width 64") {
  CHECK(two_decimals(paper_row("Normal", 0, 0, 0, 0).paper_mib) == "18.45");  // paper: 18.48
  CHECK(two_decimals(paper_row("FIXED", 8, 8, 8, 8).paper_mib) == "9.23");
  CHECK(two_decimals(paper_row("FIXED", 0, 8, 8, 0).paper_mib) == "4.61");
  CHECK(two_decimals(paper_row("FIXED", 0, 4, 6, 0).paper_mib) == "2.31");
  CHECK(two_decimals(paper_row("FIXED", 0, 2, 4, 0).paper_mib) == "1.15");
  CHECK(two_decimals(paper_row("BNN", 0, 0, 0, 0).paper_mib) == "0.58");  // paper: 0.56
  CHECK(two_decimals(paper_row("Ternary", 0, 0, 0, 0).paper_mib) == "1.15");
}

TEST_CASE("report: per-layer formats, honest size above the paper's, levels") {
  const ModelReport r = paper_row("FIXED", 0, 4, 6, 0);
  CHECK(r.parameters == 4837249);
  REQUIRE(r.layers.size() == 15);
  CHECK(r.layers[0].record.weight.format == quant::Format::None);  // first block full precision
  CHECK(r.layers[2].record.weight.name() == "Q0.4");
  CHECK(r.layers[2].levels_allowed == 33);
  CHECK(r.layers[2].record.activation.name() == "Q6.0");  // reads conv1.conv2's output
  CHECK(r.layers[0].record.activation.format == quant::Format::None);  // the float image
  CHECK(r.honest_mib > r.paper_mib);
  CHECK(r.energy_uj < paper_row("Normal", 0, 0, 0, 0).energy_uj);
  const std::string text = format_report(r);
  CHECK(text.find("2.31 MB") != std::string::npos);
  CHECK(text.find("up3.conv.conv2") != std::string::npos);
}
