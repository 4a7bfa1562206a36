"""The PyTorch side of bench_int_engine: float and int8 inference of the same U-Net.

    /usr/bin/python3 bench/torch_int_inference.py [--width W] [--size S]
                                                 [--reps R] [--threads T]
                                                 [--calibration C] [--int8-only]

The U-Net of tests/make_unet_fixture.py (the whole-network fixture's, same
layer order and ReLU), eval mode, under torch.no_grad(), batch 1, input
1xSxS. Two models:
  float  the U-Net as it is
  int8   PyTorch's own post-training int8 model of it: FX graph mode,
         prepare_fx with get_default_qconfig_mapping("onednn") (quint8
         activations, per-channel qint8 weights), C calibration images
         (uniform in [-1, 1) as the timed input), convert_fx, run on the
         onednn engine (torch.backends.quantized.engine = "onednn")
Timed as bench_int_engine times qat: one warm-up, then the median of R
forwards. Prints the int8 model's largest probability difference
(sigmoid of the logits) from the float model on the timed input, and a line
"RESULT torch_float_ms <ms> torch_int8_ms <ms> threads <T>" that
bench/int_engine.sh reads.
"""
import argparse
import os
import sys
import time

import torch
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from make_unet_fixture import UNet  # noqa: E402


def median_ms(net, x, reps):
    times = []
    with torch.no_grad():
        net(x)  # warm-up
        for _ in range(reps):
            t0 = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2], times


def int8_model(net, size, calibration):
    # PyTorch's recipe for post-training static quantization (FX graph mode)
    torch.backends.quantized.engine = "onednn"
    example = torch.rand(1, 1, size, size) * 2 - 1
    prepared = prepare_fx(net, get_default_qconfig_mapping("onednn"), (example,))
    with torch.no_grad():
        for _ in range(calibration):
            prepared(torch.rand(1, 1, size, size) * 2 - 1)
    return convert_fx(prepared).eval()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calibration", type=int, default=4)
    p.add_argument("--int8-only", action="store_true",
                   help="time the int8 model only (float_ms printed as 0)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = UNet(a.width, torch.nn.functional.relu).eval()
    x = torch.rand(1, 1, a.size, a.size) * 2 - 1
    head = (f"torch {torch.__version__}: width {a.width}, 1x{a.size}x{a.size}, batch 1, "
            f"{torch.get_num_threads()} threads, eval, no_grad")
    t_float = 0.0
    if not a.int8_only:
        t_float, times = median_ms(net, x, a.reps)
        print(f"{head}, float: " + " ".join(f"{t:.1f}" for t in times) + " ms", flush=True)
    qnet = int8_model(net, a.size, a.calibration)
    t_int8, times = median_ms(qnet, x, a.reps)
    print(f"{head}, int8 (fx, onednn, {a.calibration} calibration images): "
          + " ".join(f"{t:.1f}" for t in times) + " ms", flush=True)
    with torch.no_grad():
        diff = (torch.sigmoid(qnet(x)) - torch.sigmoid(net(x))).abs().max().item()
    print(f"int8 vs float: max probability difference {diff:.4f}", flush=True)
    print(f"RESULT torch_float_ms {t_float:.1f} torch_int8_ms {t_int8:.1f} "
          f"threads {torch.get_num_threads()}", flush=True)


if __name__ == "__main__":
    main()
