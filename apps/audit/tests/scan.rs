//! `bazaar-audit scan-pans` as the test command runs it over the suite's logs and dumps.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]

use std::process::Command;

fn scan(dir: &std::path::Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bazaar-audit"))
        .arg("scan-pans")
        .arg(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap(), text)
}

#[test]
fn the_scan_passes_test_numbers_and_names_a_real_one_masked() {
    let dir = std::env::temp_dir().join(format!("bazaar-scan-{}", std::process::id()));
    let nested = dir.join("dumps");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(
        dir.join("junit.xml"),
        "paid with 4111 1111 1111 1111 at 1764672000000000\n",
    )
    .unwrap();
    std::fs::write(
        nested.join("db.sql"),
        "COPY t (n) FROM stdin;\n5555555555554444\n\\.\n",
    )
    .unwrap();
    let (status, text) = scan(&dir);
    assert_eq!(status, 0, "{text}");
    assert!(text.contains("no card numbers in 2 files"), "{text}");

    std::fs::write(
        nested.join("leak.log"),
        "line one\nrequest {\"number\":\"4242424242424242\"}\n",
    )
    .unwrap();
    let (status, text) = scan(&dir);
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("card number 424242...4242 in"), "{text}");
    assert!(text.contains("leak.log:2"), "{text}");
    assert!(
        !text.contains("4242424242424242"),
        "the report masks what it found: {text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
