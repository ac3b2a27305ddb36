"""Runs inside the sandbox: a submitted ONNX model or code package predicts the hidden inputs.

    python -I -B predict.py onnx    --model M --inputs I --output O [--batch-size N --device cpu|cuda ...]
    python -I -B predict.py package --root R  --inputs I --output O [--batch-size N]

Only the standard library, numpy and onnxruntime: the platform's own code is not visible in here. Inputs are
an .npz with arrays "id" and "x"; predictions go to O as .npy (row i for input row i), progress to stdout as
"##wanzhi-progress## <percent>" lines, and a refusal to scratch's error.json as {"code", "message"}.
The host trusts none of it: it re-checks shape, type and values, and decides nothing from error.json but
the message it shows the entrant.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

PROGRESS = "##wanzhi-progress## "
MANIFEST = "manifest.json"
ENTRY_POINT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
ONNX_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(string)": np.object_,
}


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= 400 else text[:400] + " …"


def progress(done: int, total: int) -> None:
    print(f"{PROGRESS}{100 * done // max(total, 1)}", flush=True)


def batched(x: np.ndarray, size: int, predict: Callable[[np.ndarray], Any], what: str) -> np.ndarray:
    parts = []
    n = len(x)
    for start in range(0, n, size):
        batch = x[start : start + size]
        try:
            out = np.asarray(predict(batch))
        except Refused:
            raise
        except Exception as error:
            traceback.print_exc()
            raise Refused(
                "predict_failed", f"{what} failed on rows {start + 1}–{start + len(batch)}: {short(error)}"
            ) from None
        if out.dtype == np.object_:
            raise Refused("output_invalid", f"{what} returned values that are neither numbers nor strings.")
        if out.ndim == 0 or len(out) != len(batch):
            rows = 0 if out.ndim == 0 else len(out)
            raise Refused("wrong_shape", f"{what} returned {rows} rows for a batch of {len(batch)} inputs.")
        parts.append(out)
        progress(start + len(batch), n)
    if not parts:
        raise Refused("output_invalid", "There were no inputs to predict.")
    return np.concatenate(parts)


def run_onnx(args: argparse.Namespace, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.device == "cuda" else ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(args.model, sess_options=options, providers=providers)
    except Exception as error:
        raise Refused("model_invalid", f"The file is not an ONNX model onnxruntime can load: {short(error)}") from None
    if args.device == "cuda" and session.get_providers()[0] != "CUDAExecutionProvider":
        raise Refused("cuda_unavailable", "onnxruntime could not use the GPU assigned to this run.")
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise Refused("model_inputs", f"The model must take exactly one input; it takes {len(inputs)}.")
    dtype = ONNX_TYPES.get(inputs[0].type)
    if dtype is None:
        raise Refused("model_inputs", f"The model's input type {inputs[0].type} is not supported.")
    outputs = session.get_outputs()
    if args.output_name:
        names = [o.name for o in outputs]
        if args.output_name not in names:
            raise Refused("model_outputs", f"The model has no output {args.output_name!r}; it has {names}.")
        name = args.output_name
    elif args.proba:
        two_d = [o.name for o in outputs if isinstance(o.shape, list) and len(o.shape) == 2]
        if not two_d:
            raise Refused("model_outputs", "The model has no 2-D output with one probability per class.")
        name = two_d[0]
    else:
        name = outputs[0].name
    input_name = inputs[0].name
    if x.dtype.kind in "US" and dtype is not np.object_:
        raise Refused("model_inputs", f"The model takes {inputs[0].type}; the inputs of this phase are text.")

    def predict(batch: np.ndarray) -> Any:
        return session.run([name], {input_name: batch.astype(dtype)})[0]

    return batched(x, args.batch_size, predict, "The model")


def run_package(args: argparse.Namespace, x: np.ndarray) -> np.ndarray:
    try:
        with open(os.path.join(args.root, MANIFEST), encoding="utf-8") as file:
            manifest = json.load(file)
    except (OSError, ValueError) as error:
        raise Refused("manifest_invalid", f"{MANIFEST} cannot be read: {short(error)}") from None
    entry = manifest.get("entry_point") if isinstance(manifest, dict) else None
    if not isinstance(entry, str) or not ENTRY_POINT.match(entry):
        raise Refused("manifest_invalid", f'{MANIFEST} must name "entry_point": "module:function".')
    module_name, function_name = entry.split(":")
    sys.path.insert(0, args.root)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        traceback.print_exc()
        raise Refused("entry_point_failed", f"Importing {module_name} failed: {short(error)}") from None
    predict = getattr(module, function_name, None)
    if not callable(predict):
        raise Refused("entry_point_missing", f"{module_name} has no function {function_name}.")
    return batched(x, args.batch_size, predict, f"{entry}")


def refuse(output: str, code: str, message: str) -> int:
    path = os.path.join(os.path.dirname(output), "error.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump({"code": code, "message": message}, file)
    print(f"refused: {message}", file=sys.stderr, flush=True)
    return 3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["onnx", "package"])
    parser.add_argument("--model", default="")
    parser.add_argument("--root", default="")
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--output-name", default="")
    parser.add_argument("--proba", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with np.load(args.inputs, allow_pickle=False) as data:
        x = data["x"]
    progress(0, len(x))
    try:
        out = run_onnx(args, x) if args.mode == "onnx" else run_package(args, x)
    except Refused as refusal:
        return refuse(args.output, refusal.code, refusal.message)
    partial = args.output + ".partial"
    with open(partial, "wb") as file:
        np.save(file, out, allow_pickle=False)
    os.replace(partial, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
