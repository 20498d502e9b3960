//! The plain records every stage hands the next: what was observed in each
//! frame, the events, the baseline, the score, identity and audio facts, and
//! the [`Analysis`] that holds them all. Stages produce and read these;
//! writers and views render them. This layer depends on nothing of the
//! project but the event kinds, the configuration and the error type, so no
//! stage ever imports another to get at a type.

mod analysis;
mod audio;
mod event;
mod identity;
mod manifest;
mod media;
mod observation;
mod score;

pub use analysis::*;
pub use audio::*;
pub use event::*;
pub use identity::*;
pub use manifest::*;
pub use media::*;
pub use observation::*;
pub use score::*;
