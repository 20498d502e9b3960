//! Head pose, eye openness and gaze from face-mesh landmarks (plain geometry, pixels).
//!
//! Conventions (image coordinates: x right, y down; "left"/"right" are the subject's):
//! * `yaw` > 0: head turned towards the subject's **left** (the nose moves to the image
//!   right in an unmirrored camera image).
//! * `pitch` > 0: head tilted **up** (chin up; the nose moves up in the image).
//! * `roll` > 0: head tilted towards the subject's **left shoulder** = clockwise on
//!   screen (the eye on the image's right is lower).
//!
//! `R = Rz(roll) · Ry(yaw) · Rx(pitch)` maps the head template into camera axes; angles
//! are in degrees. The fit is weak-perspective (scaled orthographic) on 15 stable points
//! of mediapipe's canonical face model (mesh z is not used). Exact under orthographic
//! projection; with a pinhole camera 60 cm from the face (webcam distance) the error
//! grows to ≤ 4° for rotations up to 40°. The absolute zero depends on the subject's
//! face shape and on the camera height (a frontal portrait gave pitch ≈ −6°; fits with
//! other point sets ranged −3° to −16° on the same photo), so compare angles to a
//! per-recording baseline (e.g. the median) rather than to 0.
//!
//! Eye aspect ratio (Soukupová & Čech): `(|p2−p6| + |p3−p5|) / (2 |p1−p4|)` on six mesh
//! points per eye. Open eyes on a frontal face ≈ 0.25–0.3, closed ≈ 0.05.
//!
//! Gaze: the iris centre in the eye's own frame (x axis = corner to corner, the eye
//! line's angle removes head roll). `x` = offset from the corners' midpoint along that
//! axis divided by half the eye width; `y` = offset from the lids' midpoint along the
//! perpendicular divided by half the lid opening (floored at 0.2 × half width so a
//! closing eye does not blow up). 0 = centred; `x` > 0 = iris towards the image right
//! (the subject looks to their left); `y` > 0 = iris lower (looks down). Typical
//! magnitudes are < 0.5 horizontally; values are not clamped.

/// Mesh indices used for head pose: nose tip, nose (below tip), nose bridge ×3 (6, 168,
/// 197), right/left eye outer corners, right/left eye inner corners, right/left mouth
/// corners, chin, forehead, right/left face sides (234/454). Brows are left out (they
/// move with expression). Chosen among several small sets as the one closest to a fit
/// on all 468 points on a real frontal photo and least sensitive to perspective.
pub const POSE_POINTS: [usize; 15] = [1, 4, 6, 168, 197, 33, 263, 133, 362, 61, 291, 152, 10, 234, 454];

/// The same points in mediapipe's canonical face model (cm), converted to image axes
/// (x right, y down, z away from the camera; the nose tip is closest).
pub const POSE_TEMPLATE: [[f32; 3]; 15] = [
    [0.0, 1.127, -7.476],
    [0.0, 0.463, -7.587],
    [0.0, -2.473, -5.789],
    [0.0, -3.271, -5.236],
    [0.0, -1.728, -6.317],
    [-4.446, -2.664, -3.173],
    [4.446, -2.664, -3.173],
    [-1.856, -2.585, -3.758],
    [1.856, -2.585, -3.758],
    [-2.456, 4.343, -4.284],
    [2.456, 4.343, -4.284],
    [0.0, 9.403, -4.264],
    [0.0, -8.262, -4.482],
    [-7.664, -0.673, 2.436],
    [7.664, -0.673, 2.436],
];

/// Six EAR points of the subject's right eye: corner, upper ×2, corner, lower ×2.
pub const RIGHT_EYE_EAR: [usize; 6] = [33, 160, 158, 133, 153, 144];
/// Six EAR points of the subject's left eye.
pub const LEFT_EYE_EAR: [usize; 6] = [362, 385, 387, 263, 373, 380];

/// Which eye (the subject's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eye {
    Right,
    Left,
}

