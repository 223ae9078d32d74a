"""Generates the small float models of the dense / MatMul tests (committed; CI has no Python).

    python3 test/data/dense/gen.py    # writes the .onnx files next to this script

cnn_flatten.onnx: a conv (20 channels: not a whole 16-channel block) + ReLU, Flatten, two Gemm
layers, batch 1: the flatten that VTA reads as addressing, and GEMV.
mlp_batch4.onnx: three Gemm layers (the middle one in transB=0 form) on 4 rows at once: GEMM.
mlp_matmul.onnx: MatMul + Add layers (PyTorch's Linear exported without Gemm) on 8 rows.
encoder_block.onnx: one transformer encoder block (pre-norm, one head) on 16 tokens of 32
features: LayerNorm (ReduceMean/Sub/Mul/Sqrt/Div: opset 17 export), Q/K/V/output projections,
scores = Q Kᵀ / sqrt(d), Softmax, scores x V, residual adds, LayerNorm, a 64-wide MLP with GELU
(tanh form), residual add.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(15)


def init(name, shape, scale):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def save(name, nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='vta-toolchain test/data/dense/gen.py')
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def cnn_flatten():
    c, h, w = 20, 6, 6
    nodes = [
        helper.make_node('Conv', ['x', 'cw', 'cb'], ['c'], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node('Relu', ['c'], ['r']),
        helper.make_node('Flatten', ['r'], ['f'], axis=1),
        helper.make_node('Gemm', ['f', 'w1', 'b1'], ['g1'], transB=1),
        helper.make_node('Relu', ['g1'], ['r1']),
        helper.make_node('Gemm', ['r1', 'w2', 'b2'], ['y'], transB=1),
    ]
    inits = [
        init('cw', [c, 3, 3, 3], 0.3), init('cb', [c], 0.1),
        init('w1', [37, c * h * w], 0.04), init('b1', [37], 0.1),
        init('w2', [10, 37], 0.2), init('b2', [10], 0.1),
    ]
    save('cnn_flatten.onnx', nodes, [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, h, w])],
         [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 10])], inits)


def mlp_batch4():
    nodes = [
        helper.make_node('Gemm', ['x', 'w1', 'b1'], ['g1'], transB=1),
        helper.make_node('Relu', ['g1'], ['r1']),
        helper.make_node('Gemm', ['r1', 'w2', 'b2'], ['g2']),
        helper.make_node('Relu', ['g2'], ['r2']),
        helper.make_node('Gemm', ['r2', 'w3', 'b3'], ['y'], transB=1),
    ]
    inits = [
        init('w1', [100, 64], 0.15), init('b1', [100], 0.1),
        init('w2', [100, 48], 0.12), init('b2', [48], 0.1),
        init('w3', [10, 48], 0.2), init('b3', [10], 0.1),
    ]
    save('mlp_batch4.onnx', nodes, [helper.make_tensor_value_info('x', TensorProto.FLOAT, [4, 64])],
         [helper.make_tensor_value_info('y', TensorProto.FLOAT, [4, 10])], inits)


def mlp_matmul():
    nodes = [
        helper.make_node('MatMul', ['x', 'w1'], ['m1']),
        helper.make_node('Add', ['m1', 'b1'], ['a1']),
        helper.make_node('Relu', ['a1'], ['r1']),
        helper.make_node('MatMul', ['r1', 'w2'], ['m2']),
        helper.make_node('Add', ['m2', 'b2'], ['y']),
    ]
    inits = [init('w1', [32, 80], 0.2), init('b1', [80], 0.1), init('w2', [80, 10], 0.15), init('b2', [10], 0.1)]
    save('mlp_matmul.onnx', nodes, [helper.make_tensor_value_info('x', TensorProto.FLOAT, [8, 32])],
         [helper.make_tensor_value_info('y', TensorProto.FLOAT, [8, 10])], inits)


def encoder_block():
    t, d, h = 16, 32, 64
    nodes = []
    inits = []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
        return name

    def layer_norm(x, p):
        const(f'{p}_eps', 1e-5)
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), f'{p}_axes'))
        nodes.extend([
            helper.make_node('ReduceMean', [x], [f'{p}_mean'], axes=[-1]),
            helper.make_node('Sub', [x, f'{p}_mean'], [f'{p}_c']),
            helper.make_node('Mul', [f'{p}_c', f'{p}_c'], [f'{p}_sq']),
            helper.make_node('ReduceMean', [f'{p}_sq'], [f'{p}_var'], axes=[-1]),
            helper.make_node('Add', [f'{p}_var', f'{p}_eps'], [f'{p}_ve']),
            helper.make_node('Sqrt', [f'{p}_ve'], [f'{p}_std']),
            helper.make_node('Div', [f'{p}_c', f'{p}_std'], [f'{p}_n']),
            helper.make_node('Mul', [f'{p}_n', f'{p}_g'], [f'{p}_s']),
            helper.make_node('Add', [f'{p}_s', f'{p}_b'], [f'{p}_out']),
        ])
        inits.append(numpy_helper.from_array((1 + 0.1 * rng.standard_normal(d)).astype(np.float32), f'{p}_g'))
        inits.append(init(f'{p}_b', [d], 0.1))
        return f'{p}_out'

    def linear(x, p, k, n):
        inits.extend([init(f'{p}_w', [k, n], 1 / np.sqrt(k)), init(f'{p}_bias', [n], 0.05)])
        nodes.extend([helper.make_node('MatMul', [x, f'{p}_w'], [f'{p}_mm']), helper.make_node('Add', [f'{p}_mm', f'{p}_bias'], [f'{p}_out'])])
        return f'{p}_out'

    n1 = layer_norm('x', 'ln1')
    q, k, v = (linear(n1, p, d, d) for p in ('q', 'k', 'v'))
    const('scale', 1 / np.sqrt(d))
    nodes.extend([
        helper.make_node('Transpose', [k], ['kt'], perm=[0, 2, 1]),
        helper.make_node('MatMul', [q, 'kt'], ['scores']),
        helper.make_node('Mul', ['scores', 'scale'], ['scaled']),
        helper.make_node('Softmax', ['scaled'], ['attn'], axis=-1),
        helper.make_node('MatMul', ['attn', v], ['ctx']),
    ])
    o = linear('ctx', 'o', d, d)
    nodes.append(helper.make_node('Add', ['x', o], ['res1']))
    n2 = layer_norm('res1', 'ln2')
    f1 = linear(n2, 'ff1', d, h)
    # GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    const('c0', 0.044715)
    const('c1', np.sqrt(2 / np.pi))
    const('half', 0.5)
    const('one', 1.0)
    nodes.extend([
        helper.make_node('Mul', [f1, f1], ['g_sq']),
        helper.make_node('Mul', ['g_sq', f1], ['g_cube']),
        helper.make_node('Mul', ['g_cube', 'c0'], ['g_t']),
        helper.make_node('Add', [f1, 'g_t'], ['g_in']),
        helper.make_node('Mul', ['g_in', 'c1'], ['g_arg']),
        helper.make_node('Tanh', ['g_arg'], ['g_tanh']),
        helper.make_node('Add', ['g_tanh', 'one'], ['g_1p']),
        helper.make_node('Mul', [f1, 'g_1p'], ['g_x']),
        helper.make_node('Mul', ['g_x', 'half'], ['gelu']),
    ])
    f2 = linear('gelu', 'ff2', h, d)
    nodes.append(helper.make_node('Add', ['res1', f2], ['y']))
    inits = [i for i in inits if not i.name.endswith('_axes')]
    save('encoder_block.onnx', nodes, [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, t, d])],
         [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, t, d])], inits)


if __name__ == '__main__':
    cnn_flatten()
    mlp_batch4()
    mlp_matmul()
    encoder_block()
