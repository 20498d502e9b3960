"""YuNet-n face detector (libfacedetection.train): weights and reference outputs.

Source: the public repository ShiqiYu/libfacedetection.train at commit
0047ac24afb1a50a0c6105001c89d1b5b805dbf1, file `onnx/yunet_n_dynamic.onnx`
(322,906 bytes, sha256 104ee26c...; LICENSE: Apache-2.0). The file is not in a
package registry: bring it into the work directory from a checkout or bare
clone of that repository, e.g.
`git --git-dir=REPO show 0047ac24afb1a50a0c6105001c89d1b5b805dbf1:onnx/yunet_n_dynamic.onnx > WORK/yunet_n_dynamic.onnx`,
or set `YUNET_GIT_DIR=REPO` and this script runs that command itself. Its
sha256 is checked either way.

The graph (opset 11, 146 initialisers, 73,873 parameters, BatchNorm already
folded into the convolutions) is read with the `onnx` package. Every
convolution is named after the candle module tree of `src/detect/yunet.rs`
(`backbone.*`, `neck.*`, `head.*`); weights are stored as float32 in OIHW,
depthwise kernels as [C, 1, 3, 3]. The four prediction branches of each level
(cls 1, obj 1, bbox 4, kps 10 channels; each a 1x1 conv then a 3x3 depthwise
conv) are concatenated in that order into one 1x1 conv 64 -> 16 and one
16-channel depthwise conv per level (`head.{8,16,32}.pw` / `.dw`); this is
exact (the branches are independent per output channel).

`reference()` runs onnxruntime (CPU) on the fixture images as upstream
OpenCV's `FaceDetectorYN` feeds the network (BGR, 0-255 float, no mean or
scale, padded with zeros on the bottom/right to a multiple of 32), stores the
raw outputs for the two PNG fixtures (bit-exact decodes in Python and Rust) in
`fixtures/reference/yunet_n.safetensors`, and writes decoded faces for every
fixture (this file's decode + NMS, and OpenCV's own `FaceDetectorYN` on the
same model as a cross-check) to `fixtures/reference/yunet_boxes.json`. It also
composes `fixtures/reference/yunet_group.png`, a "group" mosaic of 12 faces
of 24-150 px cut from scikit-image's public-domain astronaut picture on its
CC0 coffee picture.

Run: `python models/convert_yunet.py [workdir] [outdir] [fixtures]` with a
Python that has onnx, onnxruntime, numpy, safetensors and
opencv-python-headless (>= 4.8, for the FaceDetectorYN cross-check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sha256, IoU, scikit-image's pictures)

REPOSITORY = "ShiqiYu/libfacedetection.train"
COMMIT = "0047ac24afb1a50a0c6105001c89d1b5b805dbf1"
PATH_IN_REPO = "onnx/yunet_n_dynamic.onnx"
MODEL_FILE = "yunet_n_dynamic.onnx"
MODEL_SHA256 = "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12"
MODEL_BYTES = 322906
LICENCE = "Apache-2.0"
OUT_NAME = "yunet_n.safetensors"

STRIDES = (8, 16, 32)
DIVISOR = 32
# Channel order of the merged per-level head: cls, obj, bbox (4), kps (10).
HEAD_BRANCHES = (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10))
# Upstream decoding defaults used for the reference boxes.
SCORE_THRESHOLD = 0.5
NMS_IOU = 0.3


def fetch_model(workdir: Path) -> Path:
    """The ONNX file in `workdir` (copied there from a clone of the repository)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / MODEL_FILE
    if not path.exists():
        git_dir = os.environ.get("YUNET_GIT_DIR")
        if not git_dir:
            raise RuntimeError(
                f"{path} missing: copy {PATH_IN_REPO} at commit {COMMIT} of {REPOSITORY} there, "
                "or set YUNET_GIT_DIR to a clone of that repository")
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{COMMIT}:{PATH_IN_REPO}"],
                              check=True, capture_output=True).stdout
        path.write_bytes(blob)
    got = common.sha256_file(path)
    if got != MODEL_SHA256 or path.stat().st_size != MODEL_BYTES:
        raise RuntimeError(f"{path}: sha256 {got}, {path.stat().st_size} bytes; expected {MODEL_SHA256}")
    return path


