"""dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1): weights and references.

Source: the `face-recognition-models==0.3.0` sdist from PyPI (CC0 1.0, Davis King's models
repackaged), file `face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat`.

The .dat file is dlib's own binary serialization of the network type `anet_type` of dlib's
`dnn_face_recognition_ex.cpp`::

    loss_metric<fc_no_bias<128, avg_pool_everything<
        ares_down<256, ares<256, ares<256, ares_down<256,      # level0, level1
        ares<128, ares<128, ares_down<128,                     # level2
        ares<64, ares<64, ares<64, ares_down<64,               # level3
        ares<32, ares<32, ares<32,                             # level4
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2,
        input_rgb_image_sized<150>>>>>>>>>>>>>>>>>>>>

    ares<N>      = relu(x + block(x, stride 1))
    ares_down<N> = relu(avg_pool2x2s2(x) + block(x, stride 2))   (zero-padded add, see below)
    block        = affine(con3x3 s1(relu(affine(con3x3 stride(x)))))

This file parses that serialization itself (no dlib needed to convert). The encoding, read from
dlib's dlib/serialize.h, dlib/float_details.h, dlib/cuda/tensor.h and dlib/dnn/{core,layers,
loss,input}.h:

* integers: one control byte (low nibble = byte count n, bit 0x80 = negative), then n bytes of
  the magnitude, little endian. Unsigned the same without the sign bit.
* float/double scalars: a `float_details`: mantissa (int64, as above) then exponent (int16),
  value = mantissa * 2**exponent (exponent 32000/32001/32002 = inf/-inf/nan).
* bool: one ASCII byte '0' or '1'. std::string: length (unsigned) then the bytes.
* resizable_tensor: int version (2), then num_samples, k, nr, nc, then the values as raw
  little-endian IEEE float32. alias_tensor: int version (1) and the four sizes.
* add_loss_layer: int version (1), loss details, subnetwork. add_layer: int version, the
  subnetwork first (so the file runs from the input upwards), the layer details, three bools,
  tensors x_grad, cached_output, params_grad (version 2). The bottom add_layer holds the input
  layer instead of a subnetwork and ends with grad_final (+ an int in version 3).
  add_tag_layer / add_skip_layer: int version (1), subnetwork.
* layer details start with a version string: "con_4" (params tensor, num_filters, nr, nc,
  stride_y, stride_x, padding_y, padding_x, alias filters, alias biases, 4 float
  multipliers), "affine_" (params, alias gamma, alias beta, int mode), "relu_", "add_prev_",
  "avg_pool_2"/"max_pool_2" (nr, nc, stride_y, stride_x, padding_y, padding_x), "fc_2"/"fc_3"
  (num_outputs, num_inputs, params, alias weights, alias biases, int bias mode, 4 floats
  [, bool use_bias]), "input_rgb_image_sized" (3 float means, nr, nc), "loss_metric_2"
  (margin, distance threshold).

`convert()` checks every layer against the architecture above and writes
models/dlib_resnet.safetensors with, per convolution, the affine layer that follows it folded
in (weight * gamma[o], bias * gamma + beta), stored as float16 (the conversion reports the
worst embedding change this rounding causes on the reference chips). Names follow the candle
module tree of src/detect/face_embed.rs: `stem.{weight,bias}`, `blocks.{i}.conv{1,2}.{weight,
bias}` for the 14 residual blocks from input to output, `fc.weight` [128,256] (candle Linear
layout, no bias), plus `input_mean` [3] (the input layer's RGB means, float32).

`reference()` runs dlib itself (the `dlib-bin` wheel, a CPU build of dlib 20) on fixture face
images: dlib's HOG frontal face detector, dlib's 5-point shape predictor
(`shape_predictor_5_face_landmarks.dat` from the same sdist; Davis King trained it on his own
CC0 5-point landmark dataset, see the dlib-models README), `dlib.get_face_chip(img, shape,
size=150, padding=0.25)` for the chips and `face_recognition_model_v1.compute_face_descriptor`
on those chips for the embeddings. It stores chips (u8) + embeddings + the 5 landmarks in
fixtures/reference/dlib_resnet.safetensors. It also runs a small numpy forward pass of the
parsed network to check the parsing before any Rust exists.

The 68-point shape predictor in the same sdist is never opened (its training data, iBUG 300-W,
is not licensed for commercial use).

Run: `python models/convert_dlib.py [workdir] [outdir] [fixtures] [--reference]` with a Python
that has numpy and safetensors (+ dlib-bin, pillow for --reference).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sha256, pip download, extraction, the two-face picture)

PACKAGE = "face-recognition-models"
VERSION = "0.3.0"
SDIST = "face_recognition_models-0.3.0.tar.gz"
SDIST_SHA256 = "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf"
MODEL_IN_SDIST = "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"
MODEL_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
SP5_IN_SDIST = "face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_5_face_landmarks.dat"
SP5_SHA256 = "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
LICENCE = "CC0-1.0"
OUT_NAME = "dlib_resnet.safetensors"

# The face_recognition sdist's test images (used only for the verification numbers, never
# written into the repository).
FR_SDIST = "face_recognition-1.3.0.tar.gz"

# (filters, stride) of the 14 residual blocks, input to output.
BLOCKS = [(32, 1)] * 3 + [(64, 2)] + [(64, 1)] * 3 + [(128, 2)] + [(128, 1)] * 2 \
    + [(256, 2)] + [(256, 1)] * 2 + [(256, 2)]


def fetch_sdist(workdir: Path) -> Path:
    return common.pip_download(workdir, f"{PACKAGE}=={VERSION}", SDIST, SDIST_SHA256, "--no-binary", ":all:")


def extract(workdir: Path, member: str, sha256: str) -> Path:
    """WORKDIR/<basename of member>, from the sdist, sha256-checked."""
    return common.extract(fetch_sdist(workdir), member, workdir, sha256)


# ---------------------------------------------------------------- dlib deserialization

class Reader:
    def __init__(self, data: bytes):
        self.d = data
        self.p = 0

    def byte(self) -> int:
        b = self.d[self.p]
        self.p += 1
        return b

    def int(self, signed: bool = True) -> int:
        ctl = self.byte()
        n = ctl & 0x0F
        if n == 0 or n > 8 or (ctl & 0x70):
            raise ValueError(f"bad integer control byte {ctl:#x} at {self.p - 1}")
        v = int.from_bytes(self.d[self.p:self.p + n], "little")
        self.p += n
        if ctl & 0x80:
            if not signed:
                raise ValueError(f"negative unsigned integer at {self.p}")
            v = -v
        return v

    def float(self) -> float:
        if self.d[self.p] & 0x70:
            raise ValueError(f"old ASCII float format at {self.p}; not supported")
        man = self.int()
        exp = self.int()
        if exp == 32000:
            return float("inf")
        if exp == 32001:
            return float("-inf")
        if exp == 32002:
            return float("nan")
        return float(np.ldexp(float(man), exp))

    def bool(self) -> bool:
        c = self.byte()
        if c not in (ord("0"), ord("1")):
            raise ValueError(f"bad bool byte {c:#x} at {self.p - 1}")
        return c == ord("1")

    def string(self) -> str:
        n = self.int(signed=False)
        s = self.d[self.p:self.p + n].decode("ascii")
        self.p += n
        return s

    def tensor(self) -> np.ndarray:
        v = self.int()
        if v != 2:
            raise ValueError(f"tensor version {v} at {self.p}")
        shape = tuple(self.int() for _ in range(4))
        n = int(np.prod(shape))
        a = np.frombuffer(self.d, "<f4", n, self.p).reshape(shape).copy()
        self.p += 4 * n
        return a

    def alias(self) -> tuple[int, ...]:
        v = self.int()
        if v != 1:
            raise ValueError(f"alias_tensor version {v} at {self.p}")
        return tuple(self.int() for _ in range(4))


def _layer_stack() -> list[tuple]:
    """The layers of anet_type from the top (below the loss) to the bottom, as dlib nests them.
    Each entry: (kind, details) where details are checked against the file."""
    top: list[tuple] = [("fc", 128), ("avg_pool", (0, 0, 1, 1))]
    for i in reversed(range(len(BLOCKS))):
        n, stride = BLOCKS[i]
        body = [("affine", i, 2), ("con", (i, 2), n, 1), ("relu",), ("affine", i, 1), ("con", (i, 1), n, stride)]
        if stride == 1:
            top += [("relu",), ("add_prev",)] + body + [("tag",)]
        else:
            top += [("relu",), ("add_prev",), ("avg_pool", (2, 2, 2, 2)), ("skip",), ("tag",)] + body + [("tag",)]
    top += [("max_pool", (3, 3, 2, 2)), ("relu",), ("affine", "stem"), ("con", "stem", 32, 2)]
    return top


def parse(data: bytes) -> dict:
    """Deserialize the .dat file; returns {'input_mean', 'loss', 'layers': {...}} with
    float32 arrays, checking every structural fact against _layer_stack()."""
    r = Reader(data)
    if r.int() != 1:
        raise ValueError("add_loss_layer version")
    loss = r.string()
    if loss != "loss_metric_2":
        raise ValueError(f"loss {loss}")
    margin, dist = r.float(), r.float()
    stack = _layer_stack()
    out: dict = {"loss": {"margin": margin, "distance_threshold": dist}, "layers": {}}

    def details(layer):
        kind = layer[0]
        name = r.string()
        if kind == "con":
            if name != "con_4":
                raise ValueError(f"expected con_4, got {name}")
            params = r.tensor()
            nf, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
            fshape, bshape = r.alias(), r.alias()
            [r.float() for _ in range(4)]
            want_n, want_stride = layer[2], layer[3]
            k = 7 if layer[1] == "stem" else 3
            want_pad = k // 2 if want_stride == 1 else 0
            if (nf, nr, nc, sy, sx, py, px) != (want_n, k, k, want_stride, want_stride, want_pad, want_pad):
                raise ValueError(f"con {layer[1]}: {(nf, nr, nc, sy, sx, py, px)}")
            flat = params.reshape(-1)
            nw = int(np.prod(fshape))
            if fshape[0] != nf or bshape != (1, nf, 1, 1) or flat.size != nw + nf:
                raise ValueError(f"con {layer[1]}: shapes {fshape} {bshape} {flat.size}")
            out["layers"][("con", layer[1])] = (flat[:nw].reshape(fshape), flat[nw:], (sy, py))
        elif kind == "affine":
            if name not in ("affine_", "affine_2"):
                raise ValueError(f"expected affine_, got {name}")
            params = r.tensor()
            g, b = r.alias(), r.alias()
            mode = r.int()
            if name == "affine_2":
                r.bool()
            flat = params.reshape(-1)
            c = int(np.prod(g))
            if mode != 0 or g != b or flat.size != 2 * c:  # 0 = CONV_MODE: one gamma per channel
                raise ValueError(f"affine: mode {mode}, {g} {b} {flat.size}")
            key = ("affine", layer[1]) if layer[1] == "stem" else ("affine", (layer[1], layer[2]))
            out["layers"][key] = (flat[:c], flat[c:])
        elif kind == "relu":
            if name == "relu_2":
                r.bool()
            elif name != "relu_":
                raise ValueError(f"expected relu_, got {name}")
        elif kind == "add_prev":
            if name != "add_prev_":
                raise ValueError(f"expected add_prev_, got {name}")
        elif kind in ("avg_pool", "max_pool"):
            if name != f"{kind}_2":
                raise ValueError(f"expected {kind}_2, got {name}")
            got = tuple(r.int() for _ in range(6))
            nr, nc, sy, sx = layer[1]
            if got != (nr, nc, sy, sx, 0, 0):
                raise ValueError(f"{kind}: {got}")
        elif kind == "fc":
            if name not in ("fc_2", "fc_3"):
                raise ValueError(f"expected fc_, got {name}")
            nout, nin = r.int(), r.int()
            params = r.tensor()
            wshape, bshape = r.alias(), r.alias()
            bmode = r.int()
            [r.float() for _ in range(4)]
            if name == "fc_3":
                r.bool()
            if nout != layer[1] or bmode != 1 or wshape != (nin, nout, 1, 1):  # 1 = FC_NO_BIAS
                raise ValueError(f"fc: {nout} {nin} {bmode} {wshape} {bshape}")
            out["layers"][("fc",)] = params.reshape(-1)[:nin * nout].reshape(nin, nout)
        else:
            raise ValueError(kind)

    def node(i: int):
        layer = stack[i]
        v = r.int()
        if layer[0] in ("tag", "skip"):
            if v != 1:
                raise ValueError(f"{layer[0]} version {v}")
            node(i + 1)
            return
        if i == len(stack) - 1:  # bottom add_layer: holds the input layer
            if v not in (2, 3):
                raise ValueError(f"input add_layer version {v}")
            name = r.string()
            if name != "input_rgb_image_sized":
                raise ValueError(f"input layer {name}")
            out["input_mean"] = np.array([r.float(), r.float(), r.float()], np.float32)
            size = (r.int(signed=False), r.int(signed=False))
            if size != (150, 150):
                raise ValueError(f"input size {size}")
            details(layer)
            [r.bool() for _ in range(3)]
            [r.tensor() for _ in range(3)]
            if v == 3:
                r.int()
            return
        if v not in (1, 2):
            raise ValueError(f"add_layer version {v} at {r.p}")
        node(i + 1)
        details(layer)
        [r.bool() for _ in range(3)]
        r.tensor(); r.tensor()
        if v == 2:
            r.tensor()

    node(0)
    if r.p != len(data):
        raise ValueError(f"{len(data) - r.p} trailing bytes")
    return out


def folded(net: dict) -> dict[str, np.ndarray]:
    """float32 tensors in the candle layout, each affine folded into its convolution."""
    L = net["layers"]
    t: dict[str, np.ndarray] = {}

    def fold(con_key, aff_key, name):
        w, b, _ = L[("con", con_key)]
        g, beta = L[("affine", aff_key)]
        t[f"{name}.weight"] = np.ascontiguousarray(w * g[:, None, None, None], np.float32)
        t[f"{name}.bias"] = np.ascontiguousarray(b * g + beta, np.float32)

    fold("stem", "stem", "stem")
    for i in range(len(BLOCKS)):
        fold((i, 1), (i, 1), f"blocks.{i}.conv1")
        fold((i, 2), (i, 2), f"blocks.{i}.conv2")
    t["fc.weight"] = np.ascontiguousarray(L[("fc",)].T, np.float32)  # dlib: x[N,256] @ W[256,128]
    t["input_mean"] = net["input_mean"]
    return t


# ---------------------------------------------------------------- numpy forward (parser check)

def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    c, h, wd = x.shape
    o, _, k, _ = w.shape
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ho = (x.shape[1] - k) // stride + 1
    wo = (x.shape[2] - k) // stride + 1
    cols = np.empty((c, k, k, ho, wo), np.float32)
    for dy in range(k):
        for dx in range(k):
            cols[:, dy, dx] = x[:, dy:dy + stride * (ho - 1) + 1:stride, dx:dx + stride * (wo - 1) + 1:stride]
    y = w.reshape(o, -1) @ cols.reshape(-1, ho * wo)
    return (y + b[:, None]).reshape(o, ho, wo)


def _pool(x: np.ndarray, k: int, s: int, op) -> np.ndarray:
    c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    win = np.stack([x[:, dy:dy + s * (ho - 1) + 1:s, dx:dx + s * (wo - 1) + 1:s]
                    for dy in range(k) for dx in range(k)])
    return op(win, axis=0)


def _add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's tt::add for tensors of different sizes: zero-pad both to the larger shape."""
    shape = tuple(max(p, q) for p, q in zip(a.shape, b.shape))
    out = np.zeros(shape, np.float32)
    out[:a.shape[0], :a.shape[1], :a.shape[2]] += a
    out[:b.shape[0], :b.shape[1], :b.shape[2]] += b
    return out


