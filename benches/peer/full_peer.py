"""proctor's detectors on their own optimised runtimes: the full-pipeline yardstick.

The same public models proctor runs, each on the runtime its authors ship for it:
- YuNet-n (the ONNX file proctor's weights come from) through OpenCV's
  `cv2.FaceDetectorYN`, on the frame scaled to 640 on its long side, at 1 fps;
- MediaPipe's face mesh with iris (`refine_landmarks=True`), at 4 fps, on a
  square crop twice the size of each face, as proctor runs its mesh: the faces
  YuNet found, then each followed by its own landmarks between detections (a
  face whose mesh is lost waits for the next detection). One FaceMesh per face,
  in tracking mode. (MediaPipe's own detector inside FaceMesh is its
  short-range one: on a whole 1280x720 frame it misses a webcam's 100 px face.)
- YOLOX-nano (the ONNX file proctor's weights come from) on onnxruntime, on a
  416x416 letterbox (pad 114, BGR 0-255), at 1 fps, with its grid decoding and
  per-class NMS.
OpenCV decodes the recording; every frame is decoded (OpenCV cannot skip
decoding), only sampled frames (the first frame at or after t = k / 4) are
analysed. Nothing else of proctor's: no crop around the face for held phones,
no identity, no audio, no events, no outputs.

OpenCV's ONNX importer refuses the dynamic input of `yunet_n_dynamic.onnx`, so
its input is fixed here, in memory, to the padded frame size (the `onnx`
package) before FaceDetectorYN loads it.

Usage: python full_peer.py RECORDING [--models DIR] [--dump SECONDS]
The models come from target/peer-models/ (benches/peer/fetch_models.sh) or DIR.
Prints one JSON line: samples analysed, detector calls, samples with faces,
seconds of wall time. `--dump T` prints instead, as JSON, what YuNet and
YOLOX-nano found at the first sample at or after T (boxes in the frame's
pixels), to set beside `proctor detect RECORDING@T --json`.
"""

import argparse
import json
import pathlib
import sys
import time

import cv2
import mediapipe as mp
import numpy as np
import onnx
import onnxruntime as ort

HERE = pathlib.Path(__file__).resolve().parent
FPS, DETECT_FPS, OBJECT_FPS = 4.0, 1.0, 1.0
YUNET_SIDE, YOLOX_SIDE = 640, 416
# proctor's own thresholds (`proctor config`): faces from 0.5, objects per category
FACE_SCORE, OBJECT_SCORE, NMS_IOU = 0.5, 0.25, 0.45
COCO = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign "
    "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella "
    "handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard "
    "surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange "
    "broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop "
    "mouse remote keyboard cell_phone microwave oven toaster sink refrigerator book clock vase scissors "
    "teddy_bear hair_drier toothbrush"
).split()


