//! Plain geometry on landmarks: head pose, eye openness, gaze. No networks.

pub mod geometry;