def _conv_names() -> list[str]:
    """Module path of every Conv node, in graph order (verified by shape in `weights`)."""
    names = ["backbone.0.conv", "backbone.0.dp.pw", "backbone.0.dp.dw"]
    for stage, units in [(1, 2), (2, 2), (3, 2), (4, 2), (5, 2)]:
        for u in range(units):
            names += [f"backbone.{stage}.{u}.pw", f"backbone.{stage}.{u}.dw"]
    names += ["neck.32.pw", "neck.32.dw", "neck.16.pw", "neck.16.dw", "neck.8.pw", "neck.8.dw"]
    names += ["head.shared.8.pw", "head.shared.8.dw", "head.shared.16.pw", "head.shared.16.dw",
              "head.shared.32.pw", "head.shared.32.dw"]
    # Graph order of the prediction branches: cls, bbox, obj, kps; each for 8, 16, 32.
    for branch in ("cls", "bbox", "obj", "kps"):
        for s in STRIDES:
            names += [f"branch.{branch}.{s}.pw", f"branch.{branch}.{s}.dw"]
    return names


def _expected_shape(name: str) -> tuple:
    if name == "backbone.0.conv":
        return (16, 3, 3, 3)
    if name.startswith("branch."):
        out = dict(HEAD_BRANCHES)[name.split(".")[1]]
        return (out, 64, 1, 1) if name.endswith(".pw") else (out, 1, 3, 3)
    c_in = 16 if name in ("backbone.0.dp.pw", "backbone.1.0.pw", "backbone.1.1.pw") else 64
    c_out = 16 if name in ("backbone.0.dp.pw", "backbone.0.dp.dw", "backbone.1.0.pw", "backbone.1.0.dw") else 64
    return (c_out, c_in, 1, 1) if name.endswith(".pw") else (c_out, 1, 3, 3)


