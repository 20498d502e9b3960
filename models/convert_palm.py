"""Convert MediaPipe's palm detector (lite) to safetensors, with reference outputs.

Source: the PyPI wheel ``mediapipe==0.10.21`` (Apache-2.0), the same wheel as
convert_landmarks.py, which ships
``mediapipe/modules/palm_detection/palm_detection_lite.tflite`` (fp16 weights,
every constant behind a DEQUANTIZE op).

The graph has no usable layer names (TF Lite fused the batch norms and gave
the tensors compound names), so the weights are named by the order of their
operators in the graph, which is the order ``src/detect/palm.rs`` runs them:

    the n-th CONV_2D            -> conv{n}.weight [O, I, kh, kw], conv{n}.bias [O]
    the n-th DEPTHWISE_CONV_2D  -> dw{n}.weight [C, 1, 5, 5], dw{n}.bias [C]
    the n-th PRELU              -> prelu{n}.alpha [C]

stored as float16 (lossless: the file stores fp16). The network, read from the
graph: a 5x5/2 stem, BlazeBlocks ``PReLU(skip + conv1x1(dw5x5(x)))`` down to
6x6x256 (stride-2 blocks max-pool the skip and zero-pad its channels), then
two bilinear 2x up-samplings joined to the 12x12 and 24x24 maps, and two SSD
heads (6 anchors a cell at 12x12, 2 at 24x24): 2016 anchors, 18 regression
values each (box and 7 keypoints) and one score logit.

``reference(workdir, fixtures)`` runs ai-edge-litert's Interpreter on fixed
inputs (the astronaut picture letterboxed to 192x192, and the hand fixture
when present) and writes inputs and raw outputs to
``fixtures/reference/palm_detection.safetensors``.

Run: ``python models/convert_palm.py [workdir] [outdir] [fixtures]`` with a
Python that has ai-edge-litert, numpy<2 and safetensors.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import convert_landmarks  # noqa: E402  (the pinned mediapipe wheel)

PATH_IN_WHEEL = "mediapipe/modules/palm_detection/palm_detection_lite.tflite"
MODEL_SHA256 = "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18"
NAME = "palm_detection"
KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dw", "PRELU": "prelu"}


def extract(workdir: Path) -> Path:
    wheel = convert_landmarks.fetch_wheel(Path(workdir))
    return common.extract(wheel, PATH_IN_WHEEL, Path(workdir), MODEL_SHA256)


def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """Every conv / depthwise / PReLU constant, named by operator order, candle layout."""
    return weights_by_order(path, KINDS, {"conv": 30, "dw": 23, "prelu": 26})


def weights_by_order(path: Path, kinds: dict[str, str], expected: dict[str, int]) -> dict[str, np.ndarray]:
    """The fp16 constants of the operators named in `kinds` (TF Lite op -> our prefix),
    the n-th of each kind as `{prefix}{n}`: conv weights OHWI -> OIHW, depthwise 1HWC ->
    C1HW, PReLU alphas flat, dense weights as they are; `expected` counts each kind."""
    it = _interpreter(path)
    ops = it._get_ops_details()
    dequantized = {o["outputs"][0]: o["inputs"][0] for o in ops if o["op_name"] == "DEQUANTIZE"}

    def const(index: int) -> np.ndarray:
        a = np.array(it.get_tensor(dequantized.get(index, index)))
        if a.dtype != np.float16:
            raise ValueError(f"tensor {index}: dtype {a.dtype}, expected float16")
        return a

    counts = {k: 0 for k in kinds.values()}
    tensors = {}
    for o in ops:
        kind = kinds.get(o["op_name"])
        if kind is None:
            continue
        name = f"{kind}{counts[kind]}"
        counts[kind] += 1
        if kind == "prelu":
            tensors[f"{name}.alpha"] = const(o["inputs"][1]).reshape(-1)
            continue
        w = const(o["inputs"][1])
        if kind == "dw":
            w = w.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
        elif kind == "conv":
            w = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        tensors[f"{name}.weight"] = np.ascontiguousarray(w)
        tensors[f"{name}.bias"] = const(o["inputs"][2]).reshape(-1)
    if counts != expected:
        raise ValueError(f"unexpected graph: {counts}")
    return tensors


def run_each(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """The interpreter on each NHWC input of `x` alone: every output by name, stacked."""
    it = _interpreter(path)
    inp = it.get_input_details()[0]["index"]
    outs = {o["name"]: [] for o in it.get_output_details()}
    for i in range(len(x)):
        it.set_tensor(inp, x[i:i + 1])
        it.invoke()
        for o in it.get_output_details():
            outs[o["name"]].append(np.array(it.get_tensor(o["index"]))[0])
    return {k: np.stack(v) for k, v in outs.items()}


def convert(workdir: Path, outdir: Path) -> dict:
    Path(outdir).mkdir(parents=True, exist_ok=True)
    tensors = read_weights(extract(workdir))
    prov = convert_landmarks.wheel_provenance(
        "MediaPipe palm detection (lite): palm boxes and 7 hand keypoints", PATH_IN_WHEEL, MODEL_SHA256,
        input="[B,3,192,192] RGB NCHW float32 in [0,1], letterboxed (tflite: [1,192,192,3] NHWC)",
        outputs={"Identity": [1, 2016, 18], "Identity_1": [1, 2016, 1]},
        notes="names by operator order (conv{n}, dw{n}, prelu{n}); anchors: SSD, strides 8,16,16,16, fixed size, offset 0.5",
        dtype="float16 (lossless: tflite stores fp16)",
        tensors=len(tensors))
    return convert_landmarks.save_with_provenance(tensors, outdir, NAME, prov)


def letterbox(rgb: np.ndarray, size: int = 192) -> np.ndarray:
    """[size, size, 3] in [0, 1]: the picture scaled to fit (common.resize_rgb, as
    src/detect/letterbox.rs), centred, the rest black."""
    h, w, _ = rgb.shape
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = common.resize_rgb(rgb, nh, nw)
    out = np.zeros((size, size, 3), np.float32)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small.astype(np.float32) / 255.0
    return out


def reference(workdir: Path, fixtures: Path) -> list[Path]:
    from safetensors.numpy import save_file

    fixtures = Path(fixtures)
    skdir = Path(workdir) / "skimage"
    astronaut = skdir / "astronaut.png"
    if not astronaut.exists():
        common.extract(common.skimage_wheel(skdir), "skimage/data/astronaut.png", skdir)
    inputs = [letterbox(common.read_png(astronaut))]
    labels = ["skimage/data/astronaut.png (scikit-image 0.25.2), letterboxed"]
    hand = fixtures / "reference" / "palm_hand.png"
    if hand.exists():
        inputs.append(letterbox(common.read_png(hand)))
        labels.append(f"fixtures/reference/{hand.name}, letterboxed")
    x = np.stack(inputs).astype(np.float32)
    outs = run_each(extract(workdir), x)
    path = fixtures / "reference" / "palm_detection.safetensors"
    save_file({"input": np.ascontiguousarray(x.transpose(0, 3, 1, 2)),
               "regressors": outs["Identity"], "scores": outs["Identity_1"]},
              str(path), metadata={"source": json.dumps({"model": PATH_IN_WHEEL, "sha256": MODEL_SHA256, "images": labels,
                                                         "runtime": "ai-edge-litert Interpreter (no delegates)"})})
    os.chmod(path, 0o644)
    return [path]


def main(argv: list[str]) -> int:
    return run_main(sys.modules[__name__], "palm", argv)


def run_main(converter, work: str, argv: list[str]) -> int:
    """A converter's command line, `[workdir] [outdir] [fixtures]`: `converter.convert`,
    then `converter.reference` (workdir defaults to target/model-work/`work`)."""
    here = Path(__file__).resolve().parent
    workdir = Path(argv[1]) if len(argv) > 1 else here.parent / "target" / "model-work" / work
    outdir = Path(argv[2]) if len(argv) > 2 else here
    fixtures = Path(argv[3]) if len(argv) > 3 else here.parent / "fixtures"
    Path(workdir).mkdir(parents=True, exist_ok=True)
    print(json.dumps(converter.convert(workdir, outdir), indent=2))
    for p in converter.reference(workdir, fixtures):
        print(f"wrote {p} ({p.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