def forward(t: dict[str, np.ndarray], chip: np.ndarray) -> np.ndarray:
    """chip: [150,150,3] uint8 RGB -> [128] embedding, with the folded tensors t."""
    x = ((chip.astype(np.float32) - t["input_mean"]) / np.float32(256.0)).transpose(2, 0, 1)
    x = np.maximum(_conv(x, t["stem.weight"], t["stem.bias"], 2, 0), 0)
    x = _pool(x, 3, 2, np.max)
    for i, (_, stride) in enumerate(BLOCKS):
        y = _conv(x, t[f"blocks.{i}.conv1.weight"], t[f"blocks.{i}.conv1.bias"], stride, 1 if stride == 1 else 0)
        y = _conv(np.maximum(y, 0), t[f"blocks.{i}.conv2.weight"], t[f"blocks.{i}.conv2.bias"], 1, 1)
        skip = x if stride == 1 else _pool(x, 2, 2, np.mean)
        x = np.maximum(_add_padded(y, skip), 0)
    return t["fc.weight"] @ x.mean(axis=(1, 2))


def convert(workdir: Path, outdir: Path) -> dict:
    from safetensors.numpy import save_file

    workdir, outdir = Path(workdir), Path(outdir)
    dat = extract(workdir, MODEL_IN_SDIST, MODEL_SHA256)
    net = parse(dat.read_bytes())
    t = folded(net)
    store = {k: (v if k == "input_mean" else v.astype(np.float16)) for k, v in t.items()}
    for k, v in store.items():
        if not np.all(np.isfinite(v.astype(np.float32))):
            raise RuntimeError(f"{k} overflows float16")
    provenance = {
        "model": "dlib ResNet face descriptor (dlib_face_recognition_resnet_model_v1), 128-d",
        "package": PACKAGE,
        "registry": "PyPI (sdist)",
        "version": VERSION,
        "sdist": SDIST,
        "sdist_sha256": SDIST_SHA256,
        "path_in_package": MODEL_IN_SDIST.split("/", 1)[1],
        "sha256": MODEL_SHA256,
        "licence": LICENCE,
        "author": "Davis E. King (dlib); trained by him, released as public domain / CC0",
        "input": "[B,3,150,150] RGB NCHW float32 = (u8 - input_mean) / 256, an aligned face chip",
        "outputs": {"embedding": [1, 128]},
        "loss": net["loss"],
        "dtype": "float16 (affine layers folded into the convolutions); input_mean float32",
        "tensors": len(store),
    }
    outdir.mkdir(parents=True, exist_ok=True)
    dst = outdir / OUT_NAME
    save_file(store, str(dst), metadata={"provenance": json.dumps(provenance, sort_keys=True)})
    dst.chmod(0o644)
    provenance["output_file"] = OUT_NAME
    provenance["output_sha256"] = common.sha256_file(dst)
    (outdir / "dlib_resnet.provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return provenance


# ---------------------------------------------------------------- reference (dlib itself)

def _carphone_frame(fixtures: Path, workdir: Path, t: float) -> np.ndarray:
    """One RGB frame of the carphone clip (a man; a different person from the astronaut)
    from fixtures/h264_aac.mp4, decoded with the ffmpeg CLI."""
    from PIL import Image

    out = workdir / f"carphone_{t:.2f}.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{t}", "-i", str(fixtures / "h264_aac.mp4"),
                    "-frames:v", "1", str(out)], check=True)
    return np.asarray(Image.open(out).convert("RGB"))


