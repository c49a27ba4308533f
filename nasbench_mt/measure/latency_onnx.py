"""CPU latency under ONNX Runtime: the same method as :mod:`nasbench_mt.measure.latency`, another runtime.

Every exit position ``k`` the architecture has (``upto=k``, the whole network at ``k = 4``) is exported to
ONNX from :func:`~nasbench_mt.space.model.flat_outputs` and run by an onnxruntime ``InferenceSession`` on the
CPU execution provider with one intra-op and one inter-op thread and sequential execution, batch 1.  The
rounds interleave the same fixed reference network (exported once), and the median and IQR come from the same
helpers as the PyTorch-eager latency (:func:`~nasbench_mt.measure.latency.interleaved_times`,
:func:`~nasbench_mt.measure.latency.summarize_times`).  A position without an exit has no ONNX graph (nothing
would be computed) and no value.  Needs the ``[onnx]`` extra (``onnx``, ``onnxruntime``)::

    >>> from nasbench_mt import V1, build_model
    >>> from nasbench_mt.measure.latency_onnx import measure_latency_onnx
    >>> lat = measure_latency_onnx(build_model(V1.sample(1, seed=0)[0]), rounds=5)
    >>> lat.as_row("ort_")["ort_latency_ms"] > 0  # also ort_latency_e{k}_ms, ort_ref_latency_ms, ...
    True
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Sequence

import torch

from nasbench_mt.measure.latency import Latency, interleaved_times, reference_net, summarize_times
from nasbench_mt.space.model import MultiTaskNet, flat_outputs

__all__ = ["EXPORTERS", "export_onnx", "measure_latency_onnx", "onnx_session"]

# torchscript: torch.onnx's tracing exporter (~0.2 s a graph here); dynamo: torch.export + onnxscript (~5 s)
EXPORTERS = ("torchscript", "dynamo")


def export_onnx(net: MultiTaskNet, upto: int | None = None, exporter: str = "torchscript") -> bytes:
    """The ONNX model (serialized bytes) of ``net`` run up to exit position ``upto`` (default: whole net).

    Inputs: ``x`` of shape ``(1, C, H, W)``; outputs: one per exit at or before ``upto`` and per task, named
    ``{task}_exit{k}`` (see :func:`~nasbench_mt.space.model.flat_outputs`).
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"invalid exporter: {exporter!r}; allowed: {list(EXPORTERS)}")
    wrapper, names = flat_outputs(net.eval(), upto)
    if not names:
        raise ValueError(f"invalid upto: {upto}; allowed: a position at or after the first exit {net.arch}")
    space = net.arch.space
    x = torch.zeros(1, space.input_channels, space.input_size, space.input_size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracing exporter's deprecation and tracer warnings
        if exporter == "dynamo":
            program = torch.onnx.export(wrapper, (x,), dynamo=True, input_names=["x"], output_names=names)
            return program.model_proto.SerializeToString()
        buf = io.BytesIO()
        torch.onnx.export(wrapper, (x,), buf, dynamo=False, input_names=["x"], output_names=names)
        return buf.getvalue()


def onnx_session(model: bytes, threads: int = 1):
    """An onnxruntime CPU session: ``threads`` intra-op threads, one inter-op thread, sequential execution."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ImportError(
            "ONNX Runtime latency needs the [onnx] extra: pip install 'nasbench-mt[onnx]'"
        ) from err
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def measure_latency_onnx(
    net: MultiTaskNet,
    reference=None,
    positions: Sequence[int] | None = None,
    warmup: int = 10,
    rounds: int = 30,
    threads: int = 1,
    exporter: str = "torchscript",
) -> Latency:
    """Time ``net`` under onnxruntime (see the module docstring).

    ``reference`` is an :func:`onnx_session` of the reference network (built from
    :func:`~nasbench_mt.measure.latency.reference_net` when None; pass one to reuse it across calls);
    ``positions`` default to every exit position of the architecture.
    """
    space = net.arch.space
    positions = tuple(positions or net.arch.all_exits)
    if reference is None:
        reference = onnx_session(export_onnx(reference_net(net.tasks), exporter=exporter), threads)
    sessions = [onnx_session(export_onnx(net, k, exporter), threads) for k in positions]
    x = torch.randn(1, space.input_channels, space.input_size, space.input_size).numpy()
    ref_run = functools.partial(reference.run, None, {reference.get_inputs()[0].name: x})
    runs = [functools.partial(s.run, None, {s.get_inputs()[0].name: x}) for s in sessions]
    return summarize_times(interleaved_times(ref_run, runs, warmup, rounds), positions)
