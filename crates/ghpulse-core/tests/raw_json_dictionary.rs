//! The dictionary the store compresses raw event JSON with (`src/store/raw_json.dict`) is part
//! of the store's format: every event written with it needs the same bytes to be read back.
//! This test rebuilds it from the recorded fixtures and fails if the file differs, so it is
//! never changed by accident. `GHPULSE_WRITE_DICTIONARY=1 cargo test --test raw_json_dictionary`
//! writes it (only for a new schema version, which migrates the stored events).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::value::RawValue;

/// LZ4 looks back at most 64 KiB: a longer dictionary would go unused.
const LIMIT: usize = 64 * 1024;

#[test]
fn the_dictionary_is_built_from_the_fixtures() {
    let built = build();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/raw_json.dict");
    if std::env::var_os("GHPULSE_WRITE_DICTIONARY").is_some() {
        std::fs::write(&path, &built).expect("write the dictionary");
    }
    let committed = std::fs::read(&path).expect("read src/store/raw_json.dict");
    assert!(
        committed == built,
        "src/store/raw_json.dict differs from what the fixtures build ({} vs {} bytes): stored \
         events depend on it, so a new dictionary needs a new schema version",
        committed.len(),
        built.len()
    );
}

/// Recorded events of every type, in turn (types in name order, each type's events in fixture
/// order), until 64 KiB. Every other event is written with its keys sorted: GitHub writes them
/// in its own order, and tools that re-serialize events (the fake server among them) sort them,
/// so the dictionary holds both spellings of the same structure.
fn build() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".events.json.gz"))
        .collect();
    files.sort();
    let mut by_type: BTreeMap<String, Vec<Box<RawValue>>> = BTreeMap::new();
    for file in files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&file).expect("fixture"))
            .read_to_string(&mut text)
            .expect("gzip fixture");
        let events: Vec<Box<RawValue>> = serde_json::from_str(&text).expect("fixture events");
        for event in events {
            let value: serde_json::Value = serde_json::from_str(event.get()).expect("event");
            let ty = value["type"].as_str().unwrap_or_default().to_string();
            by_type.entry(ty).or_default().push(event);
        }
    }
    let mut out = Vec::with_capacity(LIMIT);
    for k in 0.. {
        let mut any = false;
        for events in by_type.values() {
            let Some(event) = events.get(k) else { continue };
            any = true;
            let text = if k % 2 == 1 {
                let value: serde_json::Value = serde_json::from_str(event.get()).expect("event");
                serde_json::to_string(&value).expect("serialize")
            } else {
                minified(event.get())
            };
            if out.len() + text.len() > LIMIT {
                return out;
            }
            out.extend_from_slice(text.as_bytes());
        }
        if !any {
            break;
        }
    }
    out
}

/// The JSON text without the whitespace between tokens, keys left in their order.
fn minified(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}
