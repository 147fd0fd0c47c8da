//! `earshot data list | fetch | prepare`: the public datasets, downloaded
//! (resumable, verified) and laid out for the shipped experiments.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use earshot::datasets::download::{Algorithm, Fetched, Limits, download_with};
use earshot::datasets::extract::{ExtractError, UnpackLimits};
use earshot::datasets::prepare::{Outcome, PrepareError, check_fsdd};
use earshot::datasets::{CATALOG, DatasetInfo, Kind, data_dir, find};
use indicatif::{ProgressBar, ProgressStyle};

/// What to do.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// The datasets earshot knows: name, licence, source.
    List,
    /// Download a dataset's archives into DIR/downloads (resumes; verified).
    ///
    /// Example: earshot data fetch dcase2023-task2 --machine fan
    Fetch(FetchArgs),
    /// Download (unless --from) and lay a dataset out for the experiments: DIR/<name>/.
    ///
    /// fsdd becomes the speaker-novelty split the README's tables use
    /// (george, jackson, lucas, nicolas, theo: takes 0-39 train/normal, 40-49
    /// test/normal; yweweler: test/anomaly). DCASE sets become
    /// DIR/<name>/<machine>/{train,test} for layout = "dcase". bad adds each
    /// set (--machine warblrb10k or ff1010bird, default both) to DIR/bad:
    /// <itemid>.wav and one labels.csv for layout = "bad". bad-test (the
    /// challenge's Chernobyl/warblrb10k test clips, whose labels were never
    /// published) becomes DIR/bad-test/<itemid>.wav for `earshot detect`.
    ///
    /// Examples:
    ///   earshot data prepare fsdd && earshot train experiments/rnn_vs_cae.toml
    ///   earshot data prepare fsdd --from free-spoken-digit-dataset-1.0.10.zip   (offline)
    ///   earshot data prepare dcase2023-task2 --machine fan
    ///   earshot data prepare bad --machine ff1010bird --from ff1010bird_wav.zip --labels ff1010bird_metadata_2018.csv
    #[command(verbatim_doc_comment)]
    Prepare(PrepareArgs),
}

/// Where and what.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// A name from `earshot data list`.
    name: String,
    /// One machine type of a DCASE set, or one set of bad [default: all of them].
    #[arg(long)]
    machine: Option<String>,
    /// The data folder [default: $EARSHOT_DATA, else ~/.cache/earshot/data].
    #[arg(long)]
    to: Option<PathBuf>,
    /// Download from this address instead (a mirror), for one archive: with
    /// a dataset of several archives, name which with --machine.
    #[arg(long)]
    url: Option<String>,
    /// Seconds to wait to connect, for the server's answer, and for any data;
    /// a transfer slower than 1 KiB/s over that long is cut too. A cut
    /// download is kept as <file>.part and resumes on the next run.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// The archive's expected digest, a SHA-256 or an MD5 (checked before it
    /// is kept) [default: the publisher's digest earshot pins, where `earshot data list` says so].
    #[arg(long, visible_aliases = ["sha256", "md5"], value_name = "HEX")]
    checksum: Option<String>,
}

/// `prepare` arguments.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    #[command(flatten)]
    fetch: FetchArgs,
    /// Use this archive (or, for fsdd, a folder of its recordings) instead of downloading.
    #[arg(long, conflicts_with_all = ["url", "checksum"])]
    from: Option<PathBuf>,
    /// For bad with --from: the set's labels CSV (itemid,datasetid,hasbird).
    #[arg(long, requires = "from")]
    labels: Option<PathBuf>,
    /// The most an archive may unpack to, e.g. 500M, 200G [default: 10x the
    /// archive's size, at least 256M: far above any audio archive, far below
    /// a zip bomb]. Checked while writing; nothing is kept when it is passed.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_unpacked: Option<u64>,
}

/// A size in bytes with an optional K, M, G or T suffix (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            format!("{text:?} is not a size: give bytes, or a number with K, M, G or T (e.g. 200G)")
        })
}

