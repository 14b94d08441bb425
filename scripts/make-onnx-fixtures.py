#!/usr/bin/env python3
"""Writes the ONNX import fixtures of test/fixtures/onnx: small torchvision networks exported by
PyTorch, and beside each what PyTorch computes on a fixed batch, for pai to match.

Run from the repository root with Debian's PyTorch (python3-torch, python3-torchvision):

    /usr/bin/python3 scripts/make-onnx-fixtures.py            # writes the fixtures
    /usr/bin/python3 scripts/make-onnx-fixtures.py --check-masks test/fixtures/onnx/resnet.onnx MASKS.safetensors

For each network NAME it writes
  NAME.onnx               exported with do_constant_folding=False, input "input" with a dynamic batch
                          (and NAME.opset13.onnx for the ViT: the same weights with layer norm decomposed)
  NAME.ref.safetensors    x [N,3,32,32], y [N] (I64), logits (eval mode), and per parameter P:
                          grad.P (mean cross-entropy over the batch), v.P (a fixed random direction),
                          hv.P (Hessian-vector product H v of that loss), snip.P and fisher_diag.P
                          (mask batch 1, eval mode; snip normalised over all parameters)
                          warm.B: every batch-norm buffer B after one train-mode pass over x
  NAME.meta.json          parameter names and shapes in state-dict order, the expected prunable set,
                          the classifier, and the float32-vs-float64 noise of every quantity
The --check-masks mode loads a masks file written by pai into the PyTorch model by name, applies it
and checks that exactly the masked weights are zero and the model still runs.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import resnet, vgg, mobilenetv2, mobilenetv3, squeezenet, vision_transformer
from torchvision.ops.misc import Conv2dNormActivation

OUT = os.path.join('test', 'fixtures', 'onnx')
N = 4
CLASSES = 10
SIDE = 32


from safetensors_np import load_safetensors, save_safetensors  # noqa: E402 (beside this script)


# ---- the networks, at reduced width ----

class SmallResNet(resnet.ResNet):
    """torchvision's ResNet (7x7 stem, max-pool, BasicBlock, downsample, fc) with widths 4-8-16-32."""

    def __init__(self, widths=(4, 8, 16, 32), layers=(2, 1, 1, 1), num_classes=CLASSES):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, 1, 64
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(resnet.BasicBlock, widths[0], layers[0])
        self.layer2 = self._make_layer(resnet.BasicBlock, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(resnet.BasicBlock, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(resnet.BasicBlock, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)


def small_vgg():
    """torchvision's VGG with batch norm (features / avgpool / classifier with dropout), widths 8-16-32."""
    m = vgg.VGG(vgg.make_layers([8, 'M', 16, 'M', 32, 32, 'M'], batch_norm=True), num_classes=CLASSES)
    m.avgpool = nn.AdaptiveAvgPool2d((2, 2))
    m.classifier = nn.Sequential(nn.Linear(32 * 2 * 2, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, CLASSES))
    return m


def small_mobilenet():
    """torchvision's MobileNetV3-Small at width 0.25 (depthwise convs, squeeze-excitation with
    hard-sigmoid, hard-swish), its first six inverted-residual blocks."""
    setting, _ = mobilenetv3._mobilenet_v3_conf('mobilenet_v3_small', width_mult=0.25)
    return mobilenetv3.MobileNetV3(setting[:6], last_channel=64, num_classes=CLASSES)


def small_mobilenet_v2():
    """torchvision's MobileNetV2 at width 0.25 (inverted residuals, depthwise convolutions, ReLU6,
    exported as Clip), its first three stages, with a 64-channel last convolution instead of 1280."""
    m = mobilenetv2.MobileNetV2(num_classes=CLASSES, width_mult=0.25, inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2]])
    m.features[-1] = Conv2dNormActivation(m.features[-1][0].in_channels, 64, kernel_size=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6)
    m.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, CLASSES))
    return m


