//! The public datasets earshot's experiments use: where they come from
//! ([`CATALOG`]), downloading ([`download`]), unpacking ([`extract`]) and
//! laying them out for an experiment ([`prepare`]).
//!
//! Everything lands under a data folder (`--to`, else `$EARSHOT_DATA`, else
//! `~/.cache/earshot/data`): archives in `downloads/`, datasets in `<name>/`,
//! which is what a relative `[data] root` finds there (`root = "fsdd"`).

pub mod bad;
pub mod download;
pub mod extract;
mod http;
mod kind;
pub mod prepare;
mod staging;

use std::path::{Path, PathBuf};

pub use kind::Kind;

/// One entry of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct DatasetInfo {
    /// What `earshot data fetch NAME` takes.
    pub name: &'static str,
    /// In words.
    pub title: &'static str,
    /// Its licence, as its publisher states it.
    pub licence: &'static str,
    /// Archive address; `{machine}` is replaced for per-machine sets.
    pub url: &'static str,
    /// Archive file name, `{machine}` likewise.
    pub archive: &'static str,
    /// Machine types (empty: one archive).
    pub machines: &'static [&'static str],
    /// Pinned digests, (machine type or "" for a one-archive set, SHA-256 or
    /// MD5 hex), from the publisher's record; an archive without one has its
    /// digest recorded at the first download and checked from then on.
    pub digests: &'static [(&'static str, &'static str)],
    /// How it is prepared.
    pub kind: Kind,
}

/// The machine types of the DCASE 2022-2025 development sets.
const DCASE_DEV_MACHINES: &[&str] = &[
    "bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve",
];

/// One Bird Audio Detection set: its WAV archive and labels CSV, at the
/// addresses the challenge page (DCASE 2018 task 3) gives; the 2018 label files.
#[derive(Debug, Clone, Copy)]
pub struct BadSet {
    /// The set's `datasetid`, what `--machine` takes.
    pub name: &'static str,
    /// The WAV archive's address.
    pub wav_url: &'static str,
    /// Its file name.
    pub wav_archive: &'static str,
    /// The labels CSV's address.
    pub labels_url: &'static str,
    /// Its file name.
    pub labels_file: &'static str,
}

/// The Bird Audio Detection training sets `earshot data` fetches.
pub const BAD_SETS: &[BadSet] = &[
    BadSet {
        name: "warblrb10k",
        wav_url: "https://archive.org/download/warblrb10k_public/warblrb10k_public_wav.zip",
        wav_archive: "warblrb10k_public_wav.zip",
        labels_url: "https://ndownloader.figshare.com/files/10853306",
        labels_file: "warblrb10k_public_metadata_2018.csv",
    },
    BadSet {
        name: "ff1010bird",
        wav_url: "https://archive.org/download/ff1010bird/ff1010bird_wav.zip",
        wav_archive: "ff1010bird_wav.zip",
        labels_url: "https://ndownloader.figshare.com/files/10853303",
        labels_file: "ff1010bird_metadata_2018.csv",
    },
];

