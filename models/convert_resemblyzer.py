"""Resemblyzer's voice encoder (GE2E speaker embedding): weights and reference outputs.

Source: the `Resemblyzer==0.1.4` wheel from PyPI (Apache-2.0, Resemble AI), file
`resemblyzer/pretrained.pt`, the checkpoint `VoiceEncoder()` loads. It is a torch
pickle holding `{"model_state": ..., "optimizer_state": ..., "step": ...}`; only the
model's weights are kept here (the optimiser state is most of the 17 MB).

Architecture (`resemblyzer/voice_encoder.py`, `hparams.py`): 16 kHz mono audio ->
power mel spectrogram, *not* log (librosa `melspectrogram`: n_fft 400 = 25 ms, hop
160 = 10 ms, 40 mels, periodic Hann window, centred frames with zero padding,
power 2, Slaney mel scale and Slaney area normalisation) -> `nn.LSTM(40, 256,
num_layers=3, batch_first=True)` over a partial utterance of 160 frames (1.6 s) ->
the last layer's final hidden state -> `Linear(256, 256)` -> ReLU -> L2 normalise.
An utterance's embedding is the L2-normalised mean of its partials' embeddings;
partials start every round(16000 / 1.3 / 160) = 77 frames, the last one dropped
when it covers less than 75% of its 1.6 s (`compute_partial_slices`).

Stored tensors (float32): `lstm.{weight_ih,weight_hh,bias_ih,bias_hh}_l{0,1,2}`,
`linear.{weight,bias}` (the checkpoint's own names), and `mel_filters` [40, 201],
librosa's `filters.mel(sr=16000, n_fft=400, n_mels=40)` as `melspectrogram` builds it,
so the Rust side does not have to re-derive the Slaney mel scale.

`reference()` runs the package's own `VoiceEncoder.embed_utterance` (torch, CPU) on
the three utterances of fixtures/speech.wav (spans from fixtures/speech.truth.json,
each widened by 30 ms as proctor's segments are) after the package's
`normalize_volume(wav, -30, increase_only=True)`, and writes their partial and
utterance embeddings to fixtures/reference/resemblyzer.json.

Run: `python models/convert_resemblyzer.py [workdir] [outdir] [fixtures]` with a
Python that has numpy, torch, librosa and safetensors (and webrtcvad, which the
package imports). The wheel is fetched with pip (`pip download --no-deps`).
"""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (sha256, pip download, extraction)

PACKAGE = "Resemblyzer"
VERSION = "0.1.4"
WHEEL = "Resemblyzer-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"
MODEL_IN_WHEEL = "resemblyzer/pretrained.pt"
MODEL_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
OUT = "resemblyzer.safetensors"
PAD_S = 0.03


def fetch(work: Path) -> Path:
    """The wheel, checked, and the checkpoint extracted from it."""
    wheel = common.pip_download(work, f"{PACKAGE}=={VERSION}", WHEEL, WHEEL_SHA256)
    return common.extract(wheel, MODEL_IN_WHEEL, work, MODEL_SHA256)


def mel_filters() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=16000, n_fft=400, n_mels=40).astype(np.float32)