def _fr_test_images(workdir: Path) -> dict[str, np.ndarray]:
    """face_recognition==1.3.0 sdist (MIT) tests/test_images: three photos of Barack Obama,
    two partial (cropped) ones, one of Joe Biden. Used only for the verification numbers; never committed."""
    from PIL import Image

    path = workdir / FR_SDIST
    if not path.exists():
        common.pip(workdir, "face_recognition==1.3.0", "--no-binary", ":all:")
    out = {}
    for name in ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg",
                 "biden.jpg"]:
        data = common.read_member(path, f"face_recognition-1.3.0/tests/test_images/{name}")
        out[name.split(".")[0]] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return out


class Dlib:
    """dlib's own pipeline: HOG detector, 5-point shape predictor, get_face_chip, ResNet."""

    def __init__(self, workdir: Path):
        import dlib

        self.dlib = dlib
        self.det = dlib.get_frontal_face_detector()
        self.sp = dlib.shape_predictor(str(extract(workdir, SP5_IN_SDIST, SP5_SHA256)))
        self.net = dlib.face_recognition_model_v1(str(extract(workdir, MODEL_IN_SDIST, MODEL_SHA256)))

    def faces(self, rgb: np.ndarray, upsample: int = 1):
        """[(chip u8 [150,150,3], landmarks [5,2], embedding [128])] for every detected face."""
        out = []
        rgb = np.ascontiguousarray(rgb)
        for rect in self.det(rgb, upsample):
            shape = self.sp(rgb, rect)
            chip = np.asarray(self.dlib.get_face_chip(rgb, shape, size=150, padding=0.25))
            emb = np.asarray(self.net.compute_face_descriptor(chip), np.float32)
            pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float32)
            out.append((chip, pts, emb))
        return out


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def reference(workdir: Path, fixtures: Path) -> dict:
    """Write fixtures/reference/dlib_resnet.safetensors: dlib's chips and embeddings of the
    fixture faces (astronaut: fixtures/face.jpg, the same enlarged 3x by pixel replication,
    and the face dlib finds in blazeface_two_faces.png;
    carphone man: two frames of fixtures/h264_aac.mp4). Checks the numpy port on them, and
    prints same/different-identity distances (dlib) on the face_recognition test photos."""
    from PIL import Image
    from safetensors.numpy import save_file

    workdir, fixtures = Path(workdir), Path(fixtures)
    d = Dlib(workdir)
    images = [
        ("astronaut", "face.jpg", np.asarray(Image.open(fixtures / "face.jpg").convert("RGB"))),
        ("astronaut", "reference/blazeface_two_faces.png",
         np.asarray(Image.open(common.two_faces_picture(workdir, fixtures)).convert("RGB"))),
        # face.jpg enlarged 3x by pixel replication (exactly reproducible in Rust): the face is
        # then larger than the chip and dlib extracts it from its image pyramid.
        ("astronaut", "face.jpg x3 nearest",
         np.asarray(Image.open(fixtures / "face.jpg").convert("RGB")).repeat(3, 0).repeat(3, 1)),
        ("carphone", "h264_aac.mp4@0.5s", _carphone_frame(fixtures, workdir, 0.5)),
        ("carphone", "h264_aac.mp4@1.8s", _carphone_frame(fixtures, workdir, 1.8)),
    ]
    chips, pts, embs, ids, names = [], [], [], [], []
    for ident, name, rgb in images:
        found = d.faces(rgb)
        if not found:
            raise RuntimeError(f"dlib found no face in {name}")
        for chip, p, e in found:
            # face.jpg: dlib's HOG detector also fires on the mission patch (lower half);
            # kept as a parity input, labelled as no identity.
            who = "patch" if name.startswith("face.jpg") and p[4, 1] > rgb.shape[0] / 2 else ident
            chips.append(chip); pts.append(p); embs.append(e); ids.append(who); names.append(name)
    # Parser check: the numpy forward pass (f32 and the committed f16 weights) against dlib.
    t = folded(parse(extract(workdir, MODEL_IN_SDIST, MODEL_SHA256).read_bytes()))
    t16 = {k: (v if k == "input_mean" else v.astype(np.float16).astype(np.float32)) for k, v in t.items()}
    cos32 = max(_cos(forward(t, c), e) for c, e in zip(chips, embs))
    cos16 = max(_cos(forward(t16, c), e) for c, e in zip(chips, embs))
    print(f"numpy port vs dlib, worst cosine distance: f32 weights {cos32:.2e}, f16 weights {cos16:.2e}")
    if cos16 > 1e-4:
        raise RuntimeError("numpy port disagrees with dlib")
    ref = fixtures / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    meta = {"runtime": f"dlib {d.dlib.__version__} (dlib-bin wheel), CPU",
            "pipeline": "get_frontal_face_detector(img, 1); shape_predictor_5_face_landmarks; "
                        "get_face_chip(img, shape, size=150, padding=0.25); "
                        "face_recognition_model_v1.compute_face_descriptor(chip)",
            "model_sha256": MODEL_SHA256,
            "identities": json.dumps(ids), "images": json.dumps(names),
            "identity_codes": "0 astronaut (Eileen Collins), 1 carphone man, 2 not a face (false positive)",
            "landmarks5": "dlib 5-point order: pixels of the source image",
            "sources": json.dumps([n for _, n, _ in images]),
            "numpy_port_max_cosine_distance_f16": f"{cos16:.3g}"}
    dst = ref / "dlib_resnet.safetensors"
    codes = {"astronaut": 0, "carphone": 1, "patch": 2}
    save_file({"chips_u8": np.stack(chips), "embeddings": np.stack(embs),
               "landmarks5": np.stack(pts),
               "identity": np.array([codes[i] for i in ids], np.uint8),
               # index into the image list above, per chip
               "source": np.array([[n for _, n, _ in images].index(x) for x in names], np.uint8)},
              str(dst), metadata=meta)
    dst.chmod(0o644)
    print("faces:", list(zip(ids, names)))
    E = np.stack(embs)
    D = np.linalg.norm(E[:, None] - E[None], axis=-1)
    print("dlib distances between the fixture faces:\n", np.round(D, 3))
    verification(d, workdir, fixtures)
    return meta


