//! Reading a round's reproducibility bundle (ExportReviewRound, part BUNDLE): the ZIP's files by
//! name, for `tica sampling check-bundle` and the tests. Writing it is `service::export`.

use std::collections::BTreeMap;
use std::io::Read;

/// The files a bundle holds.
pub const FILES: [&str; 8] = [
    "README.txt",
    "population.csv",
    "seed.txt",
    "plan.json",
    "commitment.json",
    "expected_sample.csv",
    "requirements.txt",
    "reproduce.py",
];

/// The bundle's files by name (the ZIP's one directory `{round_id}/` left off), each of
/// [`FILES`] present; an error saying what is wrong otherwise.
pub fn unzip(bytes: &[u8]) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| anyhow::anyhow!("not a ZIP: {e}"))?;
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| anyhow::anyhow!("reading the ZIP: {e}"))?;
        if file.is_dir() {
            continue;
        }
        let name = file
            .name()
            .map_err(|e| anyhow::anyhow!("reading the ZIP: {e}"))?
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut content = Vec::new();
        file.read_to_end(&mut content)?;
        files.insert(name, content);
    }
    for name in FILES {
        anyhow::ensure!(files.contains_key(name), "the bundle has no {name}");
    }
    Ok(files)
}
