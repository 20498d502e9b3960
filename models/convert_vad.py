"""Silero VAD v6 (16 kHz): weights and reference outputs.

Source: the `silero-vad==6.2.3` wheel from PyPI (MIT, Silero Team), file
`silero_vad/data/silero_vad.onnx`, the model `load_silero_vad(onnx=True)`
loads. Its graph holds an `If` on the sample rate; the 16 kHz branch
(`then_branch`, taken when `sr == 16000`) carries the weights converted here.

Which weights: the wheel also ships `silero_vad/data/silero_vad_16k.safetensors`
(for its tinygrad example), but that file holds a *different* checkpoint: same
architecture and tensor shapes, other values (conv1 differs by up to 4.0), and
its speech probabilities differ from onnxruntime's by up to 0.38 on
fixtures/speech.wav (recorded in the reference file). The 16 kHz weights of `silero_vad.onnx` are identical,
bit for bit, to those of `silero_vad_16k_op15.onnx` and of the TorchScript model
`silero_vad.jit` (archive `VADr_v6_10_25_noths_re`), the package's default;
`convert()` checks both. So the ONNX weights are taken, renamed to the
tinygrad module names of `silero_vad/tinygrad_model.py` (which is where the
architecture is written down most plainly), float32, unchanged.

Architecture (one call = 64 context samples + 512 new samples at 16 kHz):
reflect-pad 64 samples on the right (576 -> 640); `stft_conv` Conv1d 1->258,
kernel 256, stride 128, no bias (rows 0..128 real, 129..257 imaginary parts of
a windowed DFT) -> 4 frames; magnitude sqrt(re^2 + im^2) -> [129, 4];
conv1 129->128 k3 s1 p1, ReLU; conv2 128->64 k3 s2 p1, ReLU; conv3 64->64 k3
s2 p1, ReLU; conv4 64->128 k3 s1 p1, ReLU -> [128, 1]; LSTMCell(128, 128)
(PyTorch gate order i, f, g, o; state (h, c) carried between calls);
ReLU(h); final_conv 1x1 128->1 + bias; sigmoid -> speech probability.

`reference()` runs onnxruntime on fixtures/speech.wav (16 kHz mono s16) window
by window with state and context exactly as the package's `OnnxWrapper` does
(512-sample windows, the last one zero-padded; context = previous input's last
64 samples, zeros at the start) and writes the per-window probabilities, plus
the speech segments of the package's own `get_speech_timestamps_from_probs` at
its defaults, to fixtures/reference/silero_vad.json.

Run: `python models/convert_vad.py [workdir] [outdir] [fixtures]` with a Python
that has numpy, safetensors, onnx (conversion) and onnxruntime (reference).
"""

from __future__ import annotations

import ast
import io
import json
import sys
import wave
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sha256, pip download, wheel members)

PACKAGE = "silero-vad"
VERSION = "6.2.3"
WHEEL = "silero_vad-6.2.3-py3-none-any.whl"
WHEEL_SHA256 = "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
MODEL_IN_WHEEL = "silero_vad/data/silero_vad.onnx"
MODEL_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
OP15_IN_WHEEL = "silero_vad/data/silero_vad_16k_op15.onnx"
OP15_SHA256 = "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49"
JIT_IN_WHEEL = "silero_vad/data/silero_vad.jit"
JIT_SHA256 = "e1122837f4154c511485fe0b9c64455f7b929c96fbb8d79fbdb336383ebd3720"
TINYGRAD_ST_IN_WHEEL = "silero_vad/data/silero_vad_16k.safetensors"
TINYGRAD_ST_SHA256 = "c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1"
UTILS_IN_WHEEL = "silero_vad/utils_vad.py"
LICENCE = "MIT"

OUT_NAME = "silero_vad_16k.safetensors"
PROVENANCE_NAME = "silero_vad.provenance.json"
REFERENCE_NAME = "silero_vad.json"
FIXTURE_AUDIO = "speech.wav"

RATE = 16000
WINDOW = 512
CONTEXT = 64

