#!/usr/bin/env python3
"""Convert every model proctor embeds, and write the reference outputs its
parity tests compare against.

    python models/convert.py [--reference] [--workdir DIR]

Each converter downloads its source package from PyPI by exact version (pip
download; YOLOX-nano and YuNet-n: a file of a repository at a pinned commit),
checks sha256 hashes, writes
``models/<name>.safetensors`` and ``models/<name>.provenance.json``:

* convert_landmarks.py  face mesh (468 points) and iris landmarks (mediapipe==0.10.21 wheel)
* convert_palm.py       palm detection (lite), where the hands are (the same wheel)
* convert_hand.py       hand landmarks (lite), which hand holds an object (the same wheel)
* convert_vad.py        Silero VAD v6, 16 kHz speech detector (silero-vad==6.2.3 wheel)
* convert_yolox.py      YOLOX-nano, COCO objects (ONNX file from a public repository
                        at a pinned commit, not a registry: see its docstring; needs onnx, and
                        onnxruntime for --reference)
* convert_yunet.py      YuNet-n face detector (repository ShiqiYu/libfacedetection.train
                        at a fixed commit; not in a registry: put the ONNX file in
                        WORKDIR/yunet/ or set YUNET_GIT_DIR to a clone, see that file)
* convert_dlib.py       dlib's ResNet face descriptor (face-recognition-models==0.3.0 sdist)
* convert_resemblyzer.py  Resemblyzer's voice encoder, speaker embedding (Resemblyzer==0.1.4
                        wheel; needs torch and librosa, and the package itself, webrtcvad and
                        scipy for --reference)

With ``--reference`` they also run the reference runtimes (ai-edge-litert,
mediapipe's solutions, onnxruntime) on fixture images
and audio and write
``fixtures/reference/*``. Python packages needed: numpy<2, safetensors,
ai-edge-litert (conversion); plus mediapipe==0.10.21, opencv-python-headless,
pypng (reference); onnx (conversion) and
onnxruntime (reference) for Silero VAD, YOLOX-nano and YuNet; dlib-bin and
pillow (dlib reference).

What they share (sha256, pip download, extraction, the reference pictures) is in
common.py. Retired converters (BlazeFace, NanoDet-g): see models/README.md.
"""
import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import convert_dlib  # noqa: E402
import convert_landmarks  # noqa: E402
import convert_hand  # noqa: E402
import convert_palm  # noqa: E402
import convert_resemblyzer  # noqa: E402
import convert_vad  # noqa: E402
import convert_yolox  # noqa: E402
import convert_yunet  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=HERE.parent / "target" / "model-work")
    ap.add_argument("--reference", action="store_true", help="also write fixtures/reference/*")
    args = ap.parse_args()
    fixtures = HERE.parent / "fixtures"
    for name, mod in [("landmarks", convert_landmarks), ("palm", convert_palm), ("hand", convert_hand), ("yolox", convert_yolox), ("yunet", convert_yunet), ("vad", convert_vad), ("dlib", convert_dlib),
                      ("resemblyzer", convert_resemblyzer)]:
        work = args.workdir / name
        work.mkdir(parents=True, exist_ok=True)
        print(f"== {name}: converting", flush=True)
        mod.convert(work, HERE)
        if args.reference:
            print(f"== {name}: reference outputs", flush=True)
            mod.reference(work, fixtures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