def convert(work: Path, outdir: Path) -> None:
    import librosa
    import torch
    from safetensors.numpy import save_file

    ckpt = fetch(work)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["model_state"]
    tensors = {}
    for name, t in state.items():
        if not (name.startswith("lstm.") or name.startswith("linear.")):
            continue  # the checkpoint also holds GE2E's similarity scale and bias (training only)
        tensors[name] = t.detach().cpu().numpy().astype(np.float32)
    expect = {f"lstm.{k}_l{i}" for i in range(3) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    expect |= {"linear.weight", "linear.bias"}
    if set(tensors) != expect:
        raise SystemExit(f"unexpected tensors: {sorted(set(tensors) ^ expect)}")
    skipped = sorted(k for k in state if k not in tensors)
    tensors["mel_filters"] = mel_filters()
    out = outdir / OUT
    save_file(tensors, str(out), metadata={"source": f"PyPI {PACKAGE}=={VERSION} {MODEL_IN_WHEEL}"})
    params = sum(int(np.prod(v.shape)) for k, v in tensors.items() if k != "mel_filters")
    prov = {
        "model": "Resemblyzer voice encoder (GE2E speaker embedding, 256-d)",
        "registry": "PyPI",
        "package": PACKAGE,
        "version": VERSION,
        "wheel": WHEEL,
        "wheel_sha256": WHEEL_SHA256,
        "path_in_package": MODEL_IN_WHEEL,
        "sha256": MODEL_SHA256,
        "licence": "Apache-2.0",
        "upstream": "https://github.com/resemble-ai/Resemblyzer",
        "conversion": "checkpoint['model_state'] LSTM and Linear weights, names unchanged, float32; optimiser state and "
        f"training-only tensors ({', '.join(skipped)}) dropped; mel_filters [40, 201] added from "
        f"librosa {librosa.__version__} filters.mel(sr=16000, n_fft=400, n_mels=40) (Slaney scale and norm)",
        "parameters": params,
        "dtype": "float32",
        "tensors": len(tensors),
        "input": "16 kHz mono float audio in [-1, 1]; power mel spectrogram (25 ms Hann window, 10 ms hop, 40 mels, "
        "not log); partial utterances of 160 frames (1.6 s) every 77 frames",
        "output": "256-d L2-normalised speaker embedding per partial; an utterance's is their normalised mean",
        "output_file": OUT,
        "output_sha256": common.sha256_file(out),
    }
    (outdir / "resemblyzer.provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out} ({params} parameters) and its provenance")


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def reference(work: Path, fixtures: Path) -> None:
    """Partial and utterance embeddings of the package itself on fixtures/speech.wav."""
    import librosa
    import resemblyzer
    import torch
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import normalize_volume

    wav = read_wav(fixtures / "speech.wav")
    truth = json.loads((fixtures / "speech.truth.json").read_text())["clips"]["speech"]["speech"]
    enc = VoiceEncoder(device="cpu", verbose=False)
    out = []
    for span in truth:
        a = max(0, round((span["start"] - PAD_S) * 16000))
        b = min(len(wav), round((span["end"] + PAD_S) * 16000))
        seg = normalize_volume(wav[a:b], -30, increase_only=True).astype(np.float32)
        emb, partials, slices = enc.embed_utterance(seg, return_partials=True)
        out.append(
            {
                "voice": span["voice"],
                "start_sample": int(a),
                "end_sample": int(b),
                "partial_starts": [int(s.start) for s in slices],
                "partials": [[round(float(x), 7) for x in p] for p in partials],
                "embedding": [round(float(x), 7) for x in emb],
            }
        )
    embs = [np.array(u["embedding"]) for u in out]
    sims = [[round(float(a @ b), 4) for b in embs] for a in embs]
    doc = {
        "about": "Resemblyzer 0.1.4 VoiceEncoder.embed_utterance(normalize_volume(wav[start:end], -30, "
        "increase_only=True), return_partials=True) on fixtures/speech.wav (16 kHz s16 / 32768), the three "
        "utterances of speech.truth.json widened by 30 ms; written by models/convert_resemblyzer.py",
        "runtime": f"torch {torch.__version__} CPU, librosa {librosa.__version__}, numpy {np.__version__}",
        "cosine": sims,
        "utterances": out,
    }
    path = fixtures / "reference" / "resemblyzer.json"
    path.write_text(json.dumps(doc) + "\n")
    print(f"wrote {path}; cosine similarities {sims}")


def main() -> None:
    here = Path(__file__).resolve().parent
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/resemblyzer-work")
    outdir = Path(sys.argv[2]) if len(sys.argv) > 2 else here
    fixtures = Path(sys.argv[3]) if len(sys.argv) > 3 else here.parent / "fixtures"
    convert(work, outdir)
    reference(work, fixtures)


if __name__ == "__main__":
    main()