# ONNX 16 kHz branch initializer (without the branch prefix) -> our (tinygrad) name.
NAMES = {
    "stft.forward_basis_buffer": "stft_conv.weight",
    "encoder.0.reparam_conv.weight": "conv1.weight",
    "encoder.0.reparam_conv.bias": "conv1.bias",
    "encoder.1.reparam_conv.weight": "conv2.weight",
    "encoder.1.reparam_conv.bias": "conv2.bias",
    "encoder.2.reparam_conv.weight": "conv3.weight",
    "encoder.2.reparam_conv.bias": "conv3.bias",
    "encoder.3.reparam_conv.weight": "conv4.weight",
    "encoder.3.reparam_conv.bias": "conv4.bias",
    "decoder.rnn.weight_ih": "lstm_cell.weight_ih",
    "decoder.rnn.weight_hh": "lstm_cell.weight_hh",
    "decoder.rnn.bias_ih": "lstm_cell.bias_ih",
    "decoder.rnn.bias_hh": "lstm_cell.bias_hh",
    "decoder.decoder.2.weight": "final_conv.weight",
    "decoder.decoder.2.bias": "final_conv.bias",
}
SHAPES = {
    "stft_conv.weight": (258, 1, 256),
    "conv1.weight": (128, 129, 3), "conv1.bias": (128,),
    "conv2.weight": (64, 128, 3), "conv2.bias": (64,),
    "conv3.weight": (64, 64, 3), "conv3.bias": (64,),
    "conv4.weight": (128, 64, 3), "conv4.bias": (128,),
    "lstm_cell.weight_ih": (512, 128), "lstm_cell.weight_hh": (512, 128),
    "lstm_cell.bias_ih": (512,), "lstm_cell.bias_hh": (512,),
    "final_conv.weight": (1, 128, 1), "final_conv.bias": (1,),
}


def fetch_wheel(workdir: Path) -> Path:
    """`pip download --no-deps silero-vad==6.2.3` (pure-Python wheel), sha256-checked."""
    return common.pip_download(workdir, f"{PACKAGE}=={VERSION}", WHEEL, WHEEL_SHA256, "--only-binary=:all:")