/// Every dataset `earshot data` knows.
pub const CATALOG: &[DatasetInfo] = &[
    DatasetInfo {
        name: "fsdd",
        title: "Free Spoken Digit Dataset v1.0.10 (3,000 clips, 6 speakers, 8 kHz), split for speaker novelty",
        licence: "CC BY-SA 4.0 (Jakobovski et al.)",
        url: "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip",
        archive: "free-spoken-digit-dataset-1.0.10.zip",
        machines: &[],
        digests: &[],
        kind: Kind::Fsdd,
    },
    DatasetInfo {
        name: "dcase2020-task2",
        title: "DCASE 2020 task 2 development set (MIMII + ToyADMOS), one archive per machine type",
        licence: "see the Zenodo record 3678171",
        url: "https://zenodo.org/record/3678171/files/dev_data_{machine}.zip",
        archive: "dev_data_{machine}.zip",
        machines: &["ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve"],
        // The MD5s Zenodo lists for record 3678171.
        digests: &[
            ("ToyCar", "4dec75ca8d9f666aa9e4c1894a740501"),
            ("ToyConveyor", "03b6aa1bfd09a39d53af0ba39f71fa91"),
            ("fan", "649bdfc06263ae7a838963f43b6641e6"),
            ("pump", "90e7091ef722b7238a7f1009365779cd"),
            ("slider", "da24a757719f0d94d5aa2d646bbfdc86"),
            ("valve", "34d2672f55bb041589ef79c10dc89934"),
        ],
        kind: Kind::Dcase,
    },
    DatasetInfo {
        name: "mimii-due",
        title: "MIMII DUE: the five MIMII machine types of the DCASE 2021 task 2 development set (sections 00-02, source/target domains)",
        licence: "CC BY-NC-SA 4.0 (Zenodo record 4740355)",
        url: "https://zenodo.org/records/4740355/files/dev_data_{machine}.zip",
        archive: "mimii-due_dev_data_{machine}.zip",
        machines: &["fan", "gearbox", "pump", "slider", "valve"],
        // The MD5s Zenodo lists for record 4740355.
        digests: &[
            ("fan", "2fd8c081d1adf559372763f204fd154f"),
            ("gearbox", "16a22870056194a1da6ace2f1f5b42b5"),
            ("pump", "8c7090f0974336404070315a1e1445f4"),
            ("slider", "788d8942aae1f8da4e851d16946b05ab"),
            ("valve", "bc456bef6bc28decc1f9e74ca11480c3"),
        ],
        kind: Kind::Dcase,
    },
    DatasetInfo {
        name: "dcase2022-task2",
        title: "DCASE 2022 task 2 development set (sections, source/target domains)",
        licence: "see the Zenodo record 6355122",
        url: "https://zenodo.org/record/6355122/files/dev_{machine}.zip",
        archive: "dev2022_{machine}.zip",
        machines: DCASE_DEV_MACHINES,
        digests: &[],
        kind: Kind::Dcase,
    },
    DatasetInfo {
        name: "dcase2023-task2",
        title: "DCASE 2023 task 2 development set (first-shot, attributes fixed 2023-05-01)",
        licence: "see the Zenodo record 7882613",
        url: "https://zenodo.org/record/7882613/files/dev_{machine}.zip",
        archive: "dev2023_{machine}.zip",
        machines: DCASE_DEV_MACHINES,
        // The MD5s Zenodo lists for record 7882613.
        digests: &[
            ("bearing", "8a813bc8d8f156b5395bfccdfac7673c"),
            ("fan", "9348591e96fb0ad499a1e33b082562fc"),
            ("gearbox", "b6e55f6a31faa0fc8569ec0afdd53ccf"),
            ("slider", "b3f8dee36b4718c36d659a4fd1c4afe0"),
            ("ToyCar", "4e3bf15f4101ed4ed4f1fecde2e2b2a3"),
            ("ToyTrain", "6b02a6c65eebb3b8b1ae59a6b25bb897"),
            ("valve", "b2051a2022eadb53cd97581120811cae"),
        ],
        kind: Kind::Dcase,
    },
    DatasetInfo {
        name: "dcase2024-task2",
        title: "DCASE 2024 task 2 development set",
        licence: "see the Zenodo record 10902294",
        url: "https://zenodo.org/record/10902294/files/dev_{machine}.zip",
        archive: "dev2024_{machine}.zip",
        machines: DCASE_DEV_MACHINES,
        digests: &[],
        kind: Kind::Dcase,
    },
    DatasetInfo {
        name: "dcase2025-task2",
        title: "DCASE 2025 task 2 development set",
        licence: "see the Zenodo record 15097779",
        url: "https://zenodo.org/records/15097779/files/dev_{machine}.zip",
        archive: "dev2025_{machine}.zip",
        machines: DCASE_DEV_MACHINES,
        digests: &[],
        kind: Kind::Dcase,
    },
    DatasetInfo {
        name: "bad",
        title: "Bird Audio Detection training sets warblrb10k (8,000 clips, 4.3 GB) and ff1010bird (7,690, 5.8 GB), 10 s 44.1 kHz, with hasbird labels",
        licence: "see each archive's page (ff1010bird: CC BY-NC 4.0)",
        url: "",
        archive: "",
        machines: &["warblrb10k", "ff1010bird"],
        digests: &[],
        kind: Kind::Bad,
    },
    DatasetInfo {
        name: "bad-test",
        title: "Bird Audio Detection challenge test set (Chernobyl and warblrb10k clips, 6.1 GB, 10 s 44.1 kHz); its labels are held back by the organisers, so it is scored with `earshot detect`, not evaluated",
        licence: "see the archive.org item birdaudiodetectionchallenge_test",
        url: "https://archive.org/download/birdaudiodetectionchallenge_test/badchallenge_testdata_wavs.zip",
        archive: "badchallenge_testdata_wavs.zip",
        machines: &[],
        digests: &[],
        kind: Kind::BadTest,
    },
    DatasetInfo {
        name: "soundscape",
        title: "Forest soundscape of bird_vae / soundscape_zoo (scikit-maad test recordings)",
        licence: "BSD-3-Clause (scikit-maad)",
        url: "",
        archive: "",
        machines: &[],
        digests: &[],
        kind: Kind::Manual(
            "the 96 recordings S4A03895_20190522_*.wav ship with scikit-maad's test data \
             (github.com/scikit-maad/scikit-maad, folder data/); copy them into <data>/soundscape/ \
             and use datasets/soundscape_night_vs_dawn.csv as the manifest",
        ),
    },
];