impl Eye {
    /// (image-left corner, image-right corner, upper lid, lower lid) mesh indices.
    fn frame_points(self) -> [usize; 4] {
        match self {
            Eye::Right => [33, 133, 159, 145],
            Eye::Left => [362, 263, 386, 374],
        }
    }
}

/// Head orientation in degrees (see module docs for signs) and the fitted scale
/// (pixels per template cm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadPose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    pub scale: f32,
}

/// Iris position within the eye (see module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaze {
    pub x: f32,
    pub y: f32,
}

/// Head pose from a 468-point mesh (x, y used; z ignored).
pub fn head_pose(mesh: &[[f32; 3]]) -> Option<HeadPose> {
    if mesh.len() < 468 {
        return None;
    }
    let pts: Vec<[f32; 2]> = POSE_POINTS.iter().map(|&i| [mesh[i][0], mesh[i][1]]).collect();
    head_pose_from_points(&pts, &POSE_TEMPLATE)
}

/// Weak-perspective pose fit of `template` (3D) to `image` (2D) point pairs.
/// Solves the 2×3 affine camera `M` by least squares, then takes its nearest
/// scaled rotation (polar decomposition of the 2×3 matrix).
pub fn head_pose_from_points(image: &[[f32; 2]], template: &[[f32; 3]]) -> Option<HeadPose> {
    let n = image.len();
    if n < 4 || n != template.len() {
        return None;
    }
    let mut mi = [0f64; 2];
    let mut mt = [0f64; 3];
    for (p, q) in image.iter().zip(template) {
        for k in 0..2 {
            mi[k] += p[k] as f64 / n as f64;
        }
        for k in 0..3 {
            mt[k] += q[k] as f64 / n as f64;
        }
    }
    // A = Σ x Xᵀ (2×3), B = Σ X Xᵀ (3×3), centred.
    let mut a = [[0f64; 3]; 2];
    let mut b = [[0f64; 3]; 3];
    for (p, q) in image.iter().zip(template) {
        let x = [p[0] as f64 - mi[0], p[1] as f64 - mi[1]];
        let t = [q[0] as f64 - mt[0], q[1] as f64 - mt[1], q[2] as f64 - mt[2]];
        for r in 0..3 {
            for c in 0..3 {
                b[r][c] += t[r] * t[c];
            }
            for k in 0..2 {
                a[k][r] += x[k] * t[r];
            }
        }
    }
    let bi = inv3(&b)?;
    let mut m = [[0f64; 3]; 2];
    for k in 0..2 {
        for c in 0..3 {
            m[k][c] = (0..3).map(|r| a[k][r] * bi[r][c]).sum();
        }
    }
    // G = M Mᵀ (2×2 SPD); sqrt(G) = (G + √det·I) / √(tr + 2√det).
    let g00: f64 = (0..3).map(|c| m[0][c] * m[0][c]).sum();
    let g01: f64 = (0..3).map(|c| m[0][c] * m[1][c]).sum();
    let g11: f64 = (0..3).map(|c| m[1][c] * m[1][c]).sum();
    let det = g00 * g11 - g01 * g01;
    if det <= 0.0 || !det.is_finite() {
        return None;
    }
    let sd = det.sqrt();
    let t = (g00 + g11 + 2.0 * sd).sqrt();
    let s = [[(g00 + sd) / t, g01 / t], [g01 / t, (g11 + sd) / t]];
    let sdet = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    let si = [[s[1][1] / sdet, -s[0][1] / sdet], [-s[1][0] / sdet, s[0][0] / sdet]];
    let mut r = [[0f64; 3]; 3];
    for k in 0..2 {
        for c in 0..3 {
            r[k][c] = si[k][0] * m[0][c] + si[k][1] * m[1][c];
        }
    }
    r[2] = [
        r[0][1] * r[1][2] - r[0][2] * r[1][1],
        r[0][2] * r[1][0] - r[0][0] * r[1][2],
        r[0][0] * r[1][1] - r[0][1] * r[1][0],
    ];
    // R = Rz(roll)·Ry(yaw)·Rx(pitch); third row = [sin yaw, −cos yaw·sin pitch, cos yaw·cos pitch].
    let yaw = r[2][0].clamp(-1.0, 1.0).asin();
    let pitch = (-r[2][1]).atan2(r[2][2]);
    let roll = r[1][0].atan2(r[0][0]);
    Some(HeadPose {
        yaw: yaw.to_degrees() as f32,
        pitch: pitch.to_degrees() as f32,
        roll: roll.to_degrees() as f32,
        scale: ((s[0][0] + s[1][1]) / 2.0) as f32,
    })
}

