//! The scripts of `tests/interop/`, written in Python from the specifications and the protos
//! alone: where they are, and the Python that can run them.

use std::path::PathBuf;
use std::process::Command;

/// The repository's root.
pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/interop/{script}`.
pub fn script(script: &str) -> PathBuf {
    repository().join("tests/interop").join(script)
}

/// The Python that runs `tests/interop/{script}`: `$TICA_PYTHON`, else `python3`, when it can
/// `import {modules}` (the packages of `tests/interop/requirements.txt`). None (the test skips,
/// saying why) when it cannot, unless `TICA_REQUIRE_INTEROP=1` (CI), which fails the test.
pub fn python(script: &str, modules: &str) -> Option<PathBuf> {
    let python = std::env::var_os("TICA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let why = match Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
    {
        Ok(output) if output.status.success() => return Some(python),
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(error) => format!("it does not run: {error}"),
    };
    assert!(
        std::env::var("TICA_REQUIRE_INTEROP").as_deref() != Ok("1"),
        "TICA_REQUIRE_INTEROP=1 but {} cannot run tests/interop/{script}: {why}",
        python.display()
    );
    eprintln!(
        "skipped: {} cannot run tests/interop/{script} ({why}); install \
         tests/interop/requirements.txt in a venv and set TICA_PYTHON to its python",
        python.display()
    );
    None
}

/// The `node` that runs `tests/interop/{script}` with the npm packages of
/// `tests/interop/package-lock.json` (`npm ci` in `tests/interop`, as `.ci/run` does): `$TICA_NODE`,
/// else `node`, when it runs and `tests/interop/node_modules/{package}` is installed. None (the
/// test skips, saying why) when not, unless `TICA_REQUIRE_INTEROP=1` (CI), which fails the test.
pub fn node(script: &str, package: &str) -> Option<PathBuf> {
    let node = std::env::var_os("TICA_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "node".into());
    let installed = repository()
        .join("tests/interop/node_modules")
        .join(package);
    let why = match Command::new(&node).arg("--version").output() {
        Ok(output) if output.status.success() && installed.is_dir() => return Some(node),
        Ok(output) if output.status.success() => {
            format!("{} is not installed", installed.display())
        }
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(error) => format!("it does not run: {error}"),
    };
    assert!(
        std::env::var("TICA_REQUIRE_INTEROP").as_deref() != Ok("1"),
        "TICA_REQUIRE_INTEROP=1 but {} cannot run tests/interop/{script}: {why}",
        node.display()
    );
    eprintln!(
        "skipped: {} cannot run tests/interop/{script} ({why}); run `npm ci` in tests/interop",
        node.display()
    );
    None
}
