// The whole training path on a tiny synthetic set: the loss falls, a seed
// reproduces a run, a killed run resumes to the same weights, bad input is
// refused with a clear message.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tests/experiments/training/tiny_run.h"
#include "experiments/training/checkpoint.h"
#include "experiments/studies/histogram.h"
#include "quant/quantizers/quantize.h"
#include "experiments/training/train.h"

using namespace qat;
namespace fs = std::filesystem;

using namespace qat::testing;

TEST_CASE("train: a tiny config trains and its loss falls") {
  const Config c = tiny_config("falls");
  const TrainResult r = train(c);
  CHECK(r.epochs_done == 4);
  const auto log = read_csv(r.run_dir + "/log.csv");
  REQUIRE(log.size() == 5);
  CHECK(log[0][0] == "epoch");
  const double first = std::stod(log[1][1]), last = std::stod(log[4][1]);
  INFO("train loss epoch 1: ", first, ", epoch 4: ", last);
  CHECK(last < 0.9 * first);
  CHECK(r.last.global.dice > 0.0);
  CHECK(fs::exists(r.run_dir + "/best.h5"));
  CHECK(fs::exists(r.run_dir + "/config.yaml"));
  // the resolved config is a config again
  CHECK(load_config(r.run_dir + "/config.yaml").width == 4);
}

TEST_CASE("train: the same seed and threads give the same loss curve") {
  const TrainResult a = train(tiny_config("seed_a"));
  const TrainResult b = train(tiny_config("seed_b"));
  CHECK(without_time(read_csv(a.run_dir + "/log.csv")) ==
        without_time(read_csv(b.run_dir + "/log.csv")));
  const TrainResult d = train(tiny_config("seed_c", {"seed=8"}));
  CHECK(without_time(read_csv(a.run_dir + "/log.csv")) !=
        without_time(read_csv(d.run_dir + "/log.csv")));
}

TEST_CASE("train: a run killed mid-epoch resumes to the weights of an unbroken run") {
  const Config whole = tiny_config("unbroken", {"dropout=enable"});
  train(whole);
  const Config broken = tiny_config("killed", {"dropout=enable"});
  const std::vector<std::string> args{
      "train", kTiny, "--set", "data=" + tiny_dataset(), "--set",
      "log_output_dir=" + broken.log_output_dir, "--set", "experiment_name=killed",
      "--set", "dropout=enable"};
  // 4 steps per epoch: step 7 is in the middle of the second epoch.
  const int status = run_qat_status(args, {"QAT_FAULT_KILL_AT_STEP=7"});
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(read_checkpoint_state(broken.run_dir() + "/checkpoint.h5").epoch == 1);
  const int resumed = run_qat_status(args, {});
  REQUIRE(WIFEXITED(resumed));
  CHECK(WEXITSTATUS(resumed) == 0);
  CHECK(read_checkpoint_state(broken.run_dir() + "/checkpoint.h5").epoch == 4);
  CHECK(weights_of(broken.run_dir() + "/checkpoint.h5", broken) ==
        weights_of(whole.run_dir() + "/checkpoint.h5", whole));
  CHECK(without_time(read_csv(broken.run_dir() + "/log.csv")) ==
        without_time(read_csv(whole.run_dir() + "/log.csv")));
}

