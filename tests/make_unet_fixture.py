#!/usr/bin/python3
"""Dump one training step of a width-4 U-Net from PyTorch, for
tests/network/test_unet_vs_pytorch.cpp to compare qat against.

Run by hand with Debian's PyTorch (python3-torch, python3-h5py):

    /usr/bin/python3 tests/make_unet_fixture.py

It writes tests/fixtures/unet_w4.h5 (ReLU everywhere) and
tests/fixtures/unet_w4_ttanh.h5 (ternary tanh, beta 3, conv1 keeps ReLU).
The network is the paper's (SPEC.md "The network"): activation BEFORE
BatchNorm, bilinear x2 upsampling with align_corners=False, concatenation
[up, skip]. Module names are chosen so that state_dict names equal qat's
(layers/unet.h).

The reference is computed in float64 from float32 parameters and input:
every stored tensor is float32, but the logits, loss, gradients and running
statistics are the exact answer for those float32 values, so any
difference the C++ test sees is qat's own rounding (or a bug), not torch's.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from h5py import h5f, h5g, h5p

WIDTH = 4
BATCH, SIZE = 2, 32
BETA = 3.0
SEED = 2019  # the paper's year; any fixed value does
HERE = os.path.dirname(os.path.abspath(__file__))
COMMAND = "/usr/bin/python3 tests/make_unet_fixture.py"


def ternary_tanh(x, beta):
    # SPEC.md: a smooth step towards {-1, 0, 1}.
    return 0.5 * torch.tanh(2 * beta * x - beta) - 0.5 * torch.tanh(-2 * beta * x - beta)


class DownConv(nn.Module):
    # conv3x3 -> act -> BatchNorm, twice. Registration order conv1, bn1,
    # conv2, bn2 matches qat's DownConv, so the state_dicts list alike.
    def __init__(self, cin, cout, act):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5)
        self.act = act

    def forward(self, x):
        x = self.bn1(self.act(self.conv1(x)))
        return self.bn2(self.act(self.conv2(x)))


class UpConv(nn.Module):
    def __init__(self, cin, cout, act):
        super().__init__()
        self.conv = DownConv(cin, cout, act)

    def forward(self, x, skip):
        up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.conv(torch.cat([up, skip], 1))


class UNet(nn.Module):
    def __init__(self, w, act):
        super().__init__()
        relu = F.relu
        self.conv1 = DownConv(1, w, relu)  # the first block keeps ReLU
        self.conv2 = DownConv(w, 2 * w, act)
        self.conv3 = DownConv(2 * w, 4 * w, act)
        self.conv4 = DownConv(4 * w, 4 * w, act)
        self.up1 = UpConv(8 * w, 4 * w, act)
        self.up2 = UpConv(6 * w, 2 * w, act)
        self.up3 = UpConv(3 * w, w, act)
        self.conv9 = nn.Conv2d(w, 1, 3, padding=1)

    def forward(self, x):
        x1 = self.conv1(x)
        x2 = self.conv2(F.max_pool2d(x1, 2))
        x3 = self.conv3(F.max_pool2d(x2, 2))
        x4 = self.conv4(F.max_pool2d(x3, 2))
        y = self.up1(x4, x3)
        y = self.up2(y, x2)
        y = self.up3(y, x1)
        return self.conv9(y)


def short_float32(t):
    # Round to float32 with the last 8 mantissa bits zero (16 significant
    # bits), so that gzip can keep the file under 200 KB. The values stay
    # generic reals for the network: every product is still a float32 one.
    u = t.detach().float().numpy().view(np.uint32).astype(np.uint64)
    u = ((u + 0x80) >> 8) << 8
    return torch.from_numpy(u.astype(np.uint32).view(np.float32).copy()).double()


def init_parameters(net, gen):
    # Glorot-uniform conv weights as the paper; every bias and BN affine
    # non-zero and away from its default, so a gradient or forward that
    # ignores one of them shows up.
    for name, p in net.named_parameters():
        with torch.no_grad():
            if name.endswith("conv1.weight") or name.endswith("conv2.weight") or name == "conv9.weight":
                bound = (6.0 / (p.shape[0] * 9 + p.shape[1] * 9)) ** 0.5
                p.copy_((torch.rand(p.shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
            elif ".bn" in name and name.endswith(".weight"):
                p.copy_(1.0 + (torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.5) * 0.4)
            else:  # conv and BN biases
                p.copy_((torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.5) * 0.2)
            # The file stores float32 and qat starts from it.
            p.copy_(short_float32(p))


def untimed(kind):
    plist = h5p.create(kind)
    plist.set_obj_track_times(False)
    return plist


def create_h5(path):
    # HDF5 1.10's newest format (smaller headers; shuffle+gzip read
    # transparently by the C API) and no timestamps on groups, so that the
    # same script writes the same bytes: a regenerated fixture shows no diff.
    fapl = h5p.create(h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5f.LIBVER_LATEST, h5f.LIBVER_LATEST)
    fid = h5f.create(path.encode(), h5f.ACC_TRUNC, fcpl=untimed(h5p.FILE_CREATE), fapl=fapl)
    return h5py.File(fid)


def make(path, act, description):
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    net = UNet(WIDTH, act).double().train()
    init_parameters(net, gen)
    params = {n: p.detach().float().numpy().copy() for n, p in net.named_parameters()}

    x = torch.randn(BATCH, 1, SIZE, SIZE, generator=gen, dtype=torch.float64)
    x = short_float32(x)
    # A blob-like binary target: thresholded smooth noise, about half ones.
    noise = torch.randn(BATCH, 1, SIZE // 4, SIZE // 4, generator=gen, dtype=torch.float64)
    target = (F.interpolate(noise, scale_factor=4, mode="bilinear", align_corners=False) > 0).double()

    logits = net(x)
    prob = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target)
    eps = 1e-4
    dice = 1 - (2 * (prob * target).sum() + eps) / (prob.sum() + target.sum() + eps)
    loss = 0.5 * bce + 0.5 * dice
    loss.backward()

    f32 = lambda t: t.detach().float().numpy()
    packed = dict(compression="gzip", compression_opts=9, shuffle=True)
    with create_h5(path) as f:
        for group in ("params", "grads", "buffers"):
            h5g.create(f.id, group.encode(), gcpl=untimed(h5p.GROUP_CREATE))
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["command"] = COMMAND
        f.attrs["description"] = description
        f.attrs["width"] = WIDTH
        f.attrs["beta"] = BETA
        f.create_dataset("input", data=f32(x), **packed)
        f.create_dataset("target", data=f32(target), **packed)
        f.create_dataset("logits", data=f32(logits), **packed)
        f.create_dataset("loss", data=np.float32(loss.item()))
        f.attrs["parameter_order"] = ",".join(params)  # state_dict order
        for n, p in net.named_parameters():
            f.create_dataset("params/" + n, data=params[n], **packed)
            f.create_dataset("grads/" + n, data=f32(p.grad), **packed)
        for n, b in net.named_buffers():
            if n.endswith("num_batches_tracked"):
                continue  # qat keeps no batch counter
            f.create_dataset("buffers/" + n, data=f32(b), **packed)
    print(f"{path}: loss {loss.item():.6f} (bce {bce.item():.6f}, dice {dice.item():.6f}), "
          f"{sum(p.numel() for p in net.parameters())} parameters, "
          f"{os.path.getsize(path)} bytes")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = os.path.join(HERE, "fixtures")
    os.makedirs(out, exist_ok=True)
    make(os.path.join(out, "unet_w4.h5"), F.relu,
         "width-4 U-Net, ReLU before BatchNorm, one train-mode step, "
         "loss 0.5*BCEWithLogits + 0.5*soft Dice (eps 1e-4); float64 reference")
    make(os.path.join(out, "unet_w4_ttanh.h5"), lambda x: ternary_tanh(x, BETA),
         "as unet_w4.h5 but ternary tanh (beta 3) in every block except conv1 (ReLU)")


if __name__ == "__main__":
    sys.exit(main())
