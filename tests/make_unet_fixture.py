#!/usr/bin/python3
"""Dump one training step of a width-4 U-Net from PyTorch, for
tests/network/test_unet_vs_pytorch.cpp to compare qat against.

Run by hand with Debian's PyTorch (python3-torch, python3-h5py):

    /usr/bin/python3 tests/make_unet_fixture.py

writes tests/fixtures/unet_w4.h5 (ReLU everywhere) and
tests/fixtures/unet_w4_ttanh.h5 (ternary tanh, beta 3, conv1 keeps ReLU):
width 4, batch 2, 32x32 images. Other sizes:

    /usr/bin/python3 tests/make_unet_fixture.py --width 4 --batch 3 \
        --height 72 --image-width 88 --seed 1 --beta 2 --out unet_w4_n3_72x88

writes unet_w4_n3_72x88.h5 and unet_w4_n3_72x88_ttanh.h5 (--activation
picks one of the two; --beta is the ternary tanh's). The image sides must
be multiples of 8: three 2x2 poolings, and each upsampling must give back
its skip's size. Each file's `command` attribute is the line that wrote it.
After each file the script prints how well the step is conditioned in
float32 (float32_report below): a fixture whose gradients float32 rounding
can move by 1e-3 tests the rounding, not the code.

The network is the paper's (SPEC.md "The network"): activation BEFORE
BatchNorm, bilinear x2 upsampling with align_corners=False, concatenation
[up, skip]. Module names are chosen so that state_dict names equal qat's
(layers/unet.h).

The reference is computed in float64 from float32 parameters and input:
every stored tensor is float32, but the logits, loss, gradients and running
statistics are the exact answer for those float32 values, so any
difference the C++ test sees is qat's own rounding (or a bug), not torch's;
the network can amplify that rounding (float32_report below).
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from h5py import h5f, h5g, h5p

BETA = 3.0
SEED = 2019  # the paper's year; --seed picks others (float32_report says why)
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
    def __init__(self, w, act, relu=F.relu):
        super().__init__()
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


def the_loss(logits, target):
    prob = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target)
    eps = 1e-4
    dice = 1 - (2 * (prob * target).sum() + eps) / (prob.sum() + target.sum() + eps)
    return 0.5 * bce + 0.5 * dice, bce, dice


def make(path, act, description, width, batch, height, image_width, seed, beta, command):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = UNet(width, act).double().train()
    init_parameters(net, gen)
    params = {n: p.detach().float().numpy().copy() for n, p in net.named_parameters()}

    x = torch.randn(batch, 1, height, image_width, generator=gen, dtype=torch.float64)
    x = short_float32(x)
    # A blob-like binary target: thresholded smooth noise, about half ones.
    noise = torch.randn(batch, 1, height // 4, image_width // 4, generator=gen,
                        dtype=torch.float64)
    target = (F.interpolate(noise, scale_factor=4, mode="bilinear", align_corners=False) > 0).double()

    logits = net(x)
    loss, bce, dice = the_loss(logits, target)
    loss.backward()

    f32 = lambda t: t.detach().float().numpy()
    packed = dict(compression="gzip", compression_opts=9, shuffle=True)
    with create_h5(path) as f:
        for group in ("params", "grads", "buffers"):
            h5g.create(f.id, group.encode(), gcpl=untimed(h5p.GROUP_CREATE))
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["command"] = command
        f.attrs["description"] = description
        f.attrs["width"] = width
        f.attrs["beta"] = beta
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
    ref = {n: p.grad for n, p in net.named_parameters()}
    float32_report(params, x, target, width, act, logits.detach(), ref)


# ---- how well the step is conditioned in float32
#
# The reference is exact, but qat computes in float32, and two things turn
# float32 rounding into differences larger than the rounding (issue 12):
# - ternary tanh is steep (slope about beta = 3 at x = +-1/2), so each block
#   multiplies the forward's rounding error;
# - ReLU's derivative jumps at 0. A pre-activation within float32 rounding
#   of 0 can land on the other side, and its pixel's upstream gradient is
#   then kept or dropped. The forward does not notice (ReLU is continuous),
#   but at width 12 one such pixel moved a BatchNorm bias gradient by 1.9e-3
#   of its norm: a larger rounding error (F(4x4) Winograd's) flips more.
# So a float32 implementation without a bug can miss a fixture. This prints
# PyTorch's own float32 run of the same step, and the ReLU inputs within
# KINK_BAND of 0 with the largest relative gradient change that flipping
# one of their derivatives causes: a fixture should leave the test's
# tolerances (1e-4 logits, 1e-3 gradients) a wide margin on the first, and
# whether the second bites depends on each implementation's rounding, so
# the README records qat's measured errors on each committed file.
KINK_BAND = 3e-6  # of the layer's largest |value|: qat's F(4x4) rounding, deep layers
                  # (median ~7e-7, 99.9th percentile ~6e-6 at width 12)


class KinkedReLU(torch.autograd.Function):
    # ReLU whose derivative is flipped at one pixel: flip = (call, index)
    flip = None

    @staticmethod
    def forward(ctx, x, call):
        ctx.save_for_backward(x)
        ctx.call = call
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = (x > 0).to(g.dtype)
        if KinkedReLU.flip is not None and KinkedReLU.flip[0] == ctx.call:
            mask[KinkedReLU.flip[1]] = 1 - mask[KinkedReLU.flip[1]]
        return g * mask, None


def relative(a, b):  # ||a - b|| / ||b||
    return ((a.double() - b).norm() / b.norm()).item()


def float32_report(params, x, target, width, act, ref_logits, ref_grads):
    def load(net, dtype):
        with torch.no_grad():
            for n, p in net.named_parameters():
                p.copy_(torch.from_numpy(params[n]).to(dtype))
        return net

    net = load(UNet(width, act).float().train(), torch.float32)
    logits = net(x.float())
    the_loss(logits, target.float())[0].backward()
    worst = max((relative(p.grad, ref_grads[n]), n) for n, p in net.named_parameters())
    print(f"  PyTorch float32: logits {relative(logits.detach(), ref_logits):.2e}, "
          f"worst gradient {worst[0]:.2e} ({worst[1]})")

    inputs = []  # every ReLU's input, in call order

    def relu(v):
        inputs.append(v.detach())
        return KinkedReLU.apply(v, len(inputs) - 1)

    net = load(UNet(width, relu if act is F.relu else act, relu=relu).double().train(),
               torch.float64)
    loss = the_loss(net(x), target)[0]

    def grads():
        net.zero_grad(set_to_none=True)
        loss.backward(retain_graph=True)
        return [p.grad.clone() for p in net.parameters()]

    KinkedReLU.flip = None
    base = grads()
    near = [(k, tuple(i)) for k, v in enumerate(inputs)
            for i in (v.abs() < KINK_BAND * v.abs().max()).nonzero().tolist()]
    moves = []
    for flip in near:
        KinkedReLU.flip = flip
        moves.append(max(relative(g, g0) for g, g0 in zip(grads(), base)))
    KinkedReLU.flip = None
    print(f"  {len(near)} ReLU inputs within {KINK_BAND:g} (of their layer's max) of 0; "
          f"flipping one's derivative moves a gradient by up to {max(moves, default=0):.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=4, help="network base width (4)")
    ap.add_argument("--batch", type=int, default=2, help="images per batch (2)")
    ap.add_argument("--height", type=int, default=32, help="image height (32)")
    ap.add_argument("--image-width", type=int, default=32, help="image width (32)")
    ap.add_argument("--seed", type=int, default=SEED, help=f"seed of parameters and data ({SEED})")
    ap.add_argument("--beta", type=float, default=BETA, help=f"ternary tanh's beta ({BETA:g})")
    ap.add_argument("--activation", choices=("relu", "ttanh", "both"), default="both")
    ap.add_argument("--out", default=None,
                    help="file name in tests/fixtures without .h5 (unet_w<width>); the "
                    "ternary-tanh file gets _ttanh appended")
    args = ap.parse_args()
    if args.height % 8 or args.image_width % 8:
        ap.error(f"image {args.height}x{args.image_width}: both sides must be multiples of 8")
    name = args.out or f"unet_w{args.width}"
    # The command that rewrites exactly this file, stored in it. The
    # defaults keep the original short form (and so the original bytes).
    default = (args.width, args.batch, args.height, args.image_width, args.seed, args.beta,
               args.out) == (4, 2, 32, 32, SEED, BETA, None)
    command = COMMAND
    if not default:
        command += (f" --width {args.width} --batch {args.batch} --height {args.height}"
                    f" --image-width {args.image_width} --seed {args.seed} --beta {args.beta:g}"
                    f" --out {name}")

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = os.path.join(HERE, "fixtures")
    os.makedirs(out, exist_ok=True)
    relu = (f"width-{args.width} U-Net, ReLU before BatchNorm, one train-mode step, "
            "loss 0.5*BCEWithLogits + 0.5*soft Dice (eps 1e-4); float64 reference")
    ttanh = (f"as {name}.h5 but ternary tanh (beta {args.beta:g}) in every block except "
             "conv1 (ReLU)")
    if not default:
        size = (f"; batch {args.batch}, {args.height}x{args.image_width} images, "
                f"seed {args.seed}")
        relu += size
        ttanh += size
    dims = (args.width, args.batch, args.height, args.image_width, args.seed)
    if args.activation in ("relu", "both"):
        make(os.path.join(out, name + ".h5"), F.relu, relu, *dims, BETA, command)
    if args.activation in ("ttanh", "both"):
        make(os.path.join(out, name + "_ttanh.h5"), lambda x: ternary_tanh(x, args.beta),
             ttanh, *dims, args.beta, command)


if __name__ == "__main__":
    sys.exit(main())