def _onnx_16k_weights(model_bytes: bytes) -> dict[str, np.ndarray]:
    """Initializers of the sr == 16000 branch of silero_vad.onnx, our names."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load_from_string(model_bytes)
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
              for n in m.graph.node if n.op_type == "Constant"}
    eq = next(n for n in m.graph.node if n.op_type == "Equal")
    rate = int(next(consts[i] for i in eq.input if i in consts))
    if rate != RATE:
        raise RuntimeError(f"the If compares sr with {rate}, expected {RATE}")
    node = next(n for n in m.graph.node if n.op_type == "If")
    branch = next(a.g for a in node.attribute if a.name == "then_branch")
    # The exporter inlined the weights as Constant nodes of the branch
    # ("If_0_then_branch__Inline_0__<module path>"); plain initializers are taken too.
    tensors = [(t.name, t) for t in branch.initializer]
    tensors += [(n.output[0], n.attribute[0].t) for n in branch.node if n.op_type == "Constant"]
    out = {}
    for name, t in tensors:
        key = name.split("__Inline_0__", 1)[-1]
        if key in NAMES:
            out[NAMES[key]] = numpy_helper.to_array(t).astype(np.float32)
    return out


def _check_weights(w: dict[str, np.ndarray], wheel: Path) -> None:
    """Names/shapes as expected; identical to the op15 ONNX and the TorchScript model."""
    import onnx
    from onnx import numpy_helper

    if set(w) != set(SHAPES):
        raise RuntimeError(f"tensors {sorted(w)} != {sorted(SHAPES)}")
    for k, shape in SHAPES.items():
        if w[k].shape != shape:
            raise RuntimeError(f"{k}: shape {w[k].shape}, expected {shape}")
    op15 = onnx.load_from_string(common.read_member(wheel, OP15_IN_WHEEL, OP15_SHA256))
    inits = {t.name.removeprefix("model."): numpy_helper.to_array(t) for t in op15.graph.initializer}
    for src, ours in NAMES.items():
        if not np.array_equal(inits[src].astype(np.float32), w[ours]):
            raise RuntimeError(f"{ours} differs from {OP15_IN_WHEEL}")
    jit = common.read_member(wheel, JIT_IN_WHEEL, JIT_SHA256)
    with zipfile.ZipFile(io.BytesIO(jit)) as z:  # a TorchScript archive is a zip
        blobs = {z.read(n) for n in z.namelist() if "/data/" in n and not n.endswith(".pkl")}
    missing = [k for k, v in w.items() if v.size > 1 and np.ascontiguousarray(v).tobytes() not in blobs]
    if missing:
        raise RuntimeError(f"not stored in {JIT_IN_WHEEL}: {missing}")


def weights(workdir: Path) -> dict[str, np.ndarray]:
    wheel = fetch_wheel(Path(workdir))
    w = _onnx_16k_weights(common.read_member(wheel, MODEL_IN_WHEEL, MODEL_SHA256))
    _check_weights(w, wheel)
    return w


def convert(workdir: Path, outdir: Path) -> dict:
    """Download the wheel, write outdir/silero_vad_16k.safetensors + provenance."""
    from safetensors.numpy import save_file

    workdir, outdir = Path(workdir), Path(outdir)
    w = weights(workdir)
    provenance = {
        "model": "Silero VAD v6, 16 kHz (voice activity detection)",
        "package": PACKAGE,
        "registry": "PyPI",
        "version": VERSION,
        "wheel": WHEEL,
        "wheel_sha256": WHEEL_SHA256,
        "path_in_package": MODEL_IN_WHEEL,
        "sha256": MODEL_SHA256,
        "licence": LICENCE,
        "upstream": "https://github.com/snakers4/silero-vad",
        "branch": "If(sr == 16000).then_branch, tensors inlined as Constant nodes",
        "identical_to": {OP15_IN_WHEEL: OP15_SHA256, JIT_IN_WHEEL: JIT_SHA256},
        "not_used": {TINYGRAD_ST_IN_WHEEL: TINYGRAD_ST_SHA256,
                     "why": "a different checkpoint (same shapes, other values); its probabilities "
                            "differ from onnxruntime's silero_vad.onnx by up to 0.38 on fixtures/speech.wav"},
        "input": "[1, 576] float32 16 kHz mono in [-1, 1]: 64 samples of context + 512 new; state h, c [128]",
        "output": "speech probability per 512-sample window (32 ms)",
        "conversion": "ONNX initializers renamed to the tinygrad_model.py module names, float32 unchanged",
        "dtype": "float32",
        "tensors": len(w),
    }
    outdir.mkdir(parents=True, exist_ok=True)
    dst = outdir / OUT_NAME
    save_file({k: np.ascontiguousarray(v) for k, v in sorted(w.items())}, str(dst),
              metadata={"provenance": json.dumps(provenance, sort_keys=True)})
    dst.chmod(0o644)
    provenance["output_file"] = OUT_NAME
    provenance["output_sha256"] = common.sha256_file(dst)
    (outdir / PROVENANCE_NAME).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return provenance


# ---------------------------------------------------------------- reference

def read_fixture(path: Path) -> np.ndarray:
    """16 kHz mono s16 WAV -> float32 samples / 32768 (what ffmpeg's s16 -> flt gives)."""
    with wave.open(str(path)) as wf:
        if (wf.getframerate(), wf.getnchannels(), wf.getsampwidth()) != (RATE, 1, 2):
            raise RuntimeError(f"{path}: want 16 kHz mono s16")
        pcm = np.frombuffer(wf.readframes(wf.getnframes()), "<i2")
    return pcm.astype(np.float32) / np.float32(32768.0)


def numpy_forward(w: dict[str, np.ndarray], x: np.ndarray, h: np.ndarray, c: np.ndarray):
    """One call of the network in float64 (576 samples), for checking the conversion."""
    def conv(x, wt, b, stride, pad):
        x = np.pad(x, ((0, 0), (pad, pad)))
        k = wt.shape[2]
        t = (x.shape[1] - k) // stride + 1
        cols = np.stack([x[:, i * stride:i * stride + k] for i in range(t)])
        y = np.einsum("tck,ock->ot", cols, wt.astype(np.float64))
        return y if b is None else y + b[:, None]

    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    x = np.concatenate([x, x[-2:-2 - CONTEXT:-1]]).astype(np.float64)  # reflect, right side
    s = conv(x[None], w["stft_conv.weight"], None, 128, 0)
    y = np.sqrt(s[:129] ** 2 + s[129:] ** 2)
    for name, stride in (("conv1", 1), ("conv2", 2), ("conv3", 2), ("conv4", 1)):
        y = np.maximum(conv(y, w[f"{name}.weight"], w[f"{name}.bias"], stride, 1), 0.0)
    g = (w["lstm_cell.weight_ih"] @ y[:, 0] + w["lstm_cell.bias_ih"]
         + w["lstm_cell.weight_hh"] @ h + w["lstm_cell.bias_hh"])
    i, f, gg, o = np.split(g, 4)
    c = sig(f) * c + sig(i) * np.tanh(gg)
    h = sig(o) * np.tanh(c)
    p = sig(w["final_conv.weight"][0, :, 0] @ np.maximum(h, 0.0) + w["final_conv.bias"][0])
    return float(p), h, c


def run_numpy(w: dict[str, np.ndarray], audio: np.ndarray) -> np.ndarray:
    h = np.zeros(128)
    c = np.zeros(128)
    ctx = np.zeros(CONTEXT, np.float32)
    out = []
    for chunk in _windows(audio):
        p, h, c = numpy_forward(w, np.concatenate([ctx, chunk]), h, c)
        ctx = chunk[-CONTEXT:]
        out.append(p)
    return np.array(out)


def _windows(audio: np.ndarray):
    for s in range(0, len(audio), WINDOW):
        chunk = audio[s:s + WINDOW]
        if len(chunk) < WINDOW:
            chunk = np.concatenate([chunk, np.zeros(WINDOW - len(chunk), np.float32)])
        yield chunk


def run_onnxruntime(model_bytes: bytes, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The package's OnnxWrapper loop, written out: one thread, CPU provider.
    Returns the per-window probabilities and the final state [h, c] ([2, 128])."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"], sess_options=opts)
    state = np.zeros((2, 1, 128), np.float32)
    ctx = np.zeros((1, CONTEXT), np.float32)
    sr = np.array(RATE, np.int64)
    out = []
    for chunk in _windows(audio):
        x = np.concatenate([ctx, chunk[None]], axis=1)
        prob, state = sess.run(None, {"input": x, "state": state, "sr": sr})
        ctx = x[:, -CONTEXT:]
        out.append(float(prob[0, 0]))
    return np.array(out), state[:, 0, :]


