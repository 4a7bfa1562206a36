"""The PyTorch side of bench_train_step: the same U-Net, batch and loss.

    /usr/bin/python3 bench/torch_train_step.py [--size full|small|both]
                                               [--steps S] [--warmup W] [--threads T]
                                               [--quant float|fixed|bnn]

One training step = forward, loss 0.5*BCE(with logits) + 0.5*soft Dice,
backward; no optimizer. Prints lines in the same format as bench_train_step
("RESULT <size> torch s/step ... GFLOP/s ... peak_rss_MiB ..."). The FLOP
count is the same: convolutions only, 2 FLOP per MAC, training = 3x forward.
The allocator is whatever the environment set before Python started
(run.sh runs this once as is and once with MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=100000000000).

--quant fixed and bnn are fake-quant steps with the quantizers of
bench_train_step --quant (quant/quantizers/fixed.cpp, binary.cpp) as custom
autograd Functions with a straight-through backward, placed where qat places
them (experiments/training/model.h): activations after every BatchNorm,
weights in every conv but the first block's two and conv9.
"""
import argparse
import math
import os
import types
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The same PyTorch U-Net as the whole-network fixture (names, order, ReLU).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from make_unet_fixture import UNet  # noqa: E402


class FixedQ(torch.autograd.Function):
    """FIXED Q(i.f), the paper's eq. (1)-(3) as quant/quantizers/fixed.cpp:
    q = sign(x) * (min(floor|x|, 2^i - 1) + round(frac(|x|) * 2^f) / 2^f),
    round half to even; identity straight-through backward."""

    @staticmethod
    def forward(ctx, x, i, f):
        mag = x.abs()
        int_part = mag.floor()
        frac = torch.round((mag - int_part) * 2.0**f) / 2.0**f
        return torch.copysign(int_part.clamp(max=2.0**i - 1) + frac, x)

    @staticmethod
    def backward(ctx, g):
        return g, None, None


class BinaryQ(torch.autograd.Function):
    """BNN, quant/quantizers/binary.cpp: q = +H if x >= 0 else -H; clipped
    straight-through backward: g where |x| <= 1, else 0."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, scale, -scale)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1), None


def quantize_net(net, quant):
    """Puts the quantizers of `quant` (fixed: weights Q0.4, activations
    Q6.0; bnn: binary both) where qat's model.cpp puts them."""
    if quant == "fixed":
        wq = lambda w: FixedQ.apply(w, 0, 4)  # noqa: E731
        aq = lambda a: FixedQ.apply(a, 6, 0)  # noqa: E731
    else:
        def wq(w):  # BinaryConnect's H = sqrt(1.5 / (fan_in + fan_out))
            oc, c, kh, kw = w.shape
            return BinaryQ.apply(w, math.sqrt(1.5 / (c * kh * kw + oc * kh * kw)))
        aq = lambda a: BinaryQ.apply(a, 1.0)  # noqa: E731

    def conv_forward(self, x):
        return self._conv_forward(x, wq(self.weight), self.bias)

    def block_forward(self, x):
        x = aq(self.bn1(self.act(self.conv1(x))))
        return aq(self.bn2(self.act(self.conv2(x))))

    for name, m in net.named_modules():
        if isinstance(m, nn.Conv2d) and not name.startswith("conv1.") and name != "conv9":
            m.forward = types.MethodType(conv_forward, m)
        if hasattr(m, "bn1"):  # a DownConv
            m.forward = types.MethodType(block_forward, m)
    return net


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


def run(name, width, batch, size, warmup, steps, quant):
    torch.manual_seed(1)
    net = UNet(width, F.relu).train()
    if quant != "float":
        quantize_net(net, quant)
    x = torch.randn(batch, 1, size, size)
    i = torch.arange(size)
    board = (((i[:, None] // 16) + (i[None, :] // 16)) % 2).float()
    target = board.expand(batch, 1, size, size).contiguous()
    gflop = forward_flop(net, batch, size) / 1e9
    print(f"{name} {quant}: width {width}, batch {batch}, 1x{size}x{size}, "
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
    print(f"RESULT {name} torch-{quant} s/step {median:.3f} GFLOP/s "
          f"{3 * gflop / median:.1f} peak_rss_MiB {peak:.0f} "
          f"cpu_s/step {cpus[len(cpus) // 2]:.2f}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", choices=["full", "small", "both"], default="both")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quant", choices=["float", "fixed", "bnn"], default="float")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.size != "full":
        run("small", 16, 8, 128, a.warmup, a.steps, a.quant)
    if a.size != "small":
        run("full", 64, 5, 200, a.warmup, a.steps, a.quant)


if __name__ == "__main__":
    main()
