"""PyTorch twins of pai's benchmark models (src/models/*.ts), layer for layer, so that both sides
time the same arithmetic. Initialisation is PyTorch's default: timing does not depend on it."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- resnet20: He et al.'s CIFAR ResNet as OpenLTH writes it (src/models/resnet_lth.ts) ----

class LthBlock(nn.Module):
    def __init__(self, f_in, f_out, downsample):
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(f_in, f_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f_out)
        self.conv2 = nn.Conv2d(f_out, f_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(f_out)
        if downsample or f_in != f_out:
            self.shortcut = nn.Sequential(nn.Conv2d(f_in, f_out, 1, stride=stride, bias=False), nn.BatchNorm2d(f_out))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class LthResNet(nn.Module):
    def __init__(self, depth=20, num_classes=10, width=1.0, in_channels=3):
        super().__init__()
        n = (depth - 2) // 6
        # pai's scaled(): max(1, round(c * width)); Python's round() breaks ties to even, so round
        # half up as JavaScript's Math.round does.
        widths = [max(1, int(math.floor(w * width + 0.5))) for w in (16, 32, 64)]
        self.conv = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        blocks, f = [], widths[0]
        for s, w in enumerate(widths):
            for b in range(n):
                blocks.append(LthBlock(f, w, s > 0 and b == 0))
                f = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(f, num_classes)

    def forward(self, x):
        out = F.relu(self.bn(self.conv(x)))
        out = self.blocks(out)
        out = F.avg_pool2d(out, out.shape[3])
        return self.fc(torch.flatten(out, 1))


# ---- resnet18: kuangliu's CIFAR ResNet-18, width 1 (src/models/resnet_cifar.ts) ----

class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class CifarResNet18(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        widths = [64, 128, 256, 512]
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_planes, stages = 64, []
        for s, w in enumerate(widths):
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(in_planes, w, 2 if s > 0 and b == 0 else 1))
                in_planes = w
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        return self.linear(torch.flatten(out, 1))


# ---- vgg19: kuangliu's CIFAR VGG with batch norm and conv biases (src/models/vgg.ts) ----

VGG19 = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M']


class VGG(nn.Module):
    def __init__(self, cfg=VGG19, num_classes=10):
        super().__init__()
        layers, in_c = [], 3
        for v in cfg:
            if v == 'M':
                layers.append(nn.MaxPool2d(2, stride=2))
            else:
                layers += [nn.Conv2d(in_c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                in_c = v
        layers.append(nn.AvgPool2d(1, stride=1))
        self.features = nn.Sequential(*layers)
        self.linear = nn.Linear(in_c, num_classes)

    def forward(self, x):
        return self.linear(torch.flatten(self.features(x), 1))


# ---- vit_tiny_patch4_32: timm-style pre-norm ViT (src/models/vit.ts) ----

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        # What timm itself calls when PyTorch has it (2.0 and later): the fair PyTorch baseline.
        # Older PyTorch (Debian's 1.13) gets timm's own fallback, the explicit softmax(q k^T / sqrt(d)) v.
        if hasattr(F, 'scaled_dot_product_attention'):
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = torch.softmax((q * (q.shape[-1] ** -0.5)) @ k.transpose(-2, -1), dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class VitBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, image_size=32, patch=4, dim=192, depth=12, heads=3, num_classes=10):
        super().__init__()
        tokens = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[VitBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        h = self.patch_embed(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), h], dim=1) + self.pos_embed
        h = self.norm(self.blocks(h))
        return self.head(h[:, 0])


MODELS = {
    'resnet20': lambda **kw: LthResNet(20, **kw),
    'resnet18': CifarResNet18,
    'vgg19': VGG,
    'vit_tiny_patch4_32': VisionTransformer,
}


def create(name, width=1.0, in_channels=3):
    if name not in MODELS:
        raise SystemExit(f'no PyTorch twin of {name!r} (have: {", ".join(MODELS)})')
    if (width, in_channels) != (1.0, 3):
        if name != 'resnet20':
            raise SystemExit(f'--width and --in-channels are supported for resnet20 only, not {name!r}')
        return MODELS[name](width=width, in_channels=in_channels)
    return MODELS[name]()


def classifier(model):
    """The head that pai leaves out of the prunable set."""
    for attr in ('linear', 'fc', 'head'):
        if hasattr(model, attr):
            return getattr(model, attr)
    return None