fn inv3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    if det.abs() < 1e-12 {
        return None;
    }
    let mut out = [[0f64; 3]; 3];
    for r in 0..3 {
        for k in 0..3 {
            out[r][k] = c(k, r) / det; // adjugate = transposed cofactors
        }
    }
    Some(out)
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Eye aspect ratio from six points `[p1..p6]` (2D distances).
pub fn aspect_ratio(p: [[f32; 3]; 6]) -> f32 {
    let w = dist(p[0], p[3]);
    if w <= f32::EPSILON {
        return 0.0;
    }
    (dist(p[1], p[5]) + dist(p[2], p[4])) / (2.0 * w)
}

/// Lip opening of a 468-point mesh: the gap between the inner lips (points 13
/// and 14) over the mouth's width (corners 61 and 291). About 0 with the mouth
/// closed, 0.2-0.5 wide open; speech makes it change several times a second.
pub fn mouth_opening(mesh: &[[f32; 3]]) -> f32 {
    let w = dist(mesh[61], mesh[291]);
    if w <= f32::EPSILON {
        return 0.0;
    }
    dist(mesh[13], mesh[14]) / w
}

/// Eye aspect ratio of one eye of a 468-point mesh.
pub fn eye_aspect_ratio(mesh: &[[f32; 3]], eye: Eye) -> f32 {
    let idx = match eye {
        Eye::Right => RIGHT_EYE_EAR,
        Eye::Left => LEFT_EYE_EAR,
    };
    aspect_ratio(idx.map(|i| mesh[i]))
}

/// Iris centre position within one eye (see module docs).
pub fn eye_gaze(mesh: &[[f32; 3]], iris_centre: [f32; 2], eye: Eye) -> Option<Gaze> {
    let [a, b, up, lo] = eye.frame_points().map(|i| [mesh[i][0], mesh[i][1]]);
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let width = (dx * dx + dy * dy).sqrt();
    if width <= f32::EPSILON {
        return None;
    }
    let u = [dx / width, dy / width];
    let nrm = [-u[1], u[0]]; // points down the image for a level eye
    let half_w = width / 2.0;
    let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let lid_mid = [(up[0] + lo[0]) / 2.0, (up[1] + lo[1]) / 2.0];
    let open = ((lo[0] - up[0]) * nrm[0] + (lo[1] - up[1]) * nrm[1]).abs() / 2.0;
    let half_h = open.max(0.2 * half_w);
    let x = ((iris_centre[0] - mid[0]) * u[0] + (iris_centre[1] - mid[1]) * u[1]) / half_w;
    let y = ((iris_centre[0] - lid_mid[0]) * nrm[0] + (iris_centre[1] - lid_mid[1]) * nrm[1]) / half_h;
    Some(Gaze { x, y })
}

/// Mean gaze of both eyes (each eye's iris centre = iris point 0).
pub fn gaze(mesh: &[[f32; 3]], right_iris_centre: [f32; 2], left_iris_centre: [f32; 2]) -> Option<Gaze> {
    let r = eye_gaze(mesh, right_iris_centre, Eye::Right)?;
    let l = eye_gaze(mesh, left_iris_centre, Eye::Left)?;
    Some(Gaze { x: (r.x + l.x) / 2.0, y: (r.y + l.y) / 2.0 })
}