def small_squeezenet():
    """torchvision's SqueezeNet 1.1 layout (Fire modules: squeeze, two expands concatenated; ceil-mode
    max-pooling; a convolution as classifier) at a quarter of its widths, two fewer Fire modules."""
    m = squeezenet.SqueezeNet(version='1_1', num_classes=CLASSES)
    m.features = nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, stride=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        squeezenet.Fire(16, 4, 8, 8), squeezenet.Fire(16, 4, 8, 8),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        squeezenet.Fire(16, 8, 16, 16))
    m.classifier = nn.Sequential(nn.Dropout(p=0.5), nn.Conv2d(32, CLASSES, kernel_size=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))
    return m


def small_vit():
    """torchvision's VisionTransformer: patch 8 on 32x32, 2 layers, 2 heads, hidden 16, MLP 32."""
    m = vision_transformer.VisionTransformer(image_size=SIDE, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=CLASSES)
    # torchvision starts the head and the class token at zero, which would make the logits constant
    # and most gradients zero: random values test more.
    with torch.no_grad():
        m.heads.head.weight.normal_(0, 0.2)
        m.class_token.normal_(0, 0.5)
    return m


NETWORKS = [
    # name, builder, opset, extra opsets (the same weights re-exported)
    ('resnet', SmallResNet, 13, []),
    ('vgg_bn', small_vgg, 15, []),
    ('mobilenet_v3', small_mobilenet, 16, []),
    ('mobilenet_v2', small_mobilenet_v2, 14, []),
    ('squeezenet', small_squeezenet, 15, []),
    ('vit', small_vit, 17, [13]),
]


def prunable_and_classifier(model):
    """pai's fixed prunable set in PyTorch terms: convolution, linear and attention-projection weights, minus the classifier head."""
    names, last = [], None
    for mname, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            names.append(f'{mname}.weight')
            last = f'{mname}.weight'
        elif isinstance(m, nn.MultiheadAttention):
            names.append(f'{mname}.in_proj_weight')
    # Every network here ends in its classifier, the last linear layer registered.
    return [n for n in names if n != last], last


# ---- what PyTorch computes ----

def loss_fn(model, x, y):
    return F.cross_entropy(model(x), y)


