//! Every CSV earshot reads or writes goes through the `csv` crate, so fields
//! holding commas, quotes, newlines or non-ASCII text are quoted as RFC 4180
//! says and read back as they were.

/// A CSV document from a header and rows, each field quoted when needed.
pub fn to_string<R, F>(header: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<str>,
{
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    // Writing into memory cannot fail.
    writer.write_record(header).expect("in-memory CSV");
    for row in rows {
        writer
            .write_record(row.iter().map(AsRef::as_ref))
            .expect("in-memory CSV");
    }
    String::from_utf8(writer.into_inner().expect("in-memory CSV")).expect("UTF-8 fields")
}

/// One record read from a CSV text, with its 1-based line number.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Line where the record starts.
    pub line: usize,
    /// Its fields, as written.
    pub fields: Vec<String>,
}

/// The records of `text` (no header handling: every record comes back; lines
/// starting with `#` are comments; rows may differ in length). A malformed
/// record (e.g. invalid UTF-8) comes back as an error naming its line.
pub fn records(text: &str) -> Vec<Result<Record, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            r.map(|record| Record {
                line: record.position().map_or(0, |p| p.line() as usize),
                fields: record.iter().map(str::to_string).collect(),
            })
            .map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                format!("line {line}: {e}")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_fields_round_trip() {
        let awkward = [
            "cough, \"loud\" one.wav",
            "naïve café/ünïcode.wav",
            "two\nlines.wav",
            " spaced .wav",
        ];
        let text = to_string(
            &["file", "score"],
            awkward
                .iter()
                .map(|f| vec![f.to_string(), "0.5".to_string()]),
        );
        // RFC 4180: quotes doubled inside a quoted field.
        assert!(
            text.contains("\"cough, \"\"loud\"\" one.wav\",0.5"),
            "{text}"
        );
        let read = records(&text);
        assert_eq!(read.len(), awkward.len() + 1);
        for (record, name) in read[1..].iter().zip(awkward) {
            let record = record.as_ref().unwrap();
            assert_eq!(record.fields[0], name);
            assert_eq!(record.fields[1], "0.5");
        }
        assert_eq!(read[2].as_ref().unwrap().line, 3);
        assert_eq!(read[4].as_ref().unwrap().line, 6, "after a two-line record");
    }
}
