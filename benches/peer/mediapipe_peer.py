"""The face path of the seeds' Python approach, as a yardstick for proctor's.

OpenCV decodes the recording; at 4 frames per second (the frame on screen at
t = k / 4, as proctor samples) MediaPipe's full-range face detector counts the
faces and its face mesh with iris refinement (`refine_landmarks=True`, the
468 + 10 iris points) runs in tracking mode, as the legacy `solutions` API
does in a video: detection only when tracking is lost. Every frame is decoded
(OpenCV cannot skip decoding) but only sampled frames are converted and
analysed.

Usage: python mediapipe_peer.py RECORDING [--fps 4]
Prints one JSON line: frames analysed, frames with a face, seconds of wall time.
benches/pipeline.rs runs it beside `proctor analyze --no-objects` on the same file.
"""

import argparse
import json
import sys
import time

import cv2
import mediapipe as mp


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("recording")
    ap.add_argument("--fps", type=float, default=4.0)
    args = ap.parse_args()

    started = time.perf_counter()
    cap = cv2.VideoCapture(args.recording)
    if not cap.isOpened():
        print(f"cannot open {args.recording}", file=sys.stderr)
        return 2
    detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, max_num_faces=4, refine_landmarks=True, min_detection_confidence=0.5
    )
    analysed = with_face = 0
    next_t = 0.0
    frame = None
    while True:
        ok = cap.grab()
        if not ok:
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if t + 1e-6 < next_t:
            continue
        ok, frame = cap.retrieve()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        faces = detector.process(rgb).detections or []
        marks = mesh.process(rgb).multi_face_landmarks or []
        analysed += 1
        with_face += bool(faces or marks)
        while next_t <= t + 1e-6:
            next_t += 1.0 / args.fps
    elapsed = time.perf_counter() - started
    print(json.dumps({"analysed": analysed, "with_face": with_face, "seconds": round(elapsed, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
