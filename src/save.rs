//! Saving one recording's analysis: the Parquet tables, the evidence
//! pictures, summary.json and the PDF report, all or nothing. What is saved
//! is the whole [`Analysis`] ([`crate::load`] reads it back).

use std::path::Path;

use crate::error::Result;
use crate::output::write_bytes;
pub use crate::records::{counts, KindCount, Outputs, Summary};
use crate::records::Analysis;
use crate::report;
use crate::tables::{detections_frame, events_frame, evidence_frame, frames_frame, write_parquet};

/// What to write besides the files every analysis writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Write the face descriptors (`<id>.embeddings.parquet`). Off by default:
    /// descriptors are biometric data.
    pub save_embeddings: bool,
    /// Do not write the review page (`<id>.review.html`).
    pub no_review_page: bool,
    /// Do not render the PDF report (`proctor rescore --no-reports`: a
    /// what-if over an archive wants the tables; an old report is removed,
    /// so none describes other events than the tables beside it).
    pub no_report: bool,
}

/// Prefix of the temporary directory a recording's outputs are written into.
pub const TEMP_PREFIX: &str = ".proctor-tmp-";

/// Write every output of `a` into `outdir`, all or nothing: the files are
/// written into a temporary directory beside them, then moved into place,
/// the report last (an old report is removed first), so a present report
/// means the tables beside it are complete and of the same run. On an error
/// nothing of this run is left in `outdir`. (Temporaries of earlier, killed
/// runs are removed once per run by the caller: [`clean_stale`].)
pub fn write_all(a: &Analysis, outdir: &Path) -> Result<Outputs> {
    write_all_with(a, outdir, &WriteOptions::default())
}

/// [`write_all`], with the optional outputs `opts` asks for (written and
/// moved into place with the others, before the report).
pub fn write_all_with(a: &Analysis, outdir: &Path, opts: &WriteOptions) -> Result<Outputs> {
    let out_err = |p: &Path, e: std::io::Error| crate::error::Error::new(p, crate::error::ErrorKind::Output(e.to_string()));
    std::fs::create_dir_all(outdir).map_err(|e| out_err(outdir, e))?;
    let tmp_dir = outdir.join(format!("{TEMP_PREFIX}{}-{}", a.recording, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp_dir);
    crate::output::create_dir(&tmp_dir).map_err(|e| out_err(&tmp_dir, e))?;
    let written = write_into(a, &tmp_dir, outdir, opts);
    let moved = written.and_then(|(tmp, out)| {
        if out.report.exists() {
            crate::output::remove_file(&out.report).map_err(|e| out_err(&out.report, e))?;
        }
        let report = (!opts.no_report).then_some((&tmp.report, &out.report));
        if let (Some(from), Some(to)) = (&tmp.embeddings, &out.embeddings) {
            crate::output::rename(from, to).map_err(|e| out_err(to, e))?;
        }
        if let (Some(from), Some(to)) = (&tmp.evidence, &out.evidence) {
            crate::output::rename(from, to).map_err(|e| out_err(to, e))?;
        }
        if !opts.no_review_page {
            let name = crate::review::page::file_name(&a.recording);
            let to = outdir.join(&name);
            crate::output::fs_step(|| std::fs::rename(tmp_dir.join(&name), &to)).map_err(|e| out_err(&to, e))?;
        }
        for (from, to) in [
            (&tmp.frames, &out.frames),
            (&tmp.detections, &out.detections),
            (&tmp.events, &out.events),
            (&tmp.summary, &out.summary),
        ]
        .into_iter()
        .chain(report)
        {
            crate::output::rename(from, to).map_err(|e| out_err(to, e))?;
        }
        Ok(out)
    });
    let _ = std::fs::remove_dir_all(&tmp_dir);
    moved
}

/// Write the files into `dir`; the summary names their final places in `outdir`.
fn write_into(a: &Analysis, dir: &Path, outdir: &Path, opts: &WriteOptions) -> Result<(Outputs, Outputs)> {
    let mut tmp = Outputs::for_recording(dir, &a.recording);
    let mut out = Outputs::for_recording(outdir, &a.recording);
    if opts.save_embeddings {
        let name = format!("{}.embeddings.parquet", a.recording);
        write_parquet(&dir.join(&name), &mut crate::tables::embeddings_frame(&a.recording, &a.observations))?;
        tmp.embeddings = Some(dir.join(&name));
        out.embeddings = Some(outdir.join(&name));
    }
    write_parquet(&tmp.frames, &mut frames_frame(&a.recording, &a.observations))?;
    write_parquet(&tmp.detections, &mut detections_frame(&a.recording, &a.observations))?;
    write_parquet(&tmp.events, &mut events_frame(&a.recording, &a.events))?;
    if let Some(p) = &tmp.evidence {
        write_parquet(p, &mut evidence_frame(&a.recording, &a.evidence))?;
    }
    let json = serde_json::to_vec_pretty(&Summary::of(a, &out))
        .map_err(|e| crate::error::Error::new(&tmp.summary, crate::error::ErrorKind::Output(e.to_string())))?;
    write_bytes(&tmp.summary, &json)?;
    if !opts.no_review_page {
        crate::review::page::write_page(a, &dir.join(crate::review::page::file_name(&a.recording)), outdir, !opts.no_report)?;
    }
    if !opts.no_report {
        let page = (!opts.no_review_page).then(|| crate::review::encode_segment(&crate::review::page::file_name(&a.recording)));
        let pdf = report::render_linked(a, page).map_err(|why| crate::error::Error::new(&out.report, crate::error::ErrorKind::Output(why)))?;
        write_bytes(&tmp.report, &pdf)?;
    }
    Ok((tmp, out))
}

/// Remove what a killed run left while writing `id`'s outputs into `dir`:
/// its temporary directory (`.proctor-tmp-<id>-<pid>`) and any temporary
/// beside an output. Called under `id`'s lock ([`crate::output::IdLock`]),
/// so every one is a dead run's: no process is asked whether it still runs.
pub fn clean_stale(dir: &Path, id: &str) {
    let ours = format!("{TEMP_PREFIX}{id}-");
    // one listing of `dir` (a batch's recordings/ holds every recording's outputs)
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.strip_prefix(&ours).is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())) {
            let _ = std::fs::remove_dir_all(e.path());
        } else if crate::output::temporary_of(&name)
            .and_then(|(target, _)| crate::records::OutputFile::parse(target))
            .is_some_and(|(of, _)| of == id)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Remove this process's own temporaries in `dir` (it quits at once, after