TEST_CASE("train: a run that drops to one thread on a busy machine ends with the same weights") {
  const Config quiet = tiny_config("quiet", {"adapt_threads=false"});
  train(quiet);
  const Config busy = tiny_config("busy");
  const std::string out = busy.log_output_dir + "/busy.out";
  const std::vector<std::string> args{
      "train", kTiny, "--set", "data=" + tiny_dataset(), "--set",
      "log_output_dir=" + busy.log_output_dir, "--set", "experiment_name=busy"};
  const int status = run_qat_status(args, {"QAT_FAULT_BUSY_MACHINE=1"}, out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::ifstream f(out);
  const std::string printed((std::istreambuf_iterator<char>(f)), {});
  CHECK(printed.find("machine busy") != std::string::npos);  // it did change threads
  CHECK(weights_of(busy.run_dir() + "/checkpoint.h5", busy) ==
        weights_of(quiet.run_dir() + "/checkpoint.h5", quiet));
}

TEST_CASE("train: a diverging run stops naming the step") {
  const Config c = tiny_config("nan", {"optimizer=sgd", "lr=1e30", "momentum=0", "schedule=constant"});
  CHECK_THROWS_WITH_AS(train(c), doctest::Contains("training stopped at step"), Error);
}

TEST_CASE("train: bad input is refused naming the file and key") {
  CHECK_THROWS_WITH_AS(train(tiny_config("nodata", {"data=/nonexistent.h5"})),
                       doctest::Contains("key 'data': dataset file '/nonexistent.h5' not found"),
                       Error);
  CHECK_THROWS_WITH_AS(train(tiny_config("bigcrop", {"crop=48"})),
                       doctest::Contains("key 'crop': 48 is larger than the train images"), Error);
}

TEST_CASE("checkpoints: round trip, and another architecture is refused") {
  const Config c = tiny_config("ckpt", {"num_epochs=1"});
  const TrainResult r = train(c);
  const std::string path = r.run_dir + "/checkpoint.h5";
  Model same = build_model(c);
  const TrainState s = load_checkpoint(path, *same.net, nullptr);
  CHECK(s.epoch == 1);
  CHECK(s.step == 4);
  Config wider = c;
  wider.width = 8;
  Model other = build_model(wider);
  CHECK_THROWS_WITH_AS(load_checkpoint(path, *other.net, nullptr),
                       doctest::Contains("'params/conv1.conv1.weight' has shape (4, 1, 3, 3), the "
                                         "model expects (8, 1, 3, 3)"),
                       Error);
  CHECK_THROWS_WITH_AS(load_checkpoint("/nonexistent.h5", *other.net, nullptr),
                       doctest::Contains("checkpoint not found"), Error);
  // no temporary left behind
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("train: a Q6.0/Q0.4 run logs telemetry and its weights take only Q0.4 levels") {
  const Config c = tiny_config("q64", {"quantization=FIXED", "weight_i_width=0", "weight_f_width=4",
                                       "activation_i_width=6", "activation_f_width=0",
                                       "num_epochs=2"});
  const TrainResult r = train(c);
  const auto rows = read_csv(r.run_dir + "/telemetry.csv");
  REQUIRE(rows.size() > 1);
  CHECK(rows[0][0] == "epoch");
  int weight_rows = 0, activation_rows = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i][2] == "weight") {
      ++weight_rows;
      CHECK(rows[i][3] == "Q0.4");
      CHECK(std::stoll(rows[i][6]) <= 33);  // distinct levels used
    } else {
      ++activation_rows;
      CHECK(rows[i][3] == "Q6.0");
    }
  }
  CHECK(weight_rows == 2 * 12);      // 12 quantized convs (not conv1.*, not conv9), 2 epochs
  CHECK(activation_rows == 2 * 14);  // after every BatchNorm
  // The quantized weights of the trained model lie on the Q0.4 grid.
  Model m = build_model(c);
  load_checkpoint(r.run_dir + "/checkpoint.h5", *m.net, nullptr);
  const auto grid = quant::levels(m.layers[2].weight);
  CHECK(grid.size() == 33);
  const Tensor q = quant::quantize_forward(m.layers[2].conv->weight, m.layers[2].weight).q;
  for (float v : q.to_vector())
    CHECK(std::binary_search(grid.begin(), grid.end(), v));
  // visualize: one histogram per conv
  const std::string dir = write_weight_histograms(c);
  CHECK(fs::exists(dir + "/conv2.conv1.png"));
  CHECK(fs::exists(dir + "/conv9.png"));
}

TEST_CASE("train: a split too large for memory is read sample by sample, same results") {
  const Config c = tiny_config("bigsplit", {"num_epochs=1"});
  const TrainResult r = train(c);
  const auto in_memory = load_split(c, "val");
  const auto from_file = load_split(c, "val", /*max_bytes=*/1);
  CHECK(in_memory->in_memory());
  CHECK_FALSE(from_file->in_memory());
  Model m = build_model(c);
  load_checkpoint(r.run_dir + "/checkpoint.h5", *m.net, nullptr);
  const EvalResult a = evaluate(m, in_memory->source(), c);
  const EvalResult b = evaluate(m, from_file->source(), c);
  CHECK(a.images == 4);
  CHECK(a.loss == b.loss);
  CHECK(a.global.dice == b.global.dice);
}
