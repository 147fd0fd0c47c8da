//! What each kind of dataset does: how `earshot data list` describes it,
//! whether a part needs a labels file, how an archive is laid out as an
//! experiment's folder, and what `data prepare` says when it is built. A
//! dataset with an existing layout is one catalogue entry ([`super::CATALOG`]);
//! a new layout is a variant here and its preparing file.

use std::path::Path;

use super::bad::{prepare_bad, prepare_bad_test};
use super::extract::UnpackLimits;
use super::prepare::{Outcome, PrepareError, prepare_dcase, prepare_fsdd};

/// How a dataset becomes an experiment's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The Free Spoken Digit Dataset, split for speaker novelty.
    Fsdd,
    /// A DCASE task-2 development set, one archive per machine type.
    Dcase,
    /// The Bird Audio Detection training sets: per set a WAV archive and a
    /// labels CSV ([`BAD_SETS`]), merged into one `bad` folder.
    Bad,
    /// The Bird Audio Detection challenge's test clips, unlabelled: a folder
    /// of `<itemid>.wav` for `earshot detect`.
    BadTest,
    /// Not fetched by earshot: the text says how to get it.
    Manual(&'static str),
}

impl Kind {
    /// How `earshot data list` says it is fetched and checked (`pinned`: the
    /// catalogue pins the publisher's digests).
    pub fn how_fetched(self, pinned: bool) -> &'static str {
        match self {
            Kind::Manual(_) => "not fetched (`earshot data fetch` says how)",
            Kind::Fsdd => "fetch, prepare; recordings checked against datasets/fsdd.sha256",
            _ if !pinned => "fetch, prepare; no published digest pinned",
            _ => "fetch, prepare; archives checked against the publisher's MD5s",
        }
    }

    /// What `--machine` picks among: the parts of the dataset.
    pub fn part_noun(self) -> &'static str {
        match self {
            Kind::Bad => "sets",
            _ => "machines",
        }
    }

    /// Whether each part comes with a labels CSV (`--labels`).
    pub fn needs_labels(self) -> bool {
        self == Kind::Bad
    }

    /// Lays out `source` (the archive of `part` of dataset `name`; `labels`
    /// where [`Self::needs_labels`]) under the data folder `data`.
    pub fn prepare(
        self,
        name: &str,
        part: &str,
        source: &Path,
        labels: Option<&Path>,
        data: &Path,
        limits: UnpackLimits,
    ) -> Result<Outcome, PrepareError> {
        match self {
            Kind::Fsdd => prepare_fsdd(source, data, limits),
            Kind::BadTest => prepare_bad_test(source, data, limits),
            Kind::Bad => {
                let labels = labels.ok_or_else(|| PrepareError::Content {
                    path: source.to_path_buf(),
                    reason: "the set's labels CSV is needed too (--labels FILE)".into(),
                })?;
                prepare_bad(part, source, labels, data, limits)
            }
            Kind::Dcase => prepare_dcase(name, part, source, data, limits),
            Kind::Manual(how) => Err(PrepareError::Content {
                path: source.to_path_buf(),
                reason: format!("{name} is not prepared by earshot: {how}"),
            }),
        }
    }

    /// What `data prepare` says of a folder it built with `counts` (see
    /// [`Outcome::Built`]) from `part`.
    pub fn built_message(self, dir: &Path, counts: [usize; 3], part: &str) -> String {
        let dir = dir.display();
        match (self, counts) {
            (Kind::Bad, [clips, birds, missing]) => format!(
                "{dir}: {clips} clips of {part} added ({birds} with birds){}",
                if missing > 0 {
                    format!(", {missing} labels rows without a clip in the archive left out")
                } else {
                    String::new()
                }
            ),
            (Kind::BadTest, [clips, _, _]) => format!(
                "{dir}: {clips} unlabelled clips; score them with `earshot detect --model RUN {dir}`"
            ),
            (Kind::Fsdd, [train, test, anomaly]) => {
                format!("{dir}: {train} train/normal, {test} test/normal, {anomaly} test/anomaly")
            }
            (_, [train, test, _]) => format!("{dir}: {train} train, {test} test files"),
        }
    }
}