/// a second Ctrl-C, and will not finish them).
pub fn clean_own(dir: &Path) {
    let me = std::process::id().to_string();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) && name.rsplit_once('-').is_some_and(|(_, pid)| pid == me) {
            let _ = std::fs::remove_dir_all(e.path());
        } else if crate::output::temporary_of(&name).is_some_and(|(_, pid)| pid == me) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temporaries_of_one_id_are_cleaned_and_no_others() {
        let d = tempfile::tempdir().unwrap();
        let me = std::process::id();
        for dir in [format!("{TEMP_PREFIX}rec-0"), format!("{TEMP_PREFIX}rec-{me}"), format!("{TEMP_PREFIX}rec-b-0")] {
            std::fs::create_dir(d.path().join(dir)).unwrap();
        }
        for f in [".rec.report.pdf.tmp-0", ".rec-b.report.pdf.tmp-0", "rec.report.pdf", ".decisions.parquet.tmp-0"] {
            std::fs::write(d.path().join(f), b"x").unwrap();
        }
        let left = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            v.sort();
            v
        };
        // under the lock of 'rec': its temporaries are a killed run's, whatever their pid
        clean_stale(d.path(), "rec");
        assert_eq!(left(d.path()), [".decisions.parquet.tmp-0".to_string(), ".proctor-tmp-rec-b-0".into(), ".rec-b.report.pdf.tmp-0".into(), "rec.report.pdf".into()]);
        std::fs::create_dir(d.path().join(format!("{TEMP_PREFIX}rec-b-{me}"))).unwrap();
        std::fs::write(d.path().join(format!(".index.html.tmp-{me}")), b"x").unwrap();
        // quitting at once: this process's own go, the rest stays
        clean_own(d.path());
        assert_eq!(left(d.path()), [".decisions.parquet.tmp-0".to_string(), ".proctor-tmp-rec-b-0".into(), ".rec-b.report.pdf.tmp-0".into(), "rec.report.pdf".into()]);
    }

    #[test]
    fn counts_say_null_for_kinds_not_checked() {
        use crate::events::{checked_kinds, Event};
        use crate::kinds::EventKind;
        let ev = Event { kind: EventKind::NoFace, start_s: 0.0, end_s: 10.0, confidence: 1.0, detail: String::new(), evidence_t: 1.0 };
        let c = counts(&[ev], &checked_kinds(true, false, false, false));
        assert_eq!(c[&EventKind::NoFace], Some(KindCount { count: 1, total_s: 10.0 }));
        assert_eq!(c[&EventKind::MultipleFaces], Some(KindCount { count: 0, total_s: 0.0 }));
        assert!(c[&EventKind::MultipleFaces].as_ref().unwrap().total_s.is_sign_positive());
        assert_eq!(c[&EventKind::Phone], None);
        assert_eq!(c[&EventKind::Voices], None);
        assert_eq!(c[&EventKind::Identity], None);
        assert_eq!(c.len(), EventKind::ALL.len());
    }
}
