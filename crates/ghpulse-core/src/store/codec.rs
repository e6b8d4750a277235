//! How raw event JSON is kept on disk, by schema version.
//!
//! Version 3 compresses each event with LZ4 (lz4_flex, pure Rust) against a dictionary of
//! recorded events (`raw_json.dict`, 64 KiB, built by `tests/raw_json_dictionary.rs`): an event
//! is 4 KB of JSON whose keys, URLs and payload shapes recur in every event, so one event alone
//! gives LZ4 little to match but the dictionary gives it most of them. Of events the dictionary
//! was not built from, 22–23 % of the JSON is kept, against 32 % without it (README, "The
//! store"); decoding stays at about 2 µs an event. The dictionary is part of the format:
//! changing it needs a new version.

use super::StoreError;

const DICTIONARY: &[u8] = include_bytes!("raw_json.dict");

/// Version 3: LZ4 with the dictionary, the JSON's length prepended.
pub(super) fn compress(raw: &str) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size_with_dict(raw.as_bytes(), DICTIONARY)
}

pub(super) fn decompress(stored: &[u8]) -> Result<String, StoreError> {
    text(lz4_flex::block::decompress_size_prepended_with_dict(
        stored, DICTIONARY,
    ))
}

/// Version 2: LZ4 without a dictionary.
pub(super) fn decompress_v2(stored: &[u8]) -> Result<String, StoreError> {
    text(lz4_flex::decompress_size_prepended(stored))
}

fn text(bytes: Result<Vec<u8>, lz4_flex::block::DecompressError>) -> Result<String, StoreError> {
    let corrupt =
        |e: &dyn std::fmt::Display| StoreError::db(format!("a stored event is corrupt: {e}"));
    String::from_utf8(bytes.map_err(|e| corrupt(&e))?).map_err(|e| corrupt(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"id":"12109900542","type":"WatchEvent","actor":{"id":10260283,"login":"sarslanoglu","display_login":"sarslanoglu","gravatar_id":"","url":"https://api.github.com/users/sarslanoglu","avatar_url":"https://avatars.githubusercontent.com/u/10260283?"},"repo":{"id":810796,"name":"sferik/rails_admin","url":"https://api.github.com/repos/sferik/rails_admin"},"payload":{"action":"started"},"public":true,"created_at":"2020-04-21T09:31:21Z"}"#;

    #[test]
    fn an_event_round_trips_and_the_dictionary_does_the_work() {
        let stored = compress(EVENT);
        assert_eq!(decompress(&stored).unwrap(), EVENT);
        let alone = lz4_flex::compress_prepend_size(EVENT.as_bytes());
        assert!(
            stored.len() * 2 < alone.len(),
            "{} bytes with the dictionary, {} without",
            stored.len(),
            alone.len()
        );
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let mut stored = compress(EVENT);
        stored.truncate(stored.len() / 2);
        assert!(decompress(&stored).is_err());
        assert!(decompress(&[0xff; 3]).is_err());
        assert!(decompress_v2(&[0xff; 9]).is_err());
        // Version 2 bytes are not version 3 bytes.
        let v2 = lz4_flex::compress_prepend_size(EVENT.as_bytes());
        assert_eq!(decompress_v2(&v2).unwrap(), EVENT);
    }
}
