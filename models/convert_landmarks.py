"""Convert MediaPipe's face-mesh and iris landmark models to safetensors.

Source: the PyPI wheel ``mediapipe==0.10.21`` (Apache-2.0), which ships
``face_landmark.tflite`` (468-point mesh + face presence, fp16 weights) and
``iris_landmark.tflite`` (71 eye-contour + 5 iris points, fp32 weights).

``convert(workdir, outdir)`` downloads the pinned wheel with pip, checks its
sha256, extracts both .tflite files (sha256 checked too), reads every constant
weight through the TF Lite interpreter and writes

* ``outdir/face_landmark.safetensors`` (fp16, as stored in the source),
* ``outdir/iris_landmark.safetensors`` (fp32, as stored in the source),
* ``outdir/<name>.provenance.json`` beside each (also embedded in the
  safetensors metadata under ``provenance``),

with tensor names that map 1:1 onto the candle ``VarBuilder`` paths used in
``facemesh.rs`` / ``iris.rs``:

    <layer>/Kernel  (conv, OHWI)        -> <layer>.weight  [O, I, kh, kw]
    <layer>/Kernel  (depthwise, 1HWC)   -> <layer>.weight  [C, 1, kh, kw]
    <layer>/Bias                        -> <layer>.bias    [O]
    p_re_lu_*/Alpha [1, 1, C]           -> p_re_lu_*.alpha [C]

The channel-padding constants (``channel_padding*/Paddings``) are not stored:
the Rust code zero-pads channels itself.

``reference(workdir, fixtures)`` writes the exact model inputs and the raw
outputs of the reference runtime (ai-edge-litert's Interpreter) to
``fixtures/reference/face_landmark.safetensors`` and
``fixtures/reference/iris_landmark.safetensors``, plus a small end-to-end
record ``fixtures/reference/face_pipeline.safetensors`` (detection from
mediapipe's short-range face detector and the 468 points mediapipe's legacy
``solutions.face_mesh`` returns for the same image, in pixels).

Needs: ai-edge-litert, numpy<2, safetensors; ``reference`` also needs
mediapipe==0.10.21 (for the end-to-end record) and opencv (image decoding).
Run: ``python models/convert_landmarks.py [workdir] [outdir] [fixtures]``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sha256, pip download, extraction, scikit-image's astronaut)

PACKAGE = "mediapipe"
VERSION = "0.10.21"
WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
LICENSE = "Apache-2.0"

MODELS = {
    "face_landmark": {
        "path": "mediapipe/modules/face_landmark/face_landmark.tflite",
        "sha256": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        "model": "MediaPipe face mesh (468 landmarks + face presence)",
        "dtype": np.float16,
        "dtype_doc": "float16 (lossless: tflite stores fp16)",
        "input_doc": "[B,3,192,192] RGB NCHW float32 in [0,1] (tflite: [1,192,192,3] NHWC)",
        "input": {"input_1": [1, 192, 192, 3]},
        "outputs": {"conv2d_21": [1, 1, 1, 1404], "conv2d_31": [1, 1, 1, 1]},
        "notes": "outputs: 468x(x,y,z) in 192-pixel crop units, face-presence logit (mediapipe keeps sigmoid > 0.5)",
    },
    "iris_landmark": {
        "path": "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "sha256": "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        "model": "MediaPipe iris landmarks (71 eye contour + 5 iris points)",
        "dtype": np.float32,
        "dtype_doc": "float32 (lossless: tflite stores fp32)",
        "input_doc": "[B,3,64,64] RGB NCHW float32 in [0,1] (tflite: [1,64,64,3] NHWC)",
        "input": {"input_1": [1, 64, 64, 3]},
        "outputs": {"output_eyes_contours_and_brows": [1, 213], "output_iris": [1, 15]},
        "notes": "trained on the eye at mesh points 33/133 (subject's right eye); the 362/263 eye is fed mirrored; outputs in 64-pixel crop units",
    },
}


def fetch_wheel(workdir: Path) -> Path:
    """Download the pinned mediapipe wheel into workdir (once) and check it."""
    return common.pip_download(workdir, f"{PACKAGE}=={VERSION}", WHEEL, WHEEL_SHA256,
                               "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                               "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311")


def wheel_provenance(model: str, path_in_wheel: str, sha256: str, **rest) -> dict:
    """The provenance of a model taken from the pinned wheel: where it came from, and
    `rest` (input, outputs, notes, dtype, tensors)."""
    return {"model": model, "package": PACKAGE, "version": VERSION, "registry": "PyPI", "wheel": WHEEL,
            "wheel_sha256": WHEEL_SHA256, "path_in_package": path_in_wheel, "sha256": sha256, "licence": LICENSE, **rest}


def save_with_provenance(tensors: dict, outdir: Path, name: str, prov: dict) -> dict:
    """`outdir/{name}.safetensors` with `prov` in its metadata, and `{name}.provenance.json`
    beside it (`prov` plus the written file's name and sha256, which it returns)."""
    from safetensors.numpy import save_file

    dst = Path(outdir) / f"{name}.safetensors"
    save_file(tensors, str(dst), metadata={"provenance": json.dumps(prov, sort_keys=True)})
    os.chmod(dst, 0o644)
    prov = {**prov, "output_file": dst.name, "output_sha256": common.sha256_file(dst)}
    (Path(outdir) / f"{name}.provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
    return prov


def extract_models(workdir: Path) -> dict[str, Path]:
    """Extract both .tflite files from the wheel; returns name -> path."""
    wheel = fetch_wheel(workdir)
    return {name: common.extract(wheel, m["path"], workdir, m["sha256"]) for name, m in MODELS.items()}


def _interpreter(path: Path, plain: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if plain:
        # No XNNPACK delegate: constant tensors stay readable one by one.
        it = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    else:
        it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    return it


def read_weights(path: Path, dtype) -> dict[str, np.ndarray]:
    """All conv / depthwise / PReLU constants of a tflite file, candle layout."""
    it = _interpreter(path, plain=True)
    tensors = {}
    for d in it.get_tensor_details():
        name = d["name"]
        if name.endswith("_dequantize") or "/" not in name:
            continue
        layer, kind = name.rsplit("/", 1)
        if kind == "Paddings":
            continue
        a = np.array(it.get_tensor(d["index"]))
        if kind == "Kernel":
            if layer.startswith("depthwise_conv2d"):
                assert a.shape[0] == 1, (name, a.shape)
                a = a.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
            else:
                a = a.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            key = f"{layer}.weight"
        elif kind == "Bias":
            key = f"{layer}.bias"
        elif kind == "Alpha":
            a = a.reshape(-1)
            key = f"{layer}.alpha"
        else:
            raise ValueError(f"unexpected constant {name} {a.shape}")
        if a.dtype != dtype:
            raise ValueError(f"{name}: dtype {a.dtype}, expected {dtype}")
        tensors[key] = np.ascontiguousarray(a)
    return tensors


def convert(workdir: Path, outdir: Path) -> list[dict]:
    """Download, check, convert; returns one provenance dict per model."""
    workdir, outdir = Path(workdir), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = extract_models(workdir)
    provenance = []
    for name, m in MODELS.items():
        tensors = read_weights(paths[name], m["dtype"])
        prov = wheel_provenance(m["model"], m["path"], m["sha256"], input=m["input_doc"], input_shape=m["input"],
                                outputs=m["outputs"], notes=m["notes"], dtype=m["dtype_doc"], tensors=len(tensors))
        provenance.append(save_with_provenance(tensors, outdir, name, prov))
    return provenance


# ----------------------------------------------------------------------------
# Reference outputs


def _roi_from_points(p0, p1, bbox, scale):
    """MediaPipe DetectionsToRects (rotation from p0->p1, target 0) followed by
    RectTransformation(scale, square_long). Pixels in, (cx, cy, size, angle) out."""
    x0, y0, x1, y1 = bbox
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    angle = np.arctan2(p1[1] - p0[1], p1[0] - p0[0])  # = -atan2(-(dy), dx)
    angle = (angle + np.pi) % (2 * np.pi) - np.pi
    size = max(x1 - x0, y1 - y0) * scale
    return cx, cy, size, angle


def _warp(img: np.ndarray, roi, out: int, flip: bool = False) -> np.ndarray:
    """Bilinear, border-replicate crop of the rotated square ROI to out x out,
    as ImageToTensorCalculator maps it (ROI corners -> output pixel edges 0/out,
    output pixel index u samples source point at u * size / out). Returns [0,1]."""
    cx, cy, size, angle = roi
    h, w, _ = img.shape
    u = np.arange(out, dtype=np.float64)
    if flip:
        u = (out - 1) - u
    lx = u[None, :] * size / out - size / 2
    ly = np.arange(out, dtype=np.float64)[:, None] * size / out - size / 2
    c, s = np.cos(angle), np.sin(angle)
    sx = cx + c * lx - s * ly
    sy = cy + s * lx + c * ly
    sx = np.clip(sx, 0, w - 1)
    sy = np.clip(sy, 0, h - 1)
    x0 = np.floor(sx).astype(int)
    y0 = np.floor(sy).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (sx - x0)[..., None]
    fy = (sy - y0)[..., None]
    f = img.astype(np.float64)
    top = f[y0, x0] * (1 - fx) + f[y0, x1] * fx
    bot = f[y1, x0] * (1 - fx) + f[y1, x1] * fx
    return ((top * (1 - fy) + bot * fy) / 255.0).astype(np.float32)


def _project(raw_xy: np.ndarray, roi, out: int, flip: bool = False) -> np.ndarray:
    cx, cy, size, angle = roi
    x = raw_xy[:, 0] / out
    if flip:
        x = 1.0 - x
    x = x - 0.5
    y = raw_xy[:, 1] / out - 0.5
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([cx + (c * x - s * y) * size, cy + (s * x + c * y) * size], axis=1)


def _image(workdir: Path, fixtures: Path) -> tuple[np.ndarray, str]:
    import cv2

    face = fixtures / "face.jpg"
    if face.exists():
        path, label = face, "face.jpg"
    else:
        skdir = workdir / "skimage"
        path = skdir / "astronaut.png"
        if not path.exists():
            common.extract(common.skimage_wheel(skdir), "skimage/data/astronaut.png", skdir)
        label = "skimage/data/astronaut.png (scikit-image 0.25.2)"
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError(f"cannot decode {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1]), label


def _detect(rgb: np.ndarray):
    """Short-range face detection (the detector mediapipe's face mesh uses)."""
    import mediapipe as mp

    h, w, _ = rgb.shape
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as fd:
        res = fd.process(rgb)
    if not res.detections:
        raise RuntimeError("no face detected in the reference image")
    d = res.detections[0].location_data
    b = d.relative_bounding_box
    bbox = np.array([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h], np.float32)
    kps = np.array([[k.x * w, k.y * h] for k in d.relative_keypoints], np.float32)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                         refine_landmarks=False) as fm:
        res = fm.process(rgb)
    mesh = None
    if res.multi_face_landmarks:
        lm = res.multi_face_landmarks[0].landmark
        mesh = np.array([[p.x * w, p.y * h, p.z * w] for p in lm], np.float32)
    return bbox, kps, mesh


def _run(it, x: np.ndarray) -> list[np.ndarray]:
    outs = []
    inp = it.get_input_details()[0]["index"]
    for i in range(x.shape[0]):
        it.set_tensor(inp, x[i:i + 1])
        it.invoke()
        outs.append([np.array(it.get_tensor(o["index"])) for o in it.get_output_details()])
    return [np.concatenate([o[k] for o in outs], axis=0) for k in range(len(outs[0]))]


def _outputs_by_name(it) -> list[str]:
    return [o["name"] for o in it.get_output_details()]


def reference(workdir: Path, fixtures: Path) -> list[Path]:
    """Write reference inputs/outputs of the TF Lite runtime (see module doc)."""
    from safetensors.numpy import save_file

    workdir, fixtures = Path(workdir), Path(fixtures)
    refdir = fixtures / "reference"
    refdir.mkdir(parents=True, exist_ok=True)
    paths = extract_models(workdir)
    rgb, label = _image(workdir, fixtures)
    bbox, kps, mp_mesh = _detect(rgb)

    # --- face mesh on the detection ROI (kp0 -> kp1 rotation, 1.5x, square) ---
    face_roi = _roi_from_points(kps[0], kps[1], bbox, 1.5)
    x = _warp(rgb, face_roi, 192)[None]
    it = _interpreter(paths["face_landmark"])
    names = _outputs_by_name(it)
    outs = dict(zip(names, _run(it, x)))
    lm = outs["conv2d_21"].reshape(1, 1404)
    logit = outs["conv2d_31"].reshape(1, 1)
    meta = {"source": json.dumps({"model": MODELS["face_landmark"]["path"], "sha256": MODELS["face_landmark"]["sha256"],
                                  "image": label, "runtime": "ai-edge-litert Interpreter (default delegates)"})}
    face_path = refdir / "face_landmark.safetensors"
    save_file({"input": x, "landmarks": lm, "presence_logit": logit}, str(face_path), metadata=meta)

    # --- iris on both eyes, ROIs from the mesh eye corners ---
    pts = _project(lm.reshape(468, 3)[:, :2], face_roi, 192)
    inputs, rois = [], []
    for a, b, flip in ((33, 133, False), (362, 263, True)):
        p0, p1 = pts[a], pts[b]
        box = (min(p0[0], p1[0]), min(p0[1], p1[1]), max(p0[0], p1[0]), max(p0[1], p1[1]))
        roi = _roi_from_points(p0, p1, box, 2.3)
        inputs.append(_warp(rgb, roi, 64, flip))
        rois.append(roi)
    xi = np.stack(inputs)
    it = _interpreter(paths["iris_landmark"])
    outs = dict(zip(_outputs_by_name(it), _run(it, xi)))
    meta = {"source": json.dumps({"model": MODELS["iris_landmark"]["path"], "sha256": MODELS["iris_landmark"]["sha256"],
                                  "image": label, "batch": "0 = mesh 33/133 eye (unflipped), 1 = mesh 362/263 eye (flipped)",
                                  "runtime": "ai-edge-litert Interpreter (default delegates)"})}
    iris_path = refdir / "iris_landmark.safetensors"
    save_file({"input": xi, "eye_contour": outs["output_eyes_contours_and_brows"].reshape(2, 213),
               "iris": outs["output_iris"].reshape(2, 15)}, str(iris_path), metadata=meta)

    # --- end-to-end record: detection + mediapipe's own face mesh, pixels ---
    pipe = {"bbox": bbox, "keypoints": kps, "image_size": np.array([rgb.shape[1], rgb.shape[0]], np.float32),
            "python_mesh": np.concatenate([pts, lm.reshape(468, 3)[:, 2:] / 192.0 * face_roi[2]], axis=1).astype(np.float32)}
    if mp_mesh is not None:
        pipe["mediapipe_mesh"] = mp_mesh
    pipe_path = refdir / "face_pipeline.safetensors"
    save_file(pipe, str(pipe_path), metadata={"image": label, "detector": "mediapipe solutions.face_detection model_selection=0",
                                               "mesh": "mediapipe solutions.face_mesh static_image_mode refine_landmarks=False"})
    for p in (face_path, iris_path, pipe_path):
        os.chmod(p, 0o644)
    return [face_path, iris_path, pipe_path]


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    workdir = Path(argv[1]) if len(argv) > 1 else here.parent / "target" / "model-work"
    outdir = Path(argv[2]) if len(argv) > 2 else here
    fixtures = Path(argv[3]) if len(argv) > 3 else here.parent / "fixtures"
    prov = convert(workdir, outdir)
    print(json.dumps(prov, indent=2))
    for p in reference(workdir, fixtures):
        print(f"wrote {p} ({p.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