/// Runs `earshot data`.
pub fn run(cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::List => {
            for d in CATALOG {
                let how = d.kind.how_fetched(!d.digests.is_empty());
                println!("{:<16} {}", d.name, d.title);
                println!("{:<16} licence: {}; {how}", "", d.licence);
                if !d.machines.is_empty() {
                    let what = d.kind.part_noun();
                    println!("{:<16} {what} (--machine): {}", "", d.machines.join(", "));
                }
            }
            println!(
                "data folder: {} (--to DIR or $EARSHOT_DATA to change)",
                data_dir(None).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Fetch(args) => {
            let info = dataset(&args.name)?;
            let machines = info
                .machines_for(args.machine.as_deref())
                .map_err(anyhow::Error::msg)?;
            one_archive_per_url(info, &machines, &args)?;
            for machine in machines {
                fetch_one(info, machine, &args)?;
                fetch_labels(info, machine, &args)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Prepare(args) => prepare(args),
    }
}

fn dataset(name: &str) -> anyhow::Result<&'static DatasetInfo> {
    let info = find(name).map_err(anyhow::Error::msg)?;
    if let Kind::Manual(how) = info.kind {
        bail!("{} is not downloaded by earshot: {how}", info.name);
    }
    Ok(info)
}

/// `--url` names one archive: a dataset of several needs `--machine` with it,
/// or the one download would be saved (and recorded) as every archive.
fn one_archive_per_url(
    info: &DatasetInfo,
    machines: &[&str],
    args: &FetchArgs,
) -> anyhow::Result<()> {
    if args.url.is_some() && machines.len() > 1 {
        bail!(
            "--url gives one archive but {} has {}: add --machine (one of {})",
            info.name,
            machines.len(),
            info.machines.join(", ")
        );
    }
    Ok(())
}

/// Downloads one archive, with a progress bar of bytes and rate.
fn fetch_one(info: &DatasetInfo, machine: &str, args: &FetchArgs) -> anyhow::Result<PathBuf> {
    let (default_url, file_name) = info.archive_for(machine);
    let url = args.url.clone().unwrap_or(default_url);
    let expected = args.checksum.as_deref().or(info.digest_for(machine));
    fetch_file(info, &url, &file_name, expected, args)
}

/// Downloads the labels CSV of one set where the dataset has one apart
/// from its archives (`bad`).
fn fetch_labels(
    info: &DatasetInfo,
    machine: &str,
    args: &FetchArgs,
) -> anyhow::Result<Option<PathBuf>> {
    match info.labels_for(machine) {
        Some((url, file_name)) => fetch_file(info, &url, &file_name, None, args).map(Some),
        None => Ok(None),
    }
}

fn fetch_file(
    info: &DatasetInfo,
    url: &str,
    file_name: &str,
    expected: Option<&str>,
    args: &FetchArgs,
) -> anyhow::Result<PathBuf> {
    let dir = data_dir(args.to.clone()).join("downloads");
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(file_name.to_string());
    let mut on_bytes = |done: u64, total: Option<u64>| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    };
    let limits = Limits {
        timeout: std::time::Duration::from_secs(args.timeout),
        ..Limits::default()
    };
    let fetched = download_with(url, &dir, file_name, expected, limits, &mut on_bytes)
        .with_context(|| format!("fetching {} ({})", info.name, file_name))?;
    bar.finish_and_clear();
    Ok(match fetched {
        Fetched::AlreadyVerified(path, sha) => {
            eprintln!(
                "{}: already downloaded and verified (SHA-256 {sha})",
                path.display()
            );
            path
        }
        Fetched::Downloaded {
            path,
            sha256,
            resumed,
        } => {
            eprintln!(
                "{}: downloaded{}, SHA-256 {sha256}{}",
                path.display(),
                if resumed { " (resumed)" } else { "" },
                match expected.map(Algorithm::of) {
                    Some(Ok(algorithm)) => format!(" ({} as pinned)", algorithm.name()),
                    _ => " (no pinned digest: recorded, and checked on every later use)".into(),
                }
            );
            path
        }
    })
}

fn prepare(args: PrepareArgs) -> anyhow::Result<ExitCode> {
    let info = dataset(&args.fetch.name)?;
    let data = data_dir(args.fetch.to.clone());
    let machines = info
        .machines_for(args.fetch.machine.as_deref())
        .map_err(anyhow::Error::msg)?;
    one_archive_per_url(info, &machines, &args.fetch)?;
    if args.from.is_some() && machines.len() > 1 {
        bail!(
            "--from gives one archive: add --machine (one of {})",
            info.machines.join(", ")
        );
    }
    for machine in machines {
        let source = match &args.from {
            Some(from) => from.clone(),
            None => fetch_one(info, machine, &args.fetch)?,
        };
        let labels = match (info.kind.needs_labels(), &args.labels) {
            (true, Some(labels)) => Some(labels.clone()),
            (true, None) if args.from.is_some() => bail!(
                "{} with --from also needs the set's labels CSV: add --labels FILE ({})",
                info.name,
                info.labels_for(machine).map(|l| l.1).unwrap_or_default()
            ),
            (true, None) => fetch_labels(info, machine, &args.fetch)?,
            (false, _) => None,
        };
        // Unpacking an archive of several GB takes minutes: say what is going on.
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.set_message(format!(
            "unpacking {} and laying out {}",
            source.display(),
            info.name
        ));
        spinner.enable_steady_tick(std::time::Duration::from_millis(200));
        let limits = UnpackLimits {
            max_bytes: args.max_unpacked,
            ..UnpackLimits::default()
        };
        let outcome = info.kind.prepare(
            info.name,
            machine,
            &source,
            labels.as_deref(),
            &data,
            limits,
        );
        spinner.finish_and_clear();
        if let Err(PrepareError::Extract(ExtractError::Interrupted(e))) = &outcome {
            // 128 + SIGINT, the status a shell gives an interrupted command.
            eprintln!("error: preparing {}: {e}", info.name);
            return Ok(ExitCode::from(130));
        }
        let outcome = outcome.with_context(|| format!("preparing {}", info.name))?;
        let (Outcome::Built(prepared, _) | Outcome::AlreadyThere(prepared)) = &outcome;
        let prepared = prepared.clone();
        match outcome {
            Outcome::Built(dir, counts) => {
                println!("{}", info.kind.built_message(&dir, counts, machine))
            }
            Outcome::AlreadyThere(dir) => {
                println!("{}: prepared before, left as it is", dir.display())
            }
        }
        if info.kind == Kind::Fsdd {
            report_fsdd_check(&prepared)?;
        }
    }
    println!(
        "experiments find it by name (e.g. root = \"{}\") under {}",
        info.name,
        data.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Says whether the prepared FSDD recordings are the ones README's tables
/// were measured on (a warning, not an error: another release may be meant).
fn report_fsdd_check(folder: &std::path::Path) -> anyhow::Result<()> {
    let check = check_fsdd(folder).context("checking the FSDD recordings")?;
    let odd = check.differing.len() + check.unknown.len();
    if odd == 0 && check.missing == 0 {
        println!(
            "all {} recordings have the SHA-256 pinned in datasets/fsdd.sha256 (those README's tables were measured on)",
            check.matching
        );
        return Ok(());
    }
    let names: Vec<&str> = check
        .differing
        .iter()
        .chain(&check.unknown)
        .map(String::as_str)
        .take(5)
        .collect();
    eprintln!(
        "warning: {} of the recordings match datasets/fsdd.sha256, {} differ or are not in it{}, {} of it are absent: \
         these are not the FSDD v1.0.10 recordings README's tables were measured on, so figures may differ",
        check.matching,
        odd,
        if names.is_empty() {
            String::new()
        } else {
            format!(" (e.g. {})", names.join(", "))
        },
        check.missing
    );
    Ok(())
}
