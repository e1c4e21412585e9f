//! What the examples share (a directory without `main.rs`, so not an example itself).

use std::io::{BufRead, BufReader, Read};

/// The first `limit` lines of a JSONL file, plain or gzipped (by its `.gz` name).
pub fn read_lines(path: &str, limit: usize) -> std::io::Result<Vec<String>> {
    let file = std::fs::File::open(path)?;
    let reader: Box<dyn Read> = if path.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    BufReader::new(reader).lines().take(limit).collect()
}