def _package_timestamps(wheel: Path):
    """The package's own `get_speech_timestamps_from_probs`, taken from the wheel's
    utils_vad.py and run as is (the module imports torch at the top, which the
    function itself does not need)."""
    src = common.read_member(wheel, UTILS_IN_WHEEL).decode()
    tree = ast.parse(src)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_speech_timestamps_from_probs")
    ns: dict = {"List": list}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), UTILS_IN_WHEEL, "exec"), ns)
    return ns["get_speech_timestamps_from_probs"]


def reference(workdir: Path, fixtures: Path) -> dict:
    import onnxruntime as ort
    from safetensors.numpy import load_file

    workdir, fixtures = Path(workdir), Path(fixtures)
    wheel = fetch_wheel(workdir)
    model = common.read_member(wheel, MODEL_IN_WHEEL, MODEL_SHA256)
    wav = fixtures / FIXTURE_AUDIO
    audio = read_fixture(wav)
    probs, state = run_onnxruntime(model, audio)

    # The converted weights in float64 numpy must reproduce onnxruntime.
    ours = load_file(str(Path(__file__).resolve().parent / OUT_NAME))
    mine = run_numpy(ours, audio)
    conv_err = float(np.abs(mine - probs).max())
    if conv_err > 1e-4:
        raise RuntimeError(f"numpy forward with the converted weights is off by {conv_err}")
    # For the record: the wheel's tinygrad safetensors is another checkpoint.
    other = _st_load_bytes(common.read_member(wheel, TINYGRAD_ST_IN_WHEEL, TINYGRAD_ST_SHA256))
    other_err = float(np.abs(run_numpy(other, audio) - probs).max())

    ts = _package_timestamps(wheel)
    segments = ts(probs.tolist(), sampling_rate=RATE, audio_length_samples=len(audio))
    ref = {
        "about": "onnxruntime on silero_vad.onnx (16 kHz branch), 512-sample windows of fixtures/speech.wav "
                 "with 64 samples of context and (h, c) state carried; the last window zero-padded. "
                 "Written by models/convert_vad.py.",
        "onnxruntime": ort.__version__,
        "model": {"package": f"{PACKAGE}=={VERSION}", "path": MODEL_IN_WHEEL, "sha256": MODEL_SHA256},
        "input": {"file": f"fixtures/{FIXTURE_AUDIO}", "sha256": common.sha256_file(wav), "samples": int(len(audio)),
                  "rate": RATE, "scale": "s16 / 32768", "sum": float(audio.astype(np.float64).sum())},
        "window": WINDOW,
        "context": CONTEXT,
        "probs": [float(f"{p:.9g}") for p in probs],
        "final_state": {"h": [float(f"{v:.9g}") for v in state[0]], "c": [float(f"{v:.9g}") for v in state[1]]},
        "numpy_float64_max_abs_diff": conv_err,
        "tinygrad_safetensors_max_abs_diff": other_err,
        "segments": {
            "function": f"{UTILS_IN_WHEEL}:get_speech_timestamps_from_probs, defaults",
            "params": {"threshold": 0.5, "neg_threshold": 0.35, "min_speech_duration_ms": 250,
                       "min_silence_duration_ms": 100, "speech_pad_ms": 30},
            "samples": [[int(s["start"]), int(s["end"])] for s in segments],
        },
    }
    out = fixtures / "reference" / REFERENCE_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(ref, indent=1) + "\n")
    print(f"{out}: {len(probs)} windows, numpy vs onnxruntime {conv_err:.2e}, "
          f"tinygrad safetensors vs onnxruntime {other_err:.3f}, segments {ref['segments']['samples']}")
    return ref


def _st_load_bytes(data: bytes) -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    return load(data)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "target" / "model-work" / "vad"
    outdir = Path(sys.argv[2]) if len(sys.argv) > 2 else here
    print(json.dumps(convert(work, outdir), indent=1))
    if len(sys.argv) > 3:
        reference(work, Path(sys.argv[3]))