def verification(d: "Dlib", workdir: Path, fixtures: Path) -> None:
    """Same/different identity at dlib's 0.6 threshold on the few registry photos of known
    identity (face_recognition's test photos, the astronaut, three carphone frames); prints
    every pair. Reported, not asserted."""
    from PIL import Image

    imgs = _fr_test_images(workdir)
    imgs["astronaut"] = np.asarray(Image.open(fixtures / "face.jpg").convert("RGB"))
    for t in (0.5, 1.2, 1.8):
        imgs[f"carphone@{t}"] = _carphone_frame(fixtures, workdir, t)
    # The same pictures for the candle pipeline's measurement (an ignored test in
    # tests/model_face_embed.rs reads them from here; not part of the repository).
    vdir = workdir / "verify"
    vdir.mkdir(parents=True, exist_ok=True)
    for name, rgb in imgs.items():
        Image.fromarray(rgb).save(vdir / f"{name.replace('@', '_at_')}.png")
    faces = []
    for name, rgb in imgs.items():
        found = d.faces(rgb)
        if name == "astronaut":
            found = found[:1]  # the second detection is the mission patch
        for chip, _, e in found:
            faces.append((name.split("@")[0].split("_")[0].rstrip("0123456789"), name, e))
    ok = n = 0
    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            same = faces[i][0] == faces[j][0]
            dist = float(np.linalg.norm(faces[i][2] - faces[j][2]))
            ok += (dist < 0.6) == same
            n += 1
            print(f"  {faces[i][1]:20s} {faces[j][1]:20s} same={same!s:5s} dist={dist:.3f}")
    print(f"verification: {ok}/{n} pairs right at 0.6 ({len(faces)} faces)")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    work = Path(args[0]) if len(args) > 0 else here.parent / "target" / "model-work" / "dlib"
    out = Path(args[1]) if len(args) > 1 else here
    fix = Path(args[2]) if len(args) > 2 else here.parent / "fixtures"
    print(json.dumps(convert(work, out), indent=1))
    if "--reference" in sys.argv:
        reference(work, fix)
