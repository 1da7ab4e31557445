//! The reference a bench compares with: Python's reportlab + qrcode drawing the same
//! certificate ([`crate::sample_page`]) with the same shipped font, the QR at the same level,
//! module size and place, and the verification lines under it
//! (`benches/reportlab_certificate.py`, `pip install reportlab qrcode`). For benches only.

use std::process::Command;

/// Runs the Python reference on the same page; its rate per CPU second.
pub fn reportlab(n: usize) -> Result<f64, String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let p = crate::sample_page();
    let page = format!(
        "{{\"title\":{:?},\"teacher_name\":{:?},\"id_number_masked\":{:?},\"school\":{:?},\
         \"county\":{:?},\"achievement\":{:?},\"grade\":{:?},\"credits_or_hours\":{:?},\
         \"issuer\":{:?},\"issue_date\":{:?},\"number\":{:?},\"qr_text\":{:?},\
         \"verification_code\":{:?},\"verification_address\":{:?}}}",
        p.title,
        p.teacher_name,
        p.id_number_masked,
        p.school,
        p.county,
        p.achievement,
        p.grade,
        p.credits_or_hours.unwrap_or(""),
        p.issuer,
        p.issue_date,
        p.number,
        p.qr_text,
        p.verification_code,
        p.verification_address
    );
    let out = Command::new("python3")
        .arg(format!("{dir}/benches/reportlab_certificate.py"))
        .args(["--n", &n.to_string()])
        .args(["--font", &format!("{dir}/assets/wqy-microhei-face0.ttf")])
        .args(["--page", &page])
        .args([
            "--out",
            &std::env::temp_dir()
                .join("tica-reportlab.pdf")
                .to_string_lossy(),
        ])
        .output()
        .map_err(|e| format!("python3 did not start ({e})"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{}{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    print!("{stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RATE "))
        .and_then(|r| r.trim().parse().ok())
        .ok_or_else(|| "no RATE line".into())
}
