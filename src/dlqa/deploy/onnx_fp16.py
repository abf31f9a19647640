"""Two float16 forms of an fp32 ONNX model, written with the onnx API alone (no
onnxconverter-common): the fp16 model a GPU serves, and its emulation for the CPU.

* ``float16_model``: every float32 initializer, Constant and Cast target becomes float16,
  and the graph keeps its float32 inputs and outputs through Cast nodes at the boundary
  (onnxconverter-common's ``keep_io_types``), so a caller feeds and reads the same arrays
  for every target. Ops whose spec leaves float16 out for some input (Resize's scales,
  Range) stay float32 inside casts. This is the model for the CUDA and TensorRT providers.
* ``float16_rounded_model``: the fp32 graph with its weights rounded to fp16 and every float
  activation rounded to fp16 (a Cast to float16 and back after each node), the arithmetic
  left in fp32. It is what the CPU target runs, because onnxruntime's CPU provider,
  given the fp16 model itself, has no fp16 kernel for most ops: it runs them in fp32 and,
  measured on onnxruntime 1.32, drops the casts between consecutive such ops, so the
  activations are never rounded and an fp16 overflow (a value beyond 65504, inf on a GPU)
  goes unseen. The explicit Cast pairs survive its optimiser: activations round and
  overflow to inf as on a GPU. What the emulation still misses is fp16 *arithmetic*
  (accumulation in fp16, a GPU's fused kernels): CPU fp16 parity is a proxy for the CUDA
  target, which is the real one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
FP16_MAX = float(np.finfo(np.float16).max)  # 65504
# Ops whose ONNX spec leaves out float16 for some input (Resize's and Upsample's scales,
# Range) or that onnxruntime runs badly in fp16: they stay float32, with casts around them.
KEEP_FLOAT32_OPS = frozenset(
    {"Resize", "Upsample", "Range", "RoiAlign", "NonMaxSuppression", "RandomUniformLike"}
)
# Ops with a ``dtype`` attribute naming the type they produce.
_DTYPE_OPS = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "EyeLike"}
)


class _Graph:
    """A copy of a model's graph with what both conversions need: which values are float32
    (from shape inference) and a supply of unused names."""

    def __init__(self, model: onnx.ModelProto, purpose: str) -> None:
        self.model = copy.deepcopy(model)
        self.graph = self.model.graph
        for node in self.graph.node:
            kinds = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            if any(a.type in kinds for a in node.attribute):
                raise ValueError(f"{purpose} does not convert control flow ({node.op_type} node)")
        inferred = onnx.shape_inference.infer_shapes(self.model).graph
        values = [*inferred.input, *inferred.output, *inferred.value_info]
        self.floats = {v.name for v in values if v.type.tensor_type.elem_type == FLOAT}
        self.floats |= {t.name for t in inferred.initializer if t.data_type == FLOAT}
        self.inits = {t.name for t in self.graph.initializer}
        self.names = {v.name for v in values} | self.inits
        for node in self.graph.node:
            self.names |= {*node.input, *node.output, node.name}

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def cast(self, source: str, to: int, dest: str | None = None) -> onnx.NodeProto:
        dest = dest or self.fresh(f"{source}__{'fp16' if to == FLOAT16 else 'fp32'}")
        return helper.make_node("Cast", [source], [dest], name=self.fresh(f"Cast_{dest}"), to=to)

    def float_inputs(self) -> list[str]:
        return [
            v.name
            for v in self.graph.input
            if v.type.tensor_type.elem_type == FLOAT and v.name not in self.inits
        ]

    def rename_uses(self, nodes: Iterable[onnx.NodeProto], old: str, new: str) -> None:
        for node in nodes:
            for field in (node.input, node.output):
                for i, name in enumerate(field):
                    if name == old:
                        field[i] = new

    def finish(self, nodes: list[onnx.NodeProto]) -> onnx.ModelProto:
        del self.graph.node[:]
        self.graph.node.extend(nodes)
        onnx.checker.check_model(self.model, full_check=True)
        return self.model


def float16_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """An fp16 copy of ``model`` that still takes and returns float32 (casts at its inputs
    and outputs), validated by ``onnx.checker``. Weights beyond fp16's range are clipped to
    +-65504 (as converters do); activations are not, which is what parity checks catch.
    Control flow (If, Loop, Scan subgraphs) is not converted: a ValueError says so."""
    g = _Graph(model, "float16_model")
    nodes = list(g.graph.node)
    keep32: set[str] = set()  # value names that stay float32
    before: list[onnx.NodeProto] = []
    for name in g.float_inputs():
        cast = g.cast(name, FLOAT16)
        g.rename_uses(nodes, name, cast.output[0])
        g.floats.add(cast.output[0])
        before.append(cast)
        keep32.add(name)
    after: list[onnx.NodeProto] = []
    for value in g.graph.output:
        if value.type.tensor_type.elem_type == FLOAT:
            inner = g.fresh(f"{value.name}__fp16")
            g.rename_uses(nodes, value.name, inner)
            g.floats.add(inner)
            after.append(g.cast(inner, FLOAT, value.name))
            keep32.add(value.name)
    converted: list[onnx.NodeProto] = []
    for node in nodes:
        _retype_node(node)
        if node.op_type not in KEEP_FLOAT32_OPS:
            converted.append(node)
            continue
        for i, name in enumerate(node.input):  # a float32 island: cast in, cast out
            if name in g.floats and name not in keep32:
                cast = g.cast(name, FLOAT)
                converted.append(cast)
                node.input[i] = cast.output[0]
                keep32.add(cast.output[0])
        outs = []
        for i, name in enumerate(node.output):
            if name in g.floats:
                node.output[i] = g.fresh(f"{name}__fp32")
                keep32.add(node.output[i])
                outs.append(g.cast(node.output[i], FLOAT16, name))
        converted.extend([node, *outs])
    for tensor in g.graph.initializer:
        if tensor.data_type == FLOAT:
            tensor.CopyFrom(_to_fp16(tensor))
    for value in g.graph.value_info:
        if value.type.tensor_type.elem_type == FLOAT and value.name not in keep32:
            value.type.tensor_type.elem_type = FLOAT16
    return g.finish(before + converted + after)


def float16_rounded_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """The fp32 ``model`` with fp16's rounding and range but fp32 arithmetic: weights and
    constants rounded to fp16 (clipped to +-65504), the inputs and every float output of
    every node rounded through a Cast to float16 and back (so a value beyond 65504 becomes
    inf). Values whose type shape inference cannot tell are left unrounded."""
    g = _Graph(model, "float16_rounded_model")
    nodes = list(g.graph.node)
    out: list[onnx.NodeProto] = []
    for name in g.float_inputs():
        raw = g.fresh(f"{name}__raw")
        g.rename_uses(nodes, name, raw)
        half = g.cast(name, FLOAT16)
        out.extend([half, g.cast(half.output[0], FLOAT, raw)])
    for node in nodes:
        if node.op_type == "Constant":
            _round_constant(node)
            out.append(node)
            continue
        pairs = []
        for i, name in enumerate(node.output):
            if name in g.floats:
                node.output[i] = g.fresh(f"{name}__raw")
                half = g.cast(node.output[i], FLOAT16)
                pairs.extend([half, g.cast(half.output[0], FLOAT, name)])
        out.extend([node, *pairs])
    for tensor in g.graph.initializer:
        if tensor.data_type == FLOAT:
            tensor.CopyFrom(_rounded(tensor))
    return g.finish(out)


def _to_fp16(tensor: onnx.TensorProto) -> onnx.TensorProto:
    array = numpy_helper.to_array(tensor)
    clipped = np.clip(array, -FP16_MAX, FP16_MAX).astype(np.float16)
    return numpy_helper.from_array(clipped, tensor.name)


def _rounded(tensor: onnx.TensorProto) -> onnx.TensorProto:
    """A float32 tensor holding its values as fp16 would (clipped to fp16's range)."""
    half = numpy_helper.to_array(_to_fp16(tensor))
    return numpy_helper.from_array(half.astype(np.float32), tensor.name)


def _constant_floats(node: onnx.NodeProto) -> None:
    """A Constant's ``value_float(s)`` attribute as a float32 ``value`` tensor."""
    for attr in list(node.attribute):
        if attr.name in ("value_float", "value_floats"):
            array = np.float32(attr.f) if attr.name == "value_float" else np.float32(attr.floats)
            node.attribute.remove(attr)
            node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(array)))


def _round_constant(node: onnx.NodeProto) -> None:
    _constant_floats(node)
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
            attr.t.CopyFrom(_rounded(attr.t))


def _retype_node(node: onnx.NodeProto) -> None:
    """Constants, ConstantOfShape values, Cast targets and dtype attributes to float16."""
    if node.op_type == "Constant":
        _constant_floats(node)
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
            attr.t.CopyFrom(_to_fp16(attr.t))
        elif attr.type == onnx.AttributeProto.INT and attr.i == FLOAT and _names_a_type(node, attr):
            attr.i = FLOAT16


def _names_a_type(node: onnx.NodeProto, attr: onnx.AttributeProto) -> bool:
    """Whether ``attr`` is the element type ``node`` produces (Cast's ``to``, ``dtype``)."""
    return (node.op_type == "Cast" and attr.name == "to") or (
        node.op_type in _DTYPE_OPS and attr.name == "dtype"
    )