def weights(model: Path) -> dict[str, np.ndarray]:
    """float32 weights named after the candle modules; heads merged per level."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    names = _conv_names()
    if len(convs) != len(names):
        raise RuntimeError(f"graph has {len(convs)} Conv nodes, expected {len(names)}")
    raw: dict[str, np.ndarray] = {}
    for node, name in zip(convs, names):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        w = inits[node.input[1]].astype(np.float32)
        b = inits[node.input[2]].astype(np.float32)
        if w.shape != _expected_shape(name):
            raise RuntimeError(f"{node.name} -> {name}: shape {w.shape}, expected {_expected_shape(name)}")
        k = w.shape[2]
        stride = 2 if name == "backbone.0.conv" else 1
        groups = w.shape[0] if (k == 3 and name != "backbone.0.conv") else 1
        want = {"strides": [stride, stride], "pads": [k // 2] * 4, "dilations": [1, 1]}
        for key, v in want.items():
            if list(attrs.get(key, v)) != v:
                raise RuntimeError(f"{node.name}: {key} {attrs.get(key)}, expected {v}")
        if attrs.get("group", 1) != groups:
            raise RuntimeError(f"{node.name}: group {attrs.get('group')}, expected {groups}")
        raw[f"{name}.weight"] = w
        raw[f"{name}.bias"] = b
    out = {k: v for k, v in raw.items() if not k.startswith("branch.")}
    for s in STRIDES:
        for part in ("pw", "dw"):
            for t in ("weight", "bias"):
                out[f"head.{s}.{part}.{t}"] = np.concatenate(
                    [raw[f"branch.{br}.{s}.{part}.{t}"] for br, _ in HEAD_BRANCHES], 0)
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def convert(workdir: Path, outdir: Path) -> dict:
    """Check the ONNX file, write outdir/yunet_n.safetensors and its provenance."""
    from safetensors.numpy import save_file

    workdir, outdir = Path(workdir), Path(outdir)
    model = fetch_model(workdir)
    tensors = weights(model)
    provenance = {
        "model": "YuNet-n face detector (libfacedetection.train, dynamic input size)",
        "repository": REPOSITORY,
        "commit": COMMIT,
        "path_in_repository": PATH_IN_REPO,
        "sha256": MODEL_SHA256,
        "bytes": MODEL_BYTES,
        "licence": LICENCE,
        "input": "[B,3,H,W] BGR float32 0-255 (no normalisation), H and W multiples of 32",
        "outputs": "per stride 8/16/32: cls [B,N,1] and obj [B,N,1] (sigmoid), bbox [B,N,4], kps [B,N,10]; "
                   "N = (H/s)*(W/s), row-major cells",
        "dtype": "float32 (as in the ONNX file)",
        "head_merge": "per level, cls|obj|bbox|kps concatenated on the output channel: head.<s>.pw [16,64,1,1], "
                      "head.<s>.dw [16,1,3,3]",
        "tensors": len(tensors),
        "parameters": int(sum(v.size for v in tensors.values())),
    }
    outdir.mkdir(parents=True, exist_ok=True)
    dst = outdir / OUT_NAME
    save_file(tensors, str(dst), metadata={"provenance": json.dumps(provenance, sort_keys=True)})
    dst.chmod(0o644)
    provenance["output_file"] = OUT_NAME
    provenance["output_sha256"] = common.sha256_file(dst)
    (outdir / "yunet_n.provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return provenance


# ---------------------------------------------------------------- reference

def pad_input(bgr: np.ndarray) -> np.ndarray:
    """FaceDetectorYN's input: zero-pad bottom/right to a multiple of 32, NCHW float32."""
    h, w = bgr.shape[:2]
    ph, pw = -(-h // DIVISOR) * DIVISOR, -(-w // DIVISOR) * DIVISOR
    canvas = np.zeros((ph, pw, 3), np.uint8)
    canvas[:h, :w] = bgr
    return canvas.astype(np.float32).transpose(2, 0, 1)[None]


def run_onnx(session, bgr: np.ndarray) -> dict[str, np.ndarray]:
    names = [f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in STRIDES]
    outs = session.run(names, {"input": pad_input(bgr)})
    return dict(zip(names, outs))


def merged_raw(outs: dict[str, np.ndarray]) -> np.ndarray:
    """[N_total, 16] = cls | obj | bbox | kps per cell, levels 8, 16, 32 concatenated
    (the layout `yunet.rs` returns)."""
    per = [np.concatenate([outs[f"{k}_{s}"][0] for k in ("cls", "obj", "bbox", "kps")], 1) for s in STRIDES]
    return np.concatenate(per, 0).astype(np.float32)


def decode(outs: dict[str, np.ndarray], width: int, height: int,
           min_score: float = SCORE_THRESHOLD, nms_iou: float = NMS_IOU) -> list[dict]:
    """Upstream decoding (OpenCV FaceDetectorYN::postProcess), then greedy NMS on
    float boxes, boxes and points clipped to the picture. Pixels of the padded input
    = pixels of the picture (padding is bottom/right only)."""
    ph, pw = -(-height // DIVISOR) * DIVISOR, -(-width // DIVISOR) * DIVISOR
    dets = []
    for s in STRIDES:
        rows, cols = ph // s, pw // s
        cls = np.clip(outs[f"cls_{s}"][0, :, 0], 0, 1)
        obj = np.clip(outs[f"obj_{s}"][0, :, 0], 0, 1)
        score = np.sqrt(cls * obj)
        bbox = outs[f"bbox_{s}"][0]
        kps = outs[f"kps_{s}"][0]
        for idx in np.nonzero(score >= min_score)[0]:
            r, c = divmod(int(idx), cols)
            cx, cy = (c + bbox[idx, 0]) * s, (r + bbox[idx, 1]) * s
            w, h = np.exp(bbox[idx, 2]) * s, np.exp(bbox[idx, 3]) * s
            pts = [[(kps[idx, 2 * n] + c) * s, (kps[idx, 2 * n + 1] + r) * s] for n in range(5)]
            dets.append({"bbox": [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2],
                         "score": float(score[idx]), "keypoints": pts})
    dets.sort(key=lambda d: -d["score"])
    kept: list[dict] = []
    for d in dets:
        if all(common.iou(d["bbox"], k["bbox"]) <= nms_iou for k in kept):
            kept.append(d)
    out = []
    for d in kept:
        b = d["bbox"]
        out.append({"bbox": [float(np.clip(b[0], 0, width)), float(np.clip(b[1], 0, height)),
                             float(np.clip(b[2], 0, width)), float(np.clip(b[3], 0, height))],
                    "score": d["score"],
                    "keypoints": [[float(np.clip(x, 0, width)), float(np.clip(y, 0, height))]
                                  for x, y in d["keypoints"]]})
    return out


def opencv_faces(model: Path, bgr: np.ndarray, min_score: float = SCORE_THRESHOLD) -> list[dict]:
    """OpenCV's own FaceDetectorYN on the same model (unclipped boxes). OpenCV's ONNX
    importer rejects the dynamic input shape, so it gets a copy of the graph whose
    input is fixed to this picture's padded size (same weights and nodes)."""
    import cv2
    import onnx

    h, w = bgr.shape[:2]
    m = onnx.load(str(model))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value, dims[2].dim_value, dims[3].dim_value = 1, -(-h // DIVISOR) * DIVISOR, -(-w // DIVISOR) * DIVISOR
    static = model.with_name(f"yunet_n_{dims[3].dim_value}x{dims[2].dim_value}.onnx")
    onnx.save(m, str(static))
    det = cv2.FaceDetectorYN.create(str(static), "", (w, h), min_score, NMS_IOU, 5000)
    _, faces = det.detect(bgr)
    out = []
    for f in faces if faces is not None else []:
        out.append({"bbox": [float(f[0]), float(f[1]), float(f[0] + f[2]), float(f[1] + f[3])],
                    "score": float(f[14]),
                    "keypoints": [[float(f[4 + 2 * n]), float(f[5 + 2 * n])] for n in range(5)]})
    return out


def make_group(workdir: Path, fixtures: Path) -> Path:
    """12 astronaut heads (24-150 px faces, some mirrored or darkened) on the coffee picture."""
    import cv2

    wheel = common.skimage_wheel(workdir)
    astro = cv2.imread(str(common.extract(wheel, "skimage/data/astronaut.png", workdir)))
    coffee = cv2.imread(str(common.extract(wheel, "skimage/data/coffee.png", workdir)))
    canvas = cv2.resize(coffee, (512, 384), interpolation=cv2.INTER_AREA)
    head = astro[10:200, 140:310]  # 170x190: the head with some hair and collar
    # (x, y, width of the pasted head, mirrored, gain)
    layout = [(10, 10, 190, False, 1.0), (215, 20, 120, True, 0.8), (350, 15, 96, False, 1.1),
              (460, 20, 44, True, 1.0), (350, 150, 72, True, 0.7), (440, 140, 60, False, 1.0),
              (20, 230, 110, True, 0.9), (150, 240, 84, False, 1.2), (250, 250, 64, True, 1.0),
              (330, 260, 52, False, 0.8), (400, 270, 40, True, 1.0), (460, 300, 34, False, 1.1)]
    for x, y, wd, flip, gain in layout:
        ht = round(wd * head.shape[0] / head.shape[1])
        tile = cv2.resize(head[:, ::-1] if flip else head, (wd, ht), interpolation=cv2.INTER_AREA)
        tile = np.clip(tile.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        ht = min(ht, canvas.shape[0] - y)
        wd = min(wd, canvas.shape[1] - x)
        canvas[y:y + ht, x:x + wd] = tile[:ht, :wd]
    out = fixtures / "reference" / "yunet_group.png"
    cv2.imwrite(str(out), canvas, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return out


def reference(workdir: Path, fixtures: Path) -> dict:
    import cv2
    import onnxruntime as ort
    from safetensors.numpy import save_file

    workdir, fixtures = Path(workdir), Path(fixtures)
    model = fetch_model(workdir)
    group = make_group(workdir, fixtures)
    images = [fixtures / "face.jpg", common.two_faces_picture(workdir, fixtures), fixtures / "noface.jpg", group]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    tensors, records = {}, []
    for path in images:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        h, w = bgr.shape[:2]
        outs = run_onnx(session, bgr)
        rel = str(path.relative_to(fixtures))
        if path.suffix == ".png":  # lossless: Rust decodes the same pixels
            tensors[f"raw/{rel}"] = merged_raw(outs)
        ours = decode(outs, w, h)
        cv = opencv_faces(model, bgr)
        if len(ours) != len(cv):
            raise RuntimeError(f"{rel}: decoded {len(ours)} faces, OpenCV FaceDetectorYN {len(cv)}")
        ious = [max((common.iou(c["bbox"], o["bbox"]) for o in ours), default=0.0) for c in cv]
        records.append({"image": rel, "width": w, "height": h, "faces": ours, "opencv": cv,
                        "iou_vs_opencv": ious})
        print(f"{rel}: {len(ours)} faces (OpenCV {len(cv)}), scores {[round(f['score'], 3) for f in ours]}")
    ref = fixtures / "reference"
    meta = {"runtime": f"onnxruntime {ort.__version__} CPU", "model_sha256": MODEL_SHA256,
            "input": "BGR float32 0-255 NCHW, zero-padded bottom/right to a multiple of 32",
            "layout": "[N, 16] per image: cls, obj, bbox(4), kps(10); cells of stride 8, then 16, then 32, row-major"}
    save_file(tensors, str(ref / "yunet_n.safetensors"), metadata=meta)
    (ref / "yunet_n.safetensors").chmod(0o644)
    boxes = {"source": "models/convert_yunet.py decode() on onnxruntime outputs; 'opencv' = "
                       f"cv2.FaceDetectorYN (opencv-python-headless {cv2.__version__}) on the same model",
             "score_threshold": SCORE_THRESHOLD, "nms_iou": NMS_IOU,
             "units": "pixels of the image; bbox = [x0,y0,x1,y1] (clipped to the image in 'faces'); "
                      "keypoints = right eye, left eye, nose tip, right mouth corner, left mouth corner",
             "images": records}
    (ref / "yunet_boxes.json").write_text(json.dumps(boxes, indent=1) + "\n")
    return boxes


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "target" / "model-work" / "yunet"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else here
    fix = Path(sys.argv[3]) if len(sys.argv) > 3 else here.parent / "fixtures"
    print(json.dumps(convert(work, out), indent=2))
    reference(work, fix)
