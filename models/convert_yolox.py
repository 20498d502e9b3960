"""Convert YOLOX-nano (Megvii YOLOX, COCO-80, 416x416) from ONNX to safetensors.

Source: `model/yolox_nano.onnx` in the public repository Kazuhito00/YOLOX-ONNX-TFLite-Sample at
commit 3d4f1119d0694200671c08069ecb847aa0d8495a (Apache-2.0; the file is an export of Megvii's
official yolox_nano.pth with YOLOX's tools/export_onnx.py, opset 11, PyTorch 1.10). It is not in
a package registry: put the file at WORKDIR/yolox_nano.onnx, or point YOLOX_ONNX_GIT at a clone
(bare or not) of that repository and the script takes it from the pinned commit with `git show`.
Either way the sha256 is checked.

What the graph is (checked by `_conv_table`, which refuses a graph of another shape):
- input `images` [1,3,416,416] f32, **BGR, 0-255, no normalisation** (YOLOX's `preproc`:
  letterbox to 416 keeping the aspect ratio, image at the TOP-LEFT, the rest filled with 114);
- Focus: four stride-2 Slice pairs concatenated as (even row, even col), (odd row, even col),
  (even row, odd col), (odd row, odd col) -> 12 channels @208;
- 113 Conv nodes, BatchNorm already folded (every conv has a bias); all but the 9 prediction
  convs are followed by SiLU (`x * sigmoid(x)`, exported as Sigmoid + Mul); 3x3 convs are
  depthwise (group = channels) except the Focus one; padding k//2, strides 1 or 2;
- SPP: three stride-1 MaxPools k 5/9/13 padded k//2 (ONNX pads with -inf), concat;
- PAFPN upsampling: Resize nearest x2; PAN downsampling: stride-2 depthwise convs;
- decoupled head per level: outputs concatenated as [reg(4) raw, sigmoid(obj), sigmoid(cls 80)],
  flattened row-major per level, levels 8/16/32 -> output [1, 3549, 85]. The export applies the
  two sigmoids but NOT the box decoding: xy = (reg + cell) * stride, wh = exp(reg) * stride,
  score = obj * cls (see `decode`).

    convert(workdir, outdir)     -> outdir/yolox_nano.safetensors (+ yolox_nano.provenance.json)
    reference(workdir, fixtures) -> fixtures/reference/yolox_nano.safetensors (inputs + outputs)
                                    fixtures/reference/yolox_dets.json (decoded in Python)

Tensor names are the upstream PyTorch module paths of each BaseConv with `.conv.weight` and
`.conv.bias` (BN folded) or, for the prediction 1x1 convs, `.weight`/`.bias`; OIHW, float32
(bit-exact copies of the ONNX initialisers).

Run: python models/convert_yolox.py WORKDIR OUTDIR [FIXTURES]
Needs numpy, onnx, safetensors; `reference` also needs onnxruntime and pypng.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sha256, resize, IoU, COCO names, PNG reader, chelsea.png fetch)

REPOSITORY = "Kazuhito00/YOLOX-ONNX-TFLite-Sample"
COMMIT = "3d4f1119d0694200671c08069ecb847aa0d8495a"
PATH = "model/yolox_nano.onnx"
SHA256 = "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
SIZE = 3660092
LICENCE = ("Apache-2.0 (LICENSE of the repository; weights: Megvii-BaseDetection/YOLOX "
           "yolox_nano.pth, Apache-2.0)")

INPUT_SIZE = 416
PAD_VALUE = 114
STRIDES = (8, 16, 32)
NUM_CLASSES = 80
REFERENCE_MIN_SCORE = 0.1
NMS_IOU = 0.45  # YOLOX demo default


def _csp(p: str, n: int) -> list[str]:
    names = [f"{p}.conv1", f"{p}.conv2"]
    for i in range(n):
        names += [f"{p}.m.{i}.conv1", f"{p}.m.{i}.conv2.dconv", f"{p}.m.{i}.conv2.pconv"]
    return names + [f"{p}.conv3"]


def _dw(p: str) -> list[str]:
    return [f"{p}.dconv", f"{p}.pconv"]


def conv_names() -> list[str]:
    """Module paths of the 113 convolutions, in the graph's (= PyTorch forward) order."""
    b = "backbone.backbone"
    names = [f"{b}.stem.conv"]
    names += _dw(f"{b}.dark2.0") + _csp(f"{b}.dark2.1", 1)
    names += _dw(f"{b}.dark3.0") + _csp(f"{b}.dark3.1", 3)
    names += _dw(f"{b}.dark4.0") + _csp(f"{b}.dark4.1", 3)
    names += _dw(f"{b}.dark5.0") + [f"{b}.dark5.1.conv1", f"{b}.dark5.1.conv2"] + _csp(f"{b}.dark5.2", 1)
    f = "backbone"
    names += [f"{f}.lateral_conv0"] + _csp(f"{f}.C3_p4", 1) + [f"{f}.reduce_conv1"] + _csp(f"{f}.C3_p3", 1)
    names += _dw(f"{f}.bu_conv2") + _csp(f"{f}.C3_n3", 1) + _dw(f"{f}.bu_conv1") + _csp(f"{f}.C3_n4", 1)
    for k in range(3):
        names += [f"head.stems.{k}"] + _dw(f"head.cls_convs.{k}.0") + _dw(f"head.cls_convs.{k}.1")
        names += [f"head.cls_preds.{k}"] + _dw(f"head.reg_convs.{k}.0") + _dw(f"head.reg_convs.{k}.1")
        names += [f"head.reg_preds.{k}", f"head.obj_preds.{k}"]
    return names