class TwiceDifferentiable(nn.Module):
    """Hard-sigmoid and hard-swish written with clamp: PyTorch 1.13 has no second derivative for
    its fused kernels (\"derivative for aten::hardsigmoid_backward is not implemented\"); these
    compute the same function and its exact derivatives (the export keeps the fused modules)."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        hs = torch.clamp(x / 6 + 0.5, 0, 1)
        return hs if self.kind == 'sigmoid' else x * hs


def twice_differentiable(model):
    for parent in list(model.modules()):
        for cname, child in list(parent.named_children()):
            if isinstance(child, nn.Hardsigmoid):
                setattr(parent, cname, TwiceDifferentiable('sigmoid'))
            elif isinstance(child, nn.Hardswish):
                setattr(parent, cname, TwiceDifferentiable('swish'))
    return model


def quantities(model, x, y, v):
    """logits, gradients, H v, snip and fisher_diag for the model in its current dtype (eval mode)."""
    model.eval()
    params = [p for _, p in model.named_parameters()]
    with torch.no_grad():
        logits = model(x)
    g = torch.autograd.grad(loss_fn(model, x, y), params, create_graph=True)
    hv = torch.autograd.grad(g, params, grad_outputs=[v_.to(p.dtype) for v_, p in zip(v, params)])
    gsum = [torch.zeros_like(p) for p in params]
    gsq = [torch.zeros_like(p) for p in params]
    for b in range(x.shape[0]):
        gb = torch.autograd.grad(loss_fn(model, x[b:b + 1], y[b:b + 1]), params)
        for k, t in enumerate(gb):
            gsum[k] += t
            gsq[k] += t * t
    raw = [(p.detach() * s).abs() for p, s in zip(params, gsum)]
    total = sum(float(r.sum()) for r in raw)
    snip = [r / total for r in raw]
    fisher = [s / x.shape[0] for s in gsq]
    return {'logits': [logits], 'grad': [t.detach() for t in g], 'hv': list(hv), 'snip': snip, 'fisher_diag': fisher}


def write_network(name, build, opset, extra):
    torch.manual_seed(0)
    model = build().eval()
    # Non-trivial batch-norm statistics, so eval mode differs from train mode and the import of
    # running_mean / running_var is tested, not just their defaults.
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=gen))
    x = torch.randn(N, 3, SIDE, SIDE, generator=gen)
    y = torch.randint(0, CLASSES, (N,), generator=gen)
    names = [n for n, _ in model.named_parameters()]
    v = [torch.randn(p.shape, generator=gen) for _, p in model.named_parameters()]

    for o in [opset] + extra:
        path = os.path.join(OUT, f'{name}.onnx' if o == opset else f'{name}.opset{o}.onnx')
        torch.onnx.export(model, torch.randn(1, 3, SIDE, SIDE), path + '.tmp', export_params=True, opset_version=o,
                          do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})
        os.replace(path + '.tmp', path)

    twice_differentiable(model)
    q32 = quantities(model, x, y, v)
    q64 = quantities(model.double(), x.double(), y, [t.double() for t in v])
    model.float()
    noise = {}
    for key in q32:
        scale = max(float(t.abs().max()) for t in q64[key])
        err = max(float((a.double() - b).abs().max()) for a, b in zip(q32[key], q64[key]))
        noise[key] = err / scale if scale > 0 else 0.0

    ref = {'x': x.numpy(), 'y': y.numpy().astype(np.int64), 'logits': q32['logits'][0].numpy()}
    # The batch-norm warm-up: one train-mode pass without gradients moves the running statistics.
    with torch.no_grad():
        model.train()
        model(x)
        model.eval()
    for n, b in model.named_buffers():
        if not n.endswith('num_batches_tracked'):
            ref[f'warm.{n}'] = b.numpy().copy()
    for key in ['grad', 'hv', 'snip', 'fisher_diag']:
        for n, t in zip(names, q32[key]):
            ref[f'{key}.{n}'] = t.detach().numpy()
    for n, t in zip(names, v):
        ref[f'v.{n}'] = t.numpy()
    save_safetensors(os.path.join(OUT, f'{name}.ref.safetensors'), ref)

    prunable, classifier = prunable_and_classifier(model)
    meta = {
        'network': name, 'torch': torch.__version__, 'opset': opset, 'extra_opsets': extra, 'batch': N,
        'input_shape': [3, SIDE, SIDE], 'num_classes': CLASSES,
        'parameters': [{'name': n, 'shape': list(p.shape)} for n, p in model.named_parameters()],
        'buffers': [{'name': n, 'shape': list(b.shape)} for n, b in model.named_buffers() if not n.endswith('num_batches_tracked')],
        'prunable': prunable, 'classifier': classifier,
        'noise': noise,
    }
    tmp = os.path.join(OUT, f'{name}.meta.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    os.replace(tmp, os.path.join(OUT, f'{name}.meta.json'))
    print(f'{name}: {sum(p.numel() for p in model.parameters())} parameters, noise ' + ', '.join(f'{k} {v:.1e}' for k, v in noise.items()))


def check_masks(onnx_path, masks_path):
    """Loads pai's masks into the PyTorch network the ONNX file was exported from, by name."""
    name = os.path.basename(onnx_path).split('.')[0]
    build = {n: b for n, b, _, _ in NETWORKS}[name]
    torch.manual_seed(0)
    model = build().eval()
    masks = load_safetensors(masks_path)
    params = dict(model.named_parameters())
    unknown = [k for k in masks if k not in params]
    if unknown:
        sys.exit(f'{masks_path}: keys that are not parameters of {name}: {unknown}')
    with torch.no_grad():
        for k, m in masks.items():
            t = torch.from_numpy(m.astype(np.float32).copy())
            if tuple(t.shape) != tuple(params[k].shape):
                sys.exit(f'{masks_path}: {k} has shape {tuple(t.shape)}, the parameter {tuple(params[k].shape)}')
            params[k].mul_(t)
        model(torch.randn(2, 3, SIDE, SIDE))
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.size for m in masks.values())
    print(f'{masks_path}: {len(masks)} masks load into {name} by name; {kept} of {total} weights kept')


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--check-masks':
        check_masks(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for name, build, opset, extra in NETWORKS:
        write_network(name, build, opset, extra)


if __name__ == '__main__':
    main()
