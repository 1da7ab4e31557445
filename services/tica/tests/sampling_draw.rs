//! `tica sampling draw` against the reference sampler's own output
//! (`tests/vectors/consistent_sampler/`, made by `generate.py` with the `consistent_sampler`
//! package from PyPI): the same bytes for the same population, seed and count.

use std::path::PathBuf;
use std::process::Command;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/consistent_sampler")
}

fn draw(
    seed: &str,
    population: &std::path::Path,
    count: usize,
    skip: usize,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tica"))
        .args(["sampling", "draw", "--seed", seed, "--population"])
        .arg(population)
        .args(["--count", &count.to_string(), "--skip", &skip.to_string()])
        .output()
        .expect("tica runs")
}

#[test]
fn the_offline_draw_prints_exactly_what_the_reference_sampler_prints() {
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("cases.json")).unwrap())
            .unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let seed = case["seed"].as_str().unwrap();
        let count = case["count"].as_u64().unwrap() as usize;
        let out = draw(
            seed,
            &vectors().join(format!("{name}.population.csv")),
            count,
            0,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read(vectors().join(format!("{name}.draw.csv"))).unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(expected).unwrap(),
            "case {name}"
        );
    }
}

#[test]
fn a_later_round_continues_the_reference_sequence() {
    let population = vectors().join("schools.population.csv");
    let expected = std::fs::read_to_string(vectors().join("schools.draw.csv")).unwrap();
    let expected: Vec<&str> = expected.lines().skip(1).collect();
    let first = draw("79512035641283460917", &population, 10, 0);
    let rest = draw("79512035641283460917", &population, 8, 10);
    let lines = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!([lines(&first), lines(&rest)].concat(), expected);
}

#[test]
fn a_population_with_a_repeated_id_or_no_id_column_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let repeated = dir.path().join("repeated.csv");
    std::fs::write(&repeated, "id\n3413240001\n3413240002\n3413240001\n").unwrap();
    let out = draw("1", &repeated, 1, 0);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("3413240001 more than once"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headless = dir.path().join("headless.csv");
    std::fs::write(&headless, "code\n3413240001\n").unwrap();
    let out = draw("1", &headless, 1, 0);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("headed `id`"));
}

#[test]
fn a_population_id_that_starts_a_formula_is_printed_as_text_and_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let population = dir.path().join("hostile.csv");
    std::fs::write(
        &population,
        "id\n\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"\n@SUM(1)\n-2\n3413240001\n",
    )
    .unwrap();
    let out = draw("1", &population, 4, 0);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut ids: Vec<String> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .collect();
    for id in &ids {
        assert!(
            !id.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{id:?} would run as a formula"
        );
    }
    ids.sort();
    assert_eq!(
        ids,
        [
            "'-2",
            "'=HYPERLINK(\"http://evil.example\",\"x\")",
            "'@SUM(1)",
            "3413240001"
        ]
    );
    // The printed draw, fed back as a population, draws the same tickets.
    let again = dir.path().join("again.csv");
    std::fs::write(&again, &text).unwrap();
    let out = draw("1", &again, 4, 0);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

/// The command streams the population into one buffer and keeps only the first `skip + count`
/// tickets (`read_population_list`, `draw_list`; issue 20 §3); the plain path keeps every id as
/// a `String` and orders every full ticket (`read_population`, `draw`). Both print the same bytes
/// and refuse the same files with the same words.
#[test]
fn the_streamed_draw_prints_and_refuses_exactly_what_the_plain_draw_does() {
    use tica::sampling::{draw as plain_draw, read_population, read_population_list};
    let dir = tempfile::tempdir().unwrap();
    let seed = "79512035641283460917";
    // A byte-order mark, a second column, quoted cells, ids that start formulas (written
    // neutralised, read back restored), non-ASCII ids and an id with a comma.
    let mut text = String::from("\u{feff}id,name\n");
    for i in 0..3000 {
        text.push_str(&format!("3413240007{i:04},teacher {i}\n"));
    }
    text.push_str(
        "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",x\n'@SUM(1),y\n-2,z\n\
         泗县第一小学,\"a, b\"\n\"x, y\",w\n'plain,v\n",
    );
    let population = dir.path().join("population.csv");
    std::fs::write(&population, &text).unwrap();
    let ids = read_population(&population).unwrap();
    assert_eq!(ids.len(), 3006);
    let list = read_population_list(&population).unwrap();
    assert_eq!(list.iter().collect::<Vec<_>>(), ids);
    for (skip, count) in [(0, 0), (0, 10), (7, 25), (0, 3006), (2990, 100), (4000, 5)] {
        let mut expected = Vec::new();
        plain_draw(seed, &ids, skip, count, &mut expected).unwrap();
        let out = draw(seed, &population, count, skip);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(expected).unwrap(),
            "skip {skip}, count {count}"
        );
    }

    // Repeated ids: the same refusal, naming each once, sorted.
    let repeated = dir.path().join("repeated.csv");
    std::fs::write(&repeated, format!("{text}-2,again\n34132400070001,again\n")).unwrap();
    let ids = read_population(&repeated).unwrap();
    let refusal = plain_draw(seed, &ids, 0, 5, Vec::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        refusal,
        "the population lists -2, 34132400070001 more than once (ids must be distinct)"
    );
    let out = draw(seed, &repeated, 5, 0);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&refusal),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Files the plain reader refuses are refused with the same message, and a file that is not
    // UTF-8 is refused as such even when a row before the bad byte has no id.
    let cases: [(&str, &[u8]); 5] = [
        ("headless.csv", b"code\n1\n"),
        ("empty.csv", b""),
        ("no-id.csv", b"id,name\n1,a\n,b\n2,c\n"),
        ("latin1.csv", b"id\n1\nZ\xfcrich\n"),
        ("no-id-then-latin1.csv", b"id\n\n,b\n1\nZ\xfcrich\n"),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let plain = format!("{:#}", read_population(&path).unwrap_err());
        let streamed = format!("{:#}", read_population_list(&path).unwrap_err());
        assert_eq!(streamed, plain, "{name}");
    }
}