def yunet(models, w, h):
    """FaceDetectorYN for frames of w x h, with the model's input fixed to the padded size."""
    m = onnx.load(str(models / "yunet_n_dynamic.onnx"))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, (1, 3, -(-h // 32) * 32, -(-w // 32) * 32)):
        d.ClearField("dim_param")
        d.dim_value = v
    buf = np.frombuffer(m.SerializeToString(), np.uint8)
    return cv2.FaceDetectorYN.create("onnx", buf, np.zeros(0, np.uint8), (w, h), FACE_SCORE, 0.3, 5000)


class Yolox:
    def __init__(self, models):
        self.sess = ort.InferenceSession(str(models / "yolox_nano.onnx"), providers=["CPUExecutionProvider"])
        self.name = self.sess.get_inputs()[0].name
        grids, strides = [], []
        for s in (8, 16, 32):
            n = YOLOX_SIDE // s
            gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack([gx.ravel(), gy.ravel()], 1))
            strides.append(np.full((n * n, 1), s))
        self.grid = np.concatenate(grids).astype(np.float32)
        self.stride = np.concatenate(strides).astype(np.float32)

    def __call__(self, bgr):
        h, w = bgr.shape[:2]
        r = min(YOLOX_SIDE / w, YOLOX_SIDE / h)
        canvas = np.full((YOLOX_SIDE, YOLOX_SIDE, 3), 114, np.uint8)
        canvas[: round(h * r), : round(w * r)] = cv2.resize(bgr, (round(w * r), round(h * r)), interpolation=cv2.INTER_LINEAR)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        out = self.sess.run(None, {self.name: blob})[0][0]
        xy = (out[:, :2] + self.grid) * self.stride
        wh = np.exp(out[:, 2:4]) * self.stride
        cls = out[:, 5:].argmax(1)
        score = out[:, 4] * out[np.arange(len(out)), 5 + cls]
        keep = score >= OBJECT_SCORE
        boxes = np.concatenate([xy - wh / 2, wh], 1)[keep] / r
        score, cls = score[keep], cls[keep]
        idx = cv2.dnn.NMSBoxesBatched(boxes.tolist(), score.tolist(), cls.tolist(), OBJECT_SCORE, NMS_IOU)
        return [(COCO[cls[i]], float(score[i]), boxes[i]) for i in np.array(idx).ravel()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("recording")
    ap.add_argument("--models", type=pathlib.Path, default=HERE / "../../target/peer-models")
    ap.add_argument("--dump", type=float, default=None)
    args = ap.parse_args()

    started = time.perf_counter()
    cap = cv2.VideoCapture(args.recording)
    if not cap.isOpened():
        print(f"cannot open {args.recording}", file=sys.stderr)
        return 2
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    scale = YUNET_SIDE / max(w, h)
    sw, sh = round(w * scale), round(h * scale)
    faces_net = yunet(args.models, sw, sh)
    objects_net = Yolox(args.models)
    meshes = []  # one FaceMesh per tracked face
    tracked = []  # face boxes (x0, y0, x1, y1) in frame pixels

    def mesh_faces(frame, boxes):
        """Each face's mesh on a square crop twice its size: its landmarks' box, or None."""
        found = []
        for i, box in enumerate(boxes):
            while len(meshes) <= i:
                meshes.append(
                    mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5)
                )
            side = 2 * max(box[2] - box[0], box[3] - box[1])
            x0 = int(max(0, (box[0] + box[2] - side) / 2))
            y0 = int(max(0, (box[1] + box[3] - side) / 2))
            crop = frame[y0 : int(min(h, y0 + side)), x0 : int(min(w, x0 + side))]
            if crop.size == 0:
                found.append(None)
                continue
            marks = meshes[i].process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)).multi_face_landmarks
            if marks:
                pts = np.array([(p.x, p.y) for p in marks[0].landmark]) * (crop.shape[1], crop.shape[0]) + (x0, y0)
                found.append((*pts.min(0), *pts.max(0)))
            else:
                found.append(None)
        return found

    analysed = detects = with_face = objects_runs = meshed = 0
    objects_seen = {}
    next_t = 0.0
    while True:
        if not cap.grab():
            break
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if t + 1e-6 < next_t:
            continue
        ok, frame = cap.retrieve()
        if not ok:
            break
        k = round(next_t * FPS)
        dump = args.dump is not None and t + 1e-6 >= args.dump
        faces, objects, meshed_now = [], None, []
        # proctor's schedule: YuNet on every DETECT_FPS sample, the faces tracked by
        # their meshes in between, YuNet again where tracking loses a face; after a
        # detection that found nobody, nobody until the next one.
        detect = k % round(FPS / DETECT_FPS) == 0 or dump
        if not detect and tracked:
            meshed_now = mesh_faces(frame, tracked)
            detect = any(m is None for m in meshed_now)
        if detect:
            small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
            faces = faces_net.detect(small)[1]
            faces = [] if faces is None else faces
            detects += 1
            with_face += len(faces) > 0
            boxes = [(f[0] / scale, f[1] / scale, (f[0] + f[2]) / scale, (f[1] + f[3]) / scale) for f in faces]
            meshed_now = mesh_faces(frame, boxes)
            tracked = [m or b for m, b in zip(meshed_now, boxes)]
        elif tracked:
            tracked = meshed_now
        if k % round(FPS / OBJECT_FPS) == 0 or dump:
            objects = objects_net(frame)
            objects_runs += 1
            for name, _, _ in objects:
                objects_seen[name] = objects_seen.get(name, 0) + 1
        analysed += 1
        marks = [m for m in meshed_now if m is not None]
        meshed += len(marks) > 0
        if dump:
            out = {
                "t": round(t, 3),
                "faces": [{"score": round(float(f[14]), 3), "box": [round(float(v) / scale) for v in (f[0], f[1], f[0] + f[2], f[1] + f[3])]} for f in faces],
                "objects": [{"class": n, "score": round(s, 3), "box": [round(float(v)) for v in (b[0], b[1], b[0] + b[2], b[1] + b[3])]} for n, s, b in objects],
                "meshes": len(marks),
            }
            print(json.dumps(out))
            return 0
        while next_t <= t + 1e-6:
            next_t += 1.0 / FPS
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "analysed": analysed,
                "face_detections": detects,
                "with_face": with_face,
                "with_mesh": meshed,
                "object_runs": objects_runs,
                "objects": objects_seen,
                "seconds": round(elapsed, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
