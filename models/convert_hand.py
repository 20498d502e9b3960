"""Convert MediaPipe's hand landmark model (lite) to safetensors, with reference outputs.

Source: the PyPI wheel ``mediapipe==0.10.21`` (Apache-2.0), the same wheel as
convert_landmarks.py and convert_palm.py, which ships
``mediapipe/modules/hand_landmark/hand_landmark_lite.tflite`` (fp16 weights,
every constant behind a DEQUANTIZE op) and ``handedness.txt`` ("Left", "Right").

As for the palm detector, the graph's tensor names are compound, so the weights
are named by the order of their operators, the order ``src/detect/hand.rs``
runs them:

    the n-th CONV_2D             -> conv{n}.weight [O, I, kh, kw], conv{n}.bias [O]
    the n-th DEPTHWISE_CONV_2D   -> dw{n}.weight [C, 1, k, k], dw{n}.bias [C]
    the n-th FULLY_CONNECTED     -> fc{n}.weight [O, I], fc{n}.bias [O]

stored as float16 (lossless). The network, read from the graph: a 3x3/2 stem
(ReLU6) and a 3x3 depthwise (ReLU6) at 112x112, a 1x1 to 16 channels; a first
block whose skip is a 2x2 max-pool; then MobileNetV2 inverted residuals (1x1
expand + ReLU6, 3x3 or 5x5 depthwise + ReLU6, 1x1 project, the input added
where the shape allows) down to 7x7x112; a 1x1 to 672 (ReLU6), a 3x3 depthwise
(ReLU6), the spatial mean; four dense heads: handedness (sigmoid), hand
presence (sigmoid), 21 landmarks (x, y, z in 224-pixel crop units), 21 world
landmarks (metres).

``reference(workdir, fixtures)`` runs ai-edge-litert's Interpreter (no
delegates) on fixed 224x224 inputs (the hand of ``fixtures/reference/palm_hand.png``
cropped square around it, and the astronaut picture, no hand) and writes inputs
and raw outputs to ``fixtures/reference/hand_landmark.safetensors`` (the inputs as bytes, NCHW).

Run: ``python models/convert_hand.py [workdir] [outdir] [fixtures]`` with a
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
import convert_palm  # noqa: E402

PATH_IN_WHEEL = "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite"
MODEL_SHA256 = "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6"
KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dw", "FULLY_CONNECTED": "fc"}
# the square around the drawn hand of palm_hand.png (x0, y0, side), in its pixels
HAND_SQUARE = (262, 210, 120)


def extract(workdir: Path) -> Path:
    wheel = convert_landmarks.fetch_wheel(Path(workdir))
    return common.extract(wheel, PATH_IN_WHEEL, Path(workdir), MODEL_SHA256)


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """Every conv / depthwise / dense constant, named by operator order, candle layout."""
    return convert_palm.weights_by_order(path, KINDS, {"conv": 31, "dw": 16, "fc": 4})


def convert(workdir: Path, outdir: Path) -> dict:
    Path(outdir).mkdir(parents=True, exist_ok=True)
    tensors = read_weights(extract(workdir))
    prov = convert_landmarks.wheel_provenance(
        "MediaPipe hand landmarks (lite): 21 hand points, hand presence and handedness", PATH_IN_WHEEL, MODEL_SHA256,
        input="[B,3,224,224] RGB NCHW float32 in [0,1], the hand's rotated square (tflite: [1,224,224,3] NHWC)",
        outputs={"Identity": [1, 63], "Identity_1": [1, 1], "Identity_2": [1, 1], "Identity_3": [1, 63]},
        notes="names by operator order (conv{n}, dw{n}, fc{n}); fc0 handedness, fc1 hand presence, fc2 landmarks, fc3 world landmarks",
        dtype="float16 (lossless: tflite stores fp16)",
        tensors=len(tensors))
    return convert_landmarks.save_with_provenance(tensors, outdir, "hand_landmark", prov)


def reference(workdir: Path, fixtures: Path) -> list[Path]:
    from safetensors.numpy import save_file

    fixtures = Path(fixtures)
    hand = common.read_png(fixtures / "reference" / "palm_hand.png")
    x0, y0, side = HAND_SQUARE
    inputs = [common.resize_rgb(hand[y0:y0 + side, x0:x0 + side], 224, 224).astype(np.float32) / 255.0]
    labels = [f"fixtures/reference/palm_hand.png[{y0}:{y0 + side}, {x0}:{x0 + side}] resized to 224"]
    skdir = Path(workdir) / "skimage"
    astronaut = skdir / "astronaut.png"
    if not astronaut.exists():
        common.extract(common.skimage_wheel(skdir), "skimage/data/astronaut.png", skdir)
    inputs.append(common.resize_rgb(common.read_png(astronaut), 224, 224).astype(np.float32) / 255.0)
    labels.append("skimage/data/astronaut.png (scikit-image 0.25.2) resized to 224")
    x = np.stack(inputs).astype(np.float32)
    outs = convert_palm.run_each(extract(workdir), x)
    path = fixtures / "reference" / "hand_landmark.safetensors"
    # the inputs are whole multiples of 1/255: stored as bytes (the test divides by 255 as here)
    u8 = np.round(x * 255.0).astype(np.uint8)
    assert np.array_equal(u8.astype(np.float32) / 255.0, x)
    save_file({"input_u8": np.ascontiguousarray(u8.transpose(0, 3, 1, 2)),
               "landmarks": outs["Identity"], "presence": outs["Identity_1"],
               "handedness": outs["Identity_2"], "world": outs["Identity_3"]},
              str(path), metadata={"source": json.dumps({"model": PATH_IN_WHEEL, "images": labels,
                                                         "runtime": "ai-edge-litert Interpreter (no delegates)"})})
    os.chmod(path, 0o644)
    return [path]


def main(argv: list[str]) -> int:
    return convert_palm.run_main(sys.modules[__name__], "hand", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
