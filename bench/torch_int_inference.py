"""The PyTorch side of bench_int_engine: float inference of the same U-Net.

    /usr/bin/python3 bench/torch_int_inference.py [--width W] [--size S]
                                                 [--reps R] [--threads T]

The U-Net of tests/make_unet_fixture.py (the whole-network fixture's, same
layer order and ReLU), eval mode, under torch.no_grad(), batch 1, input
1xSxS. Timed as bench_int_engine times qat: one warm-up, then the median of
R forwards. Prints a line "RESULT torch_float_ms <ms> threads <T>" that
bench/int_engine.sh reads.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from make_unet_fixture import UNet  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = UNet(a.width, torch.nn.functional.relu).eval()
    x = torch.rand(1, 1, a.size, a.size) * 2 - 1
    times = []
    with torch.no_grad():
        net(x)  # warm-up
        for _ in range(a.reps):
            t0 = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(f"torch {torch.__version__}: width {a.width}, 1x{a.size}x{a.size}, batch 1, "
          f"{torch.get_num_threads()} threads, eval, no_grad: "
          + " ".join(f"{t:.1f}" for t in times) + " ms", flush=True)
    print(f"RESULT torch_float_ms {times[len(times) // 2]:.1f} threads {torch.get_num_threads()}",
          flush=True)


if __name__ == "__main__":
    main()
