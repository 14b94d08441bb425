#!/usr/bin/env python3
"""GraSP over the prunable weights only, computed independently of pai with PyTorch.

For each golden case (../shared/golden/<case>) this loads the paper's model (kuangliu CIFAR ResNet-18
at the case's widths, rebuilt here in PyTorch) from model.safetensors and warm_model.safetensors and
the mask batch from batch.safetensors, and computes GraSP as Wang et al. (2020) and Synaptic-Flow's
`GraSP.score` do, with the gradient and the Hessian-gradient product taken over the prunable set P
only (pai's `fixed` set: convolution and linear weights, minus the classifier `linear.weight`):

    g   = sum_b grad_P CE(f(x_b) / T, y_b)                 (no graph; mask batch 1, eval mode, T = 200)
    Hg  = grad_P sum_b <stop(g), grad_P CE(f(x_b) / T, y_b)>
    s_p = theta_p * Hg_p / (|sum over P of theta * Hg| + 1e-10)   for p in P

It runs once in float32 (the fixture) and once in float64, and records the float32-vs-float64
noise as the golden fixtures do (largest absolute difference over the set / largest magnitude).
Output: test/fixtures/grasp-prunable/<case>.safetensors (scores_init/<name>, scores_warm/<name>)
and meta.json. Needs python3 with torch and numpy (Debian: python3-torch); run from the repository
root: python3 scripts/make-grasp-fixture.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_np import load_safetensors, save_safetensors  # beside this script

GOLDEN = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'golden')
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'grasp-prunable')
CASES = ['resnet18_w16_seed0', 'tiny_resnet18_w32_seed0']
T = 200.0
EPS = 1e-10

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, widths, classes, cin):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, c = [], widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(c, w, stride), BasicBlock(w, w, 1)))
            c = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(widths[-1], classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4).flatten(1)
        return self.linear(out)


def prunable(model):
    return [(n, p) for n, p in model.named_parameters() if n.endswith('weight') and p.dim() > 1 and n != 'linear.weight']


def grasp_prunable(model, x, y, every=False):
    """GraSP over the prunable set; with every=True over all parameters, as the golden grasp_synflow."""
    model.eval()
    P = list(model.named_parameters()) if every else prunable(model)
    params = [p for _, p in P]
    g = [torch.zeros_like(p) for p in params]
    for b in range(x.shape[0]):
        loss = F.cross_entropy(model(x[b:b + 1]) / T, y[b:b + 1])
        for acc, gi in zip(g, torch.autograd.grad(loss, params)):
            acc += gi
    hg = [torch.zeros_like(p) for p in params]
    for b in range(x.shape[0]):
        loss = F.cross_entropy(model(x[b:b + 1]) / T, y[b:b + 1])
        gb = torch.autograd.grad(loss, params, create_graph=True)
        z = sum((gi * si).sum() for gi, si in zip(gb, g))
        for acc, h in zip(hg, torch.autograd.grad(z, params)):
            acc += h
    raw = [p.detach() * h for p, h in zip(params, hg)]
    norm = torch.abs(sum(r.sum() for r in raw)) + EPS
    return {n: (r / norm).numpy() for (n, _), r in zip(P, raw)}


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {'torch_version': torch.__version__, 'T': T, 'eps': EPS, 'cases': {}}
    for case in CASES:
        m = json.load(open(os.path.join(GOLDEN, case, 'meta.json')))
        batch = load_safetensors(os.path.join(GOLDEN, case, 'batch.safetensors'))
        tensors, noise = {}, {}
        for tag, weights in [('init', 'model.safetensors'), ('warm', 'warm_model.safetensors')]:
            sd = load_safetensors(os.path.join(GOLDEN, case, weights))
            out = {}
            for dtype in [torch.float32, torch.float64]:
                model = ResNet18(m['channel_widths'], m['num_classes'], m['in_channels'])
                model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
                model = model.to(dtype)
                x = torch.from_numpy(batch['x']).to(dtype)
                y = torch.from_numpy(batch['y']).long()
                out[dtype] = grasp_prunable(model, x, y)
            f32, f64 = out[torch.float32], out[torch.float64]
            scale = max(float(np.abs(v).max()) for v in f64.values())
            diff = max(float(np.abs(f32[k].astype(np.float64) - f64[k]).max()) for k in f64)
            noise[tag] = diff / scale
            for k, v in f32.items():
                tensors[f'scores_{tag}/{k}'] = v
        # The model rebuilt here is the paper's: over every parameter it must give the golden
        # grasp_synflow scores (Synaptic-Flow's GraSP with every parameter passed as prunable).
        model = ResNet18(m['channel_widths'], m['num_classes'], m['in_channels'])
        model.load_state_dict({k: torch.from_numpy(v) for k, v in load_safetensors(os.path.join(GOLDEN, case, 'model.safetensors')).items()})
        every = grasp_prunable(model, torch.from_numpy(batch['x']), torch.from_numpy(batch['y']).long(), every=True)
        want = load_safetensors(os.path.join(GOLDEN, case, 'scores', 'grasp_synflow.safetensors'))
        scale = max(float(np.abs(v).max()) for v in want.values())
        worst = max(float(np.abs(every[k] - want[k]).max()) for k in want) / scale
        print(case, 'all-parameter GraSP vs golden grasp_synflow: max diff / max', worst, file=sys.stderr)
        assert worst < 1e-5, f'{case}: the rebuilt model does not reproduce grasp_synflow ({worst})'
        save_safetensors(os.path.join(OUT, f'{case}.safetensors'), {k: v.astype(np.float32) for k, v in tensors.items()}, {'T': str(T), 'source': 'scripts/make-grasp-fixture.py'})
        meta['cases'][case] = {'prunable': [n for n, _ in prunable(ResNet18(m['channel_widths'], m['num_classes'], m['in_channels']))],
                               'float32_vs_float64_max_abs_diff_over_max_abs': noise}
        print(case, noise, file=sys.stderr)
    with open(os.path.join(OUT, 'meta.json.tmp'), 'w') as f:
        json.dump(meta, f, indent=1)
    os.replace(os.path.join(OUT, 'meta.json.tmp'), os.path.join(OUT, 'meta.json'))


if __name__ == '__main__':
    torch.manual_seed(0)
    main()
