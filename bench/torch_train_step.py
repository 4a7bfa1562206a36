"""The PyTorch side of bench_train_step: the same U-Net, batch and loss.

    /usr/bin/python3 bench/torch_train_step.py [--size full|small|both]
                                               [--steps S] [--warmup W] [--threads T]

One training step = forward, loss 0.5*BCE(with logits) + 0.5*soft Dice,
backward; no optimizer. Prints lines in the same format as bench_train_step
("RESULT <size> torch s/step ... GFLOP/s ... peak_rss_MiB ..."). The FLOP
count is the same: convolutions only, 2 FLOP per MAC, training = 3x forward.
The allocator is whatever the environment set before Python started
(run.sh runs this once as is and once with MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=100000000000).
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The same PyTorch U-Net as the whole-network fixture (names, order, ReLU).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from make_unet_fixture import UNet  # noqa: E402


def forward_flop(net, batch, size):
    scale = {"conv1": 1, "conv2": 2, "conv3": 4, "conv4": 8,
             "up1": 4, "up2": 2, "up3": 1, "conv9": 1}
    flop = 0.0
    for name, m in net.named_modules():
        if isinstance(m, nn.Conv2d):
            hw = size // scale[name.split(".")[0]]
            flop += 2.0 * batch * m.weight.numel() * hw * hw
    return flop


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def soft_dice(prob, target, eps=1e-4):
    return 1 - (2 * (prob * target).sum() + eps) / (prob.sum() + target.sum() + eps)


def run(name, width, batch, size, warmup, steps):
    torch.manual_seed(1)
    net = UNet(width, F.relu).train()
    x = torch.randn(batch, 1, size, size)
    i = torch.arange(size)
    board = (((i[:, None] // 16) + (i[None, :] // 16)) % 2).float()
    target = board.expand(batch, 1, size, size).contiguous()
    gflop = forward_flop(net, batch, size) / 1e9
    print(f"{name}: width {width}, batch {batch}, 1x{size}x{size}, "
          f"{torch.get_num_threads()} threads, forward {gflop:.1f} GFLOP, "
          f"training 3x = {3 * gflop:.1f} GFLOP", flush=True)
    times, cpus = [], []
    for s in range(warmup + steps):
        net.zero_grad(set_to_none=True)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        logits = net(x)
        loss = 0.5 * F.binary_cross_entropy_with_logits(logits, target) + \
            0.5 * soft_dice(torch.sigmoid(logits), target)
        loss.backward()
        sec = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        kind = "warm-up" if s < warmup else "step"
        print(f"  {kind} {s if s < warmup else s - warmup}: {sec:.3f} s (cpu {cpu:.2f} s), "
              f"loss {loss.item():.5f}, RSS {rss_mib():.0f} MiB", flush=True)
        if s >= warmup:
            times.append(sec)
            cpus.append(cpu)
    times.sort()
    cpus.sort()
    median = times[len(times) // 2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {name} torch s/step {median:.3f} GFLOP/s "
          f"{3 * gflop / median:.1f} peak_rss_MiB {peak:.0f} "
          f"cpu_s/step {cpus[len(cpus) // 2]:.2f}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", choices=["full", "small", "both"], default="both")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.size != "full":
        run("small", 16, 8, 128, a.warmup, a.steps)
    if a.size != "small":
        run("full", 64, 5, 200, a.warmup, a.steps)


if __name__ == "__main__":
    main()
