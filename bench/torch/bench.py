"""The PyTorch side of `npm run bench`: runs one workload with the same sizes, threads and timing
method as pai (median wall time of --reps calls after one warm-up call) and prints one JSON object
on its last stdout line. Called by bench/common.ts with PAI_TORCH_PYTHON; run by hand as
`python bench/torch/bench.py train --model resnet20 --batch 64 --threads 2 --reps 5`."""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def time_all(fn, reps):
    """Wall times (ms) of reps calls after one untimed warm-up call."""
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return ts


def time_median(fn, reps):
    return statistics.median(time_all(fn, reps))


def data(batch, channels=3, size=32):
    import torch
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, size, size, generator=g)
    y = torch.arange(batch) % 10
    return x, y


def train(a):
    import torch
    import torch.nn.functional as F
    from models import create
    model = create(a.model, width=a.width, in_channels=a.in_channels).train()
    x, y = data(a.batch, a.in_channels, a.image_size)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    ts = time_all(step, a.reps)
    return {'ms': statistics.median(ts), 'times': ts}


def hvp(a):
    import torch
    import torch.nn.functional as F
    from models import create
    model = create(a.model).train()
    params = list(model.parameters())
    x, y = data(a.batch)
    v = [torch.randint(0, 2, p.shape).float() * 2 - 1 for p in params]

    def gradient():
        torch.autograd.grad(F.cross_entropy(model(x), y), params)

    def hessian_vector():
        g = torch.autograd.grad(F.cross_entropy(model(x), y), params, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
        torch.autograd.grad(dot, params)
    return {'grad_ms': time_median(gradient, a.reps), 'hvp_ms': time_median(hessian_vector, a.reps)}


def evaluate(a):
    import torch
    from models import create
    model = create(a.model).eval()
    x, _ = data(a.batch)

    def forward():
        with torch.no_grad():
            model(x)
    return {'ms': time_median(forward, a.reps)}


def kernel(a):
    import torch
    import torch.nn.functional as F
    from torch.nn.grad import conv2d_input, conv2d_weight
    if a.name == 'matmul-1024':
        A, B, C = torch.randn(1024, 1024), torch.randn(1024, 1024), torch.empty(1024, 1024)
        fn = lambda: torch.mm(A, B, out=C)
    else:
        # pai's: batch 64, 64 -> 64 channels, 32x32, 3x3, padding 1.
        x, w, gy = torch.randn(64, 64, 32, 32), torch.randn(64, 64, 3, 3), torch.randn(64, 64, 32, 32)
        fn = {
            'conv3x3-fwd': lambda: F.conv2d(x, w, padding=1),
            'conv3x3-bwd-data': lambda: conv2d_input(x.shape, w, gy, padding=1),
            'conv3x3-bwd-weights': lambda: conv2d_weight(x, w.shape, gy, padding=1),
        }.get(a.name)
        if fn is None:
            raise SystemExit(f'unknown kernel {a.name!r}')
    return {'ms': time_median(fn, a.reps)}


# ---- mask generation: the paper's batch-1 loops on resnet18 ----

def mask(a):
    """Scores every parameter with one backward pass per sample (batch 1, eval mode), as the
    paper's code does, then a global mask over the prunable weights. score_ms is the scoring of
    --samples samples; the caller scales it when it timed pai on a subset too."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from models import create, classifier
    model = create('resnet18').eval()
    params = list(model.parameters())
    head = classifier(model)
    prunable = [i for i, p in enumerate(params)
                if any(p is m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m is not head)]
    x, y = data(a.samples)
    c = a.criterion
    T = 200.0 if c in ('grasp', 'hutch_diag', 'hutch_pruning', 'hts') else 1.0
    K = 10

    def loss(i):
        return F.cross_entropy(model(x[i:i + 1]) / T, y[i:i + 1])

    def grad_sum(n):
        s = [torch.zeros_like(p) for p in params]
        for i in range(n):
            for si, gi in zip(s, torch.autograd.grad(loss(i), params)):
                si += gi
        return s

    def score(n):
        if c == 'magnitude':
            return [p.detach().abs() for p in params]
        if c == 'random':
            return [torch.rand_like(p) for p in params]
        if c == 'grad_norm':
            return [(s / n).abs() for s in grad_sum(n)]
        if c == 'snip':
            raw = [(p.detach() * s).abs() for p, s in zip(params, grad_sum(n))]
            total = sum(r.sum() for r in raw)
            return [r / total for r in raw]
        if c in ('fisher_diag', 'fisher_pruner', 'fts'):
            mean = [torch.zeros_like(p) for p in params]
            fisher = [torch.zeros_like(p) for p in params]
            for i in range(n):
                for m, f, g in zip(mean, fisher, torch.autograd.grad(loss(i), params)):
                    m += g
                    f += g * g
            mean = [m / n for m in mean]
            fisher = [f / n for f in fisher]
            if c == 'fisher_diag':
                return fisher
            if c == 'fisher_pruner':
                return [p.detach() ** 2 * f / 2 for p, f in zip(params, fisher)]
            return [(p.detach() * m + p.detach() ** 2 * f / 2).abs() for p, m, f in zip(params, mean, fisher)]
        if c == 'grasp':
            g = grad_sum(n)
            hg = [torch.zeros_like(p) for p in params]
            for i in range(n):
                gb = torch.autograd.grad(loss(i), params, create_graph=True)
                z = sum((gi * si).sum() for gi, si in zip(gb, g))
                for h, hi in zip(hg, torch.autograd.grad(z, params)):
                    h += hi
            raw = [p.detach() * h for p, h in zip(params, hg)]
            total = sum(r.sum() for r in raw).abs() + 1e-10
            return [r / total for r in raw]
        if c in ('hutch_diag', 'hutch_pruning', 'hts'):
            acc = [torch.zeros_like(p) for p in params]
            for i in range(n):
                g = torch.autograd.grad(loss(i), params, create_graph=True)
                for _ in range(K):
                    zs = [torch.randint(0, 2, p.shape).float() * 2 - 1 for p in params]
                    gz = sum((gi * zi).sum() for gi, zi in zip(g, zs))
                    hz = torch.autograd.grad(gz, params, retain_graph=True)
                    for a_, z, h in zip(acc, zs, hz):
                        a_ += z * h
            d = [a_ / (K * n) for a_ in acc]
            if c == 'hutch_diag':
                return d
            if c == 'hutch_pruning':
                return [p.detach() ** 2 * h / 2 for p, h in zip(params, d)]
            gs = grad_sum(n)
            return [(p.detach() * s / n + p.detach() ** 2 * h / 2).abs() for p, s, h in zip(params, gs, d)]
        raise SystemExit(f'no PyTorch loop for criterion {c!r}')

    def make_mask(scores):
        flat = torch.cat([scores[i].flatten() for i in prunable])
        k = int(a.sparsity * flat.numel())
        threshold = torch.kthvalue(flat, k).values if k > 0 else flat.min() - 1
        return [scores[i] > threshold for i in prunable]

    # Warm-up, untimed: the criterion on one sample, so that every pass it times (the double
    # backward of GraSP and Hutchinson included) has run once, as pai also warms up.
    grad_mode = torch.no_grad if c in ('magnitude', 'random') else torch.enable_grad
    with grad_mode():
        score(1)
    t0 = time.perf_counter()
    with grad_mode():
        scores = score(a.samples)
    t1 = time.perf_counter()
    with torch.no_grad():
        make_mask([s.detach() for s in scores])
    t2 = time.perf_counter()
    return {'score_ms': (t1 - t0) * 1000, 'mask_ms': (t2 - t1) * 1000}


def main():
    if sys.argv[1:] == ['--probe']:
        import torch
        print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads()}))
        return
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('workload', choices=['train', 'hvp', 'eval', 'kernel', 'mask'])
    p.add_argument('--model', default='resnet20')
    p.add_argument('--name', help='kernel: matmul-1024, conv3x3-fwd, conv3x3-bwd-data, conv3x3-bwd-weights')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--width', type=float, default=1.0, help='train: channel width multiplier (resnet20 only)')
    p.add_argument('--in-channels', type=int, default=3, help='train: input channels (resnet20 only)')
    p.add_argument('--image-size', type=int, default=32, help='train: square input side')
    p.add_argument('--threads', type=int, required=True)
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--criterion', default='fisher_diag')
    p.add_argument('--samples', type=int, default=100)
    p.add_argument('--sparsity', type=float, default=0.9)
    a = p.parse_args()
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    run = {'train': train, 'hvp': hvp, 'eval': evaluate, 'kernel': kernel, 'mask': mask}[a.workload]
    out = run(a)
    out.update({'workload': a.workload, 'threads': torch.get_num_threads(), 'torch': torch.__version__})
    print(json.dumps(out))


if __name__ == '__main__':
    main()
