"""Writes the float ONNX test graphs of test/e2e/styles.test.ts (issue 14): one graph per
model-zoo style, each at opset 7 and opset 13, with weights as initializers or built by
ConstantFill (opset 7) / ConstantOfShape (opset 13) nodes, batch norms unfolded.

Run from the repository root: python3 test/data/styles/make_graphs.py
The .onnx files are committed; CI has no Python. Weights come from a seeded generator, so a
re-run writes the same bytes.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.dirname(os.path.abspath(__file__))


class Builder:
    """Nodes of one graph. `weights` is 'init' (initializers) or 'fill' (computed by nodes from
    a ConstantFill / ConstantOfShape of zeros plus a Constant, the way old exporters wrote them)."""

    def __init__(self, name, opset, weights, seed):
        self.name, self.opset, self.weights = name, opset, weights
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def fresh(self, prefix):
        self.count += 1
        return f'{prefix}_{self.count}'

    def node(self, op, inputs, **attrs):
        out = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def const_node(self, value):
        out = self.fresh('const')
        self.nodes.append(helper.make_node('Constant', [], [out], name=out, value=numpy_helper.from_array(value.astype(np.float32), out)))
        return out

    def weight(self, value):
        value = value.astype(np.float32)
        if self.weights == 'init':
            name = self.fresh('w')
            self.inits.append(numpy_helper.from_array(value, name))
            return name
        if self.opset <= 8:
            zeros = self.fresh('fill')
            self.nodes.append(helper.make_node('ConstantFill', [], [zeros], name=zeros, shape=list(value.shape), value=0.0, dtype=TensorProto.FLOAT))
        else:
            shape = self.fresh('shape')
            self.nodes.append(helper.make_node('Constant', [], [shape], name=shape, value=numpy_helper.from_array(np.array(value.shape, np.int64), shape)))
            zeros = self.node('ConstantOfShape', [shape], value=numpy_helper.from_array(np.zeros(1, np.float32)))
        return self.node('Add', [zeros, self.const_node(value)])

    def conv(self, x, cin, cout, k, stride=1, pad=None, groups=1, bias=True):
        pad = k // 2 if pad is None else pad
        fan = cin // groups * k * k
        w = self.rng.normal(0, np.sqrt(2.0 / fan), (cout, cin // groups, k, k))
        ins = [x, self.weight(w)]
        if bias:
            ins.append(self.weight(self.rng.normal(0, 0.1, cout)))
        return self.node('Conv', ins, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups)

    def bn(self, x, c):
        gamma = self.rng.uniform(0.5, 1.5, c)
        beta = self.rng.normal(0, 0.2, c)
        mean = self.rng.normal(0, 0.2, c)
        var = self.rng.uniform(0.5, 2.0, c)
        attrs = {'epsilon': 1e-5}
        if self.opset < 9:
            attrs['spatial'] = 1
        return self.node('BatchNormalization', [x] + [self.weight(v) for v in (gamma, beta, mean, var)], **attrs)

    def bn_decomposed(self, x, c):
        """The per-channel Mul then Add some exporters write instead of BatchNormalization."""
        scale = self.weight(self.rng.uniform(0.5, 1.5, (c, 1, 1)))
        shift = self.weight(self.rng.normal(0, 0.2, (c, 1, 1)))
        return self.node('Add', [self.node('Mul', [x, scale]), shift])

    def relu(self, x):
        return self.node('Relu', [x])

    def relu6(self, x):
        if self.opset < 11:
            return self.node('Clip', [x], min=0.0, max=6.0)
        lo = self.const_scalar(0.0)
        hi = self.const_scalar(6.0)
        return self.node('Clip', [x, lo, hi])

    def const_scalar(self, v):
        out = self.fresh('scalar')
        self.nodes.append(helper.make_node('Constant', [], [out], name=out, value=numpy_helper.from_array(np.array(v, np.float32), out)))
        return out

    def conv_bn_relu(self, x, cin, cout, k, stride=1, groups=1, act='relu'):
        y = self.bn(self.conv(x, cin, cout, k, stride, groups=groups, bias=False), cout)
        return self.relu(y) if act == 'relu' else self.relu6(y) if act == 'relu6' else y

    def maxpool(self, x, k, s, p):
        return self.node('MaxPool', [x], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)

    def avgpool(self, x, k, s, p, include_pad):
        return self.node('AveragePool', [x], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, count_include_pad=include_pad)

    def concat(self, xs):
        return self.node('Concat', xs, axis=1)

    def ints(self, values):
        out = self.fresh('shape')
        self.nodes.append(helper.make_node('Constant', [], [out], name=out, value=numpy_helper.from_array(np.array(values, np.int64), out)))
        return out

    def reshape(self, x, shape):
        return self.node('Reshape', [x, self.ints(shape)])

    def head(self, x, c, classes=10):
        """Global average pool, flatten, fully connected, softmax."""
        g = self.node('GlobalAveragePool', [x])
        f = self.node('Flatten', [g], axis=1)
        w = self.weight(self.rng.normal(0, np.sqrt(1.0 / c), (classes, c)))
        b = self.weight(self.rng.normal(0, 0.1, classes))
        self.logits = self.node('Gemm', [f, w, b], transB=1)
        return self.node('Softmax', [self.logits], axis=1)

    def write(self, inp, out, in_shape, file):
        inputs = [helper.make_tensor_value_info(inp, TensorProto.FLOAT, in_shape)]
        if self.opset <= 8:  # IR version 3 lists initializers among the graph inputs
            inputs += [helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)) for t in self.inits]
        graph = helper.make_graph(
            self.nodes, self.name,
            inputs,
            # The logits too: the tests compare them (softmax of small logits is near-uniform whatever they are).
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 10]), helper.make_tensor_value_info(self.logits, TensorProto.FLOAT, [1, 10])],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', self.opset)], producer_name='vta-toolchain make_graphs.py')
        model.ir_version = 3 if self.opset <= 8 else 7
        if not (self.weights == 'fill' and self.opset <= 8):  # ConstantFill is experimental: no schema to check
            onnx.checker.check_model(model)
        onnx.save(model, os.path.join(OUT, file))


def plain(b):
    """VGG-like: conv-BN-ReLU, padded max pool, a decomposed BN, average pools both ways."""
    x = b.conv_bn_relu('input', 3, 16, 3)
    x = b.conv_bn_relu(x, 16, 32, 3, stride=2)
    x = b.maxpool(x, 3, 1, 1)
    x = b.relu(b.bn_decomposed(b.conv(x, 32, 32, 1), 32))
    x = b.avgpool(x, 3, 1, 1, 1)
    x = b.conv_bn_relu(x, 32, 32, 3)
    x = b.avgpool(x, 3, 1, 1, 0)
    x = b.conv_bn_relu(x, 32, 24, 3)
    x = b.avgpool(x, 2, 2, 0, 0)
    x = b.conv_bn_relu(x, 24, 32, 3)
    return b.head(x, 32)


def inception_block(b, x, cin, c1, c3r, c3, c5r, c5, cp):
    b1 = b.conv_bn_relu(x, cin, c1, 1)
    b2 = b.conv_bn_relu(b.conv_bn_relu(x, cin, c3r, 1), c3r, c3, 3)
    b3 = b.conv_bn_relu(b.conv_bn_relu(b.conv_bn_relu(x, cin, c5r, 1), c5r, c5, 3), c5, c5, 3)
    b4 = b.conv_bn_relu(b.avgpool(x, 3, 1, 1, 0), cin, cp, 1)
    return b.concat([b1, b2, b3, b4]), c1 + c3 + c5 + cp


def inception(b):
    x = b.conv_bn_relu('input', 3, 32, 3, stride=2)
    x = b.conv_bn_relu(x, 32, 32, 3)
    x, c = inception_block(b, x, 32, 16, 16, 32, 16, 16, 16)
    x = b.maxpool(x, 3, 2, 1)
    x, c = inception_block(b, x, c, 32, 16, 32, 16, 16, 16)
    return b.head(x, c)


def densenet(b):
    """Pre-activation dense block (BN-ReLU-Conv, a BN with no conv before it), concat growth, transition."""
    x = b.conv('input', 3, 32, 3, stride=2, bias=False)
    c = 32
    for _ in range(3):
        y = b.conv(b.relu(b.bn(x, c)), c, 32, 1, bias=False)
        y = b.conv(b.relu(b.bn(y, 32)), 32, 16, 3, bias=False)
        x = b.concat([x, y])
        c += 16
    x = b.conv(b.relu(b.bn(x, c)), c, 32, 1, bias=False)
    x = b.avgpool(x, 2, 2, 0, 1)
    x = b.relu(b.bn(x, 32))
    x = b.conv_bn_relu(x, 32, 32, 3)
    return b.head(x, 32)


def shuffle(b, x, c, groups, h):
    y = b.reshape(x, [1, groups, c // groups, h, h])
    y = b.node('Transpose', [y], perm=[0, 2, 1, 3, 4])
    return b.reshape(y, [1, c, h, h])


def shufflenet(b):
    """ShuffleNet units: grouped 1x1 convs, Reshape-Transpose-Reshape channel shuffle, depthwise 3x3."""
    x = b.conv_bn_relu('input', 3, 32, 3, stride=2)
    x = b.maxpool(x, 3, 1, 1)
    h = 8
    # stride-1 unit: residual add
    y = b.conv_bn_relu(x, 32, 32, 1, groups=2)
    y = shuffle(b, y, 32, 2, h)
    y = b.conv_bn_relu(y, 32, 32, 3, groups=32, act=None)
    y = b.conv_bn_relu(y, 32, 32, 1, groups=2, act=None)
    x = b.relu(b.node('Add', [x, y]))
    # stride-2 unit: average-pool shortcut, concat
    y = b.conv_bn_relu(x, 32, 32, 1, groups=2)
    y = shuffle(b, y, 32, 2, h)
    y = b.conv_bn_relu(y, 32, 32, 3, stride=2, groups=32, act=None)
    y = b.conv_bn_relu(y, 32, 32, 1, groups=2, act=None)
    x = b.relu(b.concat([b.avgpool(x, 3, 2, 1, 1), y]))
    return b.head(x, 64)


def mobilenet(b):
    """Depthwise-separable blocks: depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6."""
    x = b.conv_bn_relu('input', 3, 16, 3, stride=2, act='relu6')
    c = 16
    for cout, s in ((32, 1), (32, 2), (48, 1)):
        x = b.conv_bn_relu(x, c, c, 3, stride=s, groups=c, act='relu6')
        x = b.conv_bn_relu(x, c, cout, 1, act='relu6')
        c = cout
    return b.head(x, c)


def alexnet(b):
    """Large kernels with LRN after the ReLU and a padded max pool (LRN and Softmax stay on the CPU)."""
    x = b.relu(b.conv('input', 3, 32, 5, stride=1))
    x = b.node('LRN', [x], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    x = b.maxpool(x, 3, 2, 1)
    x = b.relu(b.conv(x, 32, 32, 3))
    x = b.node('LRN', [x], size=5, alpha=1e-4, beta=0.75, bias=2.0)
    x = b.relu(b.conv(x, 32, 32, 3))
    x = b.relu(b.conv(x, 32, 32, 3))
    x = b.maxpool(x, 3, 2, 1)
    return b.head(x, 32)


def inception_large(b):
    """About 300 nodes of Inception blocks, for the compile-time bench."""
    x = b.conv_bn_relu('input', 3, 32, 3, stride=2)
    c = 32
    for _ in range(13):
        x, c = inception_block(b, x, c, 16, 16, 16, 16, 16, 16)
    return b.head(x, c)


STYLES = {'plain': plain, 'inception': inception, 'densenet': densenet, 'shufflenet': shufflenet, 'mobilenet': mobilenet, 'alexnet': alexnet}

if __name__ == '__main__':
    for i, (style, make) in enumerate(STYLES.items()):
        for opset, weights in ((7, 'fill'), (7, 'init'), (13, 'init'), (13, 'fill')):
            b = Builder(style, opset, weights, seed=1000 + i)
            out = make(b)
            b.write('input', out, [1, 3, 16, 16], f'{style}_op{opset}_{weights}.onnx')
    b = Builder('inception_large', 13, 'init', seed=99)
    out = inception_large(b)
    print('inception_large nodes:', len(b.nodes))
    b.write('input', out, [1, 3, 32, 32], 'inception_large_op13_init.onnx')
