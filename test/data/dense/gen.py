"""Generates the small float models of the dense / MatMul tests (committed; CI has no Python).

    python3 test/data/dense/gen.py    # writes the .onnx files next to this script

cnn_flatten.onnx: a conv (20 channels: not a whole 16-channel block) + ReLU, Flatten, two Gemm
layers, batch 1: the flatten that VTA reads as addressing, and GEMV.
mlp_batch4.onnx: three Gemm layers (the middle one in transB=0 form) on 4 rows at once: GEMM.
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


if __name__ == '__main__':
    cnn_flatten()
    mlp_batch4()