/// The catalog entry called `name`, or an error listing the known ones.
pub fn find(name: &str) -> Result<&'static DatasetInfo, String> {
    CATALOG.iter().find(|d| d.name == name).ok_or_else(|| {
        format!(
            "no dataset called {name:?}; known: {} (`earshot data list` describes them)",
            CATALOG
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

impl DatasetInfo {
    /// The machine types to fetch: `machine` (checked), or every one.
    pub fn machines_for(&self, machine: Option<&str>) -> Result<Vec<&'static str>, String> {
        match (machine, self.machines.is_empty()) {
            (None, true) => Ok(vec![""]),
            (Some(m), true) => Err(format!(
                "{} has no machine types; leave out --machine {m}",
                self.name
            )),
            (None, false) => Ok(self.machines.to_vec()),
            (Some(m), false) => self
                .machines
                .iter()
                .find(|k| k.eq_ignore_ascii_case(m))
                .map(|k| vec![*k])
                .ok_or_else(|| {
                    format!(
                        "{} has no machine type {m:?}; it has {}",
                        self.name,
                        self.machines.join(", ")
                    )
                }),
        }
    }

    /// (address, archive file name) of one machine type's archive.
    pub fn archive_for(&self, machine: &str) -> (String, String) {
        if let Some(set) = bad_set(self, machine) {
            return (set.wav_url.to_string(), set.wav_archive.to_string());
        }
        (
            self.url.replace("{machine}", machine),
            self.archive.replace("{machine}", machine),
        )
    }

    /// The pinned digest of one machine type's archive, if there is one.
    pub fn digest_for(&self, machine: &str) -> Option<&'static str> {
        self.digests
            .iter()
            .find(|(m, _)| *m == machine)
            .map(|(_, digest)| *digest)
    }

    /// (address, file name) of the labels CSV of one set, where the dataset
    /// has labels apart from its archives (`bad`).
    pub fn labels_for(&self, machine: &str) -> Option<(String, String)> {
        bad_set(self, machine).map(|set| (set.labels_url.to_string(), set.labels_file.to_string()))
    }
}

fn bad_set(info: &DatasetInfo, machine: &str) -> Option<&'static BadSet> {
    if info.kind != Kind::Bad {
        return None;
    }
    BAD_SETS.iter().find(|set| set.name == machine)
}

/// Where datasets live when an experiment names them by a relative root:
/// `flag` (`--data-dir`, `--to`), else `$EARSHOT_DATA`, else
/// `~/.cache/earshot/data`; `None` only without a flag and without `$HOME`.
pub fn data_dir_of(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("EARSHOT_DATA").map(Into::into))
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/earshot/data")))
}

/// The data folder: `--to`, else where experiments look for datasets
/// ([`data_dir_of`]), else `.cache/earshot/data` under the current folder.
pub fn data_dir(to: Option<PathBuf>) -> PathBuf {
    data_dir_of(to.as_deref()).unwrap_or_else(|| PathBuf::from(".cache/earshot/data"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::download::Algorithm;

    #[test]
    fn every_pinned_digest_is_a_digest_of_a_listed_archive() {
        for d in CATALOG {
            for (machine, digest) in d.digests {
                assert!(Algorithm::of(digest).is_ok(), "{}: {digest}", d.name);
                assert!(
                    d.machines.contains(machine) || (d.machines.is_empty() && machine.is_empty()),
                    "{}: {machine}",
                    d.name
                );
            }
            let pinned: std::collections::BTreeSet<_> = d.digests.iter().map(|p| p.0).collect();
            assert_eq!(
                pinned.len(),
                d.digests.len(),
                "{}: one digest per archive",
                d.name
            );
        }
        let dcase2020 = find("dcase2020-task2").unwrap();
        assert_eq!(
            dcase2020.digest_for("fan"),
            Some("649bdfc06263ae7a838963f43b6641e6")
        );
        assert_eq!(dcase2020.digest_for("bearing"), None);
    }
}
