//! How the store's codec keeps raw event JSON: LZ4 alone (schema 2) against LZ4 with the
//! store's dictionary (schema 3), one event at a time, on events the dictionary was not built
//! from. `CODEC_EVENTS` names a GH Archive file (`.jsonl` or `.jsonl.gz`, one event a line);
//! by default the recorded fixtures are used, which flatter the dictionary (it is built from
//! them). Each event is measured as written and with its keys sorted, as tools that
//! re-serialize events (the fake server among them) write it.
//!
//! `CODEC_EVENTS=../shared/data/github-events/gharchive-2021-07-21-06to09.sample.jsonl.gz cargo bench --bench codec`

use std::io::{BufRead, BufReader, Read};
use std::time::Instant;

const DICTIONARY: &[u8] = include_bytes!("../src/store/raw_json.dict");

fn main() {
    let events = match std::env::var("CODEC_EVENTS") {
        Ok(path) => lines(&path),
        Err(_) => fixtures(),
    };
    let sorted: Vec<String> = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .map(|v| v.to_string())
        .collect();
    println!("{} events", events.len());
    println!("| codec | bytes kept (as written / keys sorted) | encode | decode |");
    println!("|---|---:|---:|---:|");
    for (name, dict) in [
        ("lz4_flex, no dictionary", &[][..]),
        ("lz4_flex with the dictionary", DICTIONARY),
    ] {
        let (kept, enc, dec) = measure(&events, dict);
        let (kept_sorted, _, _) = measure(&sorted, dict);
        println!(
            "| {name} | {:.1} % / {:.1} % | {enc:.1} µs | {dec:.1} µs |",
            kept * 100.0,
            kept_sorted * 100.0
        );
    }
}

/// Share of bytes kept, and mean µs to encode and to decode an event.
fn measure(events: &[String], dict: &[u8]) -> (f64, f64, f64) {
    let raw: usize = events.iter().map(String::len).sum();
    let started = Instant::now();
    let stored: Vec<Vec<u8>> = events
        .iter()
        .map(|e| lz4_flex::block::compress_prepend_size_with_dict(e.as_bytes(), dict))
        .collect();
    let enc = started.elapsed().as_secs_f64() * 1e6 / events.len().max(1) as f64;
    let started = Instant::now();
    for (s, e) in stored.iter().zip(events) {
        let back = lz4_flex::block::decompress_size_prepended_with_dict(s, dict).expect("decodes");
        assert_eq!(back.len(), e.len());
    }
    let dec = started.elapsed().as_secs_f64() * 1e6 / events.len().max(1) as f64;
    let kept: usize = stored.iter().map(Vec::len).sum();
    (kept as f64 / raw.max(1) as f64, enc, dec)
}

fn lines(path: &str) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let reader: Box<dyn Read> = if path.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    BufReader::new(reader)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn fixtures() -> Vec<String> {
    fake_github::data::FIXTURE_REPOS
        .iter()
        .flat_map(|r| fake_github::data::load_events(r.file_stem))
        .map(|v| v.to_string())
        .collect()
}
