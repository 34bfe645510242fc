//! Feeds arbitrary bytes to the archive loader as an uploaded `.zip` / `.tar` / `.tar.gz`
//! skill: limits, traversal checks and nested archives must hold, whatever the bytes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use skillgate_model::bundle::{Bundle, Limits};

fuzz_target!(|bytes: &[u8]| {
    let limits = Limits {
        max_total_bytes: 4 << 20,
        max_file_bytes: 1 << 20,
        ..Limits::default()
    };
    if let Ok(bundle) = Bundle::from_archive_bytes(Path::new("upload.zip"), bytes, &limits) {
        let total: u64 = bundle.files.iter().map(|f| f.size).sum();
        assert!(total <= limits.max_total_bytes, "total limit held");
        for f in &bundle.files {
            assert!(!f.path.starts_with('/'), "absolute member path {}", f.path);
            // Files beside the skill folder are kept as `../name` on purpose; nothing else may
            // climb out.
            let inner = f.path.strip_prefix("../").unwrap_or(&f.path);
            assert!(
                !inner.split(['/', '!']).any(|part| part == ".."),
                "traversal in {}",
                f.path
            );
        }
        assert!(bundle.file(&bundle.skill_md).is_some());
    }
});