def is_pred(name: str) -> bool:
    return name.split(".")[1] in ("cls_preds", "reg_preds", "obj_preds")


def fetch(workdir: Path) -> Path:
    """WORKDIR/yolox_nano.onnx, taken from $YOLOX_ONNX_GIT at the pinned commit if missing."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    dst = workdir / "yolox_nano.onnx"
    if not dst.exists():
        git = os.environ.get("YOLOX_ONNX_GIT")
        if not git:
            raise RuntimeError(f"{dst} missing: copy {PATH} from {REPOSITORY}@{COMMIT} there, or set "
                               "YOLOX_ONNX_GIT to a clone of that repository")
        git_dir = Path(git) / ".git" if (Path(git) / ".git").exists() else Path(git)
        data = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{COMMIT}:{PATH}"],
                              check=True, capture_output=True).stdout
        dst.write_bytes(data)
    data = dst.read_bytes()
    if len(data) != SIZE or common.sha256_bytes(data) != SHA256:
        raise RuntimeError(f"{dst}: {len(data)} bytes, sha256 {common.sha256_bytes(data)}; expected {SIZE}, {SHA256}")
    return dst


def _conv_table(model) -> list[tuple[str, np.ndarray, np.ndarray, int, int]]:
    """(name, OIHW weight, bias, stride, group) per Conv, with structural checks."""
    from onnx import numpy_helper

    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    convs = [n for n in g.node if n.op_type == "Conv"]
    names = conv_names()
    if len(convs) != len(names):
        raise ValueError(f"{len(convs)} Conv nodes, expected {len(names)}")
    table = []
    for name, node in zip(names, convs):
        attrs = {a.name: a for a in node.attribute}
        w, b = inits[node.input[1]], inits[node.input[2]]
        k = w.shape[2]
        stride = list(attrs["strides"].ints)
        group = attrs["group"].i
        pads = list(attrs["pads"].ints)
        if stride[0] != stride[1] or pads != [k // 2] * 4 or w.shape[2] != w.shape[3] or b.shape != (w.shape[0],):
            raise ValueError(f"{name}: unexpected conv {node.name} {w.shape} {stride} {pads}")
        if group != 1 and (group != w.shape[0] or w.shape[1] != 1):
            raise ValueError(f"{name}: group {group} is neither 1 nor depthwise")
        depthwise = group > 1
        if depthwise != name.endswith("dconv") or (k == 3) != (depthwise or name.endswith("stem.conv")):
            raise ValueError(f"{name}: kernel {k} group {group} does not fit the YOLOX-nano layout")
        # SiLU after every conv but the predictions: Sigmoid(y) and Mul(y, sigmoid(y)).
        ops = sorted(c.op_type for c in consumers.get(node.output[0], []))
        silu = ops == ["Mul", "Sigmoid"]
        if silu == is_pred(name):
            raise ValueError(f"{name}: consumers {ops}")
        table.append((name, w.astype(np.float32), b.astype(np.float32), stride[0], group))
    shapes = {"backbone.backbone.stem.conv": (16, 12, 3, 3), "backbone.backbone.dark5.1.conv2": (256, 512, 1, 1),
              "head.stems.2": (64, 256, 1, 1), "head.cls_preds.0": (80, 64, 1, 1), "head.obj_preds.2": (1, 64, 1, 1),
              "backbone.bu_conv1.dconv": (128, 1, 3, 3)}
    for name, w, _, s, _ in table:
        if name in shapes and w.shape != shapes[name]:
            raise ValueError(f"{name}: {w.shape}, expected {shapes[name]}")
    if sum(s == 2 for *_, s, _ in table) != 6:
        raise ValueError("expected 6 stride-2 convolutions")
    return table


def tensor_name(name: str) -> str:
    return name if is_pred(name) else f"{name}.conv"


def convert(workdir: Path, outdir: Path) -> dict:
    import onnx
    from safetensors.numpy import save_file

    src = fetch(workdir)
    model = onnx.load(str(src))
    tensors = {}
    for name, w, b, _, _ in _conv_table(model):
        tensors[f"{tensor_name(name)}.weight"] = np.ascontiguousarray(w)
        tensors[f"{tensor_name(name)}.bias"] = np.ascontiguousarray(b)
    params = sum(int(t.size) for t in tensors.values())
    provenance = {
        "model": "YOLOX-nano (Megvii YOLOX, COCO 80 classes, 416x416)",
        "repository": REPOSITORY, "commit": COMMIT, "path": PATH,
        "sha256": SHA256, "size": SIZE, "licence": LICENCE, "registry": "GitHub repository (not a package)",
        "upstream": "https://github.com/Megvii-BaseDetection/YOLOX (yolox_nano.pth, COCO val AP 25.8)",
        "input": {"name": "images", "shape": [1, 3, INPUT_SIZE, INPUT_SIZE], "layout": "NCHW",
                  "normalisation": "none: BGR pixel values 0-255",
                  "resize": f"letterbox: keep aspect, image at the top-left, pad {PAD_VALUE}"},
        "outputs": {"output": [1, 3549, 85]},
        "outputs_meaning": "per cell (strides 8/16/32, row-major): 4 raw box regressions, "
                           "sigmoid objectness, 80 sigmoid class scores",
        "conversion": "BatchNorm already folded in the source; float32 copied bit-exact",
        "output_file": "yolox_nano.safetensors", "tensors": len(tensors), "parameters": params,
    }
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / "yolox_nano.safetensors"
    save_file(tensors, str(out), metadata={"provenance": json.dumps(provenance)})
    provenance["output_sha256"] = common.sha256_bytes(out.read_bytes())
    (outdir / "yolox_nano.provenance.json").write_text(json.dumps(provenance, indent=1, sort_keys=True) + "\n")
    return provenance


# ---------------------------------------------------------------------------------------------
# Preprocessing (identical, up to float summation order, to objects.rs with Placement::TopLeft)
# ---------------------------------------------------------------------------------------------

def letterbox(img: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, tuple]:
    """Keep aspect ratio, put the image at the top-left, fill with 114. Returns the RGB canvas
    and (sx, sy, 0, 0): canvas_x = orig_x * sx. Sizes round like objects.rs (not YOLOX's floor)."""
    h, w, _ = img.shape
    s = min(size / w, size / h)
    nw = min(size, max(1, int(np.floor(w * s + 0.5))))
    nh = min(size, max(1, int(np.floor(h * s + 0.5))))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = common.resize_rgb(img, nh, nw)
    return canvas, (nw / w, nh / h, 0.0, 0.0)


def network_input(canvas_rgb: np.ndarray) -> np.ndarray:
    """[H,W,3] RGB uint8 -> [1,3,H,W] float32 BGR 0-255."""
    return np.ascontiguousarray(canvas_rgb[:, :, ::-1].transpose(2, 0, 1)[None]).astype(np.float32)


def decode(out: np.ndarray, transform: tuple, orig_wh: tuple, min_score: float,
           iou: float = NMS_IOU, max_dets: int = 100) -> list[dict]:
    """[3549, 85] -> detections in original pixels: every (cell, class) with obj * cls >
    min_score, per-class greedy NMS (IoU > iou suppresses), best max_dets."""
    sx, sy, ox, oy = transform
    w, h = orig_wh
    cells = []
    for s in STRIDES:
        n = INPUT_SIZE // s
        ys, xs = np.divmod(np.arange(n * n), n)
        cells.append(np.stack([xs, ys, np.full(n * n, s)], 1))
    cells = np.concatenate(cells).astype(np.float64)
    o = out.astype(np.float64)
    cx = (o[:, 0] + cells[:, 0]) * cells[:, 2]
    cy = (o[:, 1] + cells[:, 1]) * cells[:, 2]
    bw = np.exp(o[:, 2]) * cells[:, 2]
    bh = np.exp(o[:, 3]) * cells[:, 2]
    scores = o[:, 4:5] * o[:, 5:]
    cand = []
    for i, k in zip(*np.nonzero(scores > min_score)):
        box = [cx[i] - bw[i] / 2, cy[i] - bh[i] / 2, cx[i] + bw[i] / 2, cy[i] + bh[i] / 2]
        cand.append((float(scores[i, k]), int(k), box))
    cand.sort(key=lambda t: -t[0])
    keep: list[tuple] = []
    for d in cand:
        if all(k[1] != d[1] or common.iou(k[2], d[2]) <= iou for k in keep):
            keep.append(d)
    dets = []
    for score, k, (x1, y1, x2, y2) in keep[:max_dets]:
        bb = [min(max((x1 - ox) / sx, 0), w), min(max((y1 - oy) / sy, 0), h),
              min(max((x2 - ox) / sx, 0), w), min(max((y2 - oy) / sy, 0), h)]
        dets.append({"class_id": k, "class_name": common.COCO80[k], "score": round(score, 6),
                     "bbox": [round(float(v), 3) for v in bb]})
    return dets


def reference(workdir: Path, fixtures: Path) -> dict:
    """Writes fixtures/reference/yolox_nano.safetensors and yolox_dets.json.

    Per image NAME (chelsea):
      NAME.input_u8  [1,3,416,416] uint8  letterboxed RGB canvas (NCHW); the graph input is
                     its channels reversed (BGR) as float32
      NAME.transform [4] f32 (sx, sy, 0, 0)
      NAME.output    [1,3549,85] f16  onnxruntime's output
    yolox_dets.json: {NAME: detections decoded from the float32 output, min_score 0.1}.
    """
    import onnxruntime as ort
    from safetensors.numpy import save_file

    fixtures = Path(fixtures)
    src = fetch(workdir)
    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    images = {"chelsea": common.fetch_chelsea(workdir, fixtures)}
    tensors, docs = {}, {}
    for name, path in images.items():
        img = common.read_png(path)
        canvas, transform = letterbox(img)
        out = sess.run(None, {"images": network_input(canvas)})[0]
        tensors[f"{name}.input_u8"] = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])
        tensors[f"{name}.transform"] = np.array(transform, np.float32)
        tensors[f"{name}.output"] = out.astype(np.float16)
        docs[name] = {"image": path.name, "image_sha256": common.sha256_bytes(path.read_bytes()), "transform": list(transform),
                      "detections": decode(out[0], transform, (img.shape[1], img.shape[0]), REFERENCE_MIN_SCORE)}
    meta = {"runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
            "model": f"{REPOSITORY}@{COMMIT} {PATH}"}
    ref_dir = fixtures / "reference"
    ref_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(ref_dir / "yolox_nano.safetensors"), metadata={"reference": json.dumps(meta)})
    doc = {**meta, "min_score": REFERENCE_MIN_SCORE, "iou": NMS_IOU,
           "decoded_from": "float32 onnxruntime outputs, in Python (models/convert_yolox.py: decode)",
           "images": docs}
    (ref_dir / "yolox_dets.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc


if __name__ == "__main__":
    work, out = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps(convert(work, out), indent=1))
    if len(sys.argv) > 3:
        print(json.dumps(reference(work, Path(sys.argv[3])), indent=1))
