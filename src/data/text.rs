//! Text for character language models: any UTF-8 file of the user's (`[data] text = "…"`,
//! one file + one line in the format registry), and what every text source shares — decoding
//! with one-line messages for bad input, the contiguous held-out test part, the character
//! vocabulary of the training part, and the windows a language model reads.
//!
//! A split of text is a stream of positions: position `i` holds the id of character `i` as its
//! one feature and the id of character `i + 1` as its label. A window of `context` positions
//! starting at `s` is the model's input `features[s..s + context]` with the labels
//! `labels[s..s + context]`.

use super::options::{DefaultValue, OptionKind, OptionSpec};
use super::{DataError, DataOptions, FileFormat, InputShape, RawData, Split, read_maybe_gzip};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// The longest window accepted (characters a model reads at once).
pub(crate) const MAX_CONTEXT: u64 = 4096;

/// `context`: the characters a model reads at once, and so the length of every window.
pub(crate) const CONTEXT: OptionSpec = OptionSpec {
    key: "context",
    kind: OptionKind::Whole { min: 1, max: MAX_CONTEXT },
    expected: "a whole number of characters from 1 to 4096",
    default: Some(DefaultValue::Whole(64)),
};

/// The id a character of the test part gets when the training part never has it.
const UNKNOWN: char = '\u{FFFD}';

/// A UTF-8 text file (`[data] text = "…"`), gzipped or not.
pub(crate) struct TextFile;

pub(crate) const TEXT: TextFile = TextFile;

impl FileFormat for TextFile {
    fn name(&self) -> &'static str {
        "text"
    }

    fn summary(&self) -> &'static str {
        "UTF-8 text files"
    }

    fn key(&self) -> &'static str {
        "text"
    }

    fn options(&self) -> &'static [OptionSpec] {
        &[CONTEXT]
    }

    fn locate(&self, path: &Path) -> Option<PathBuf> {
        path.is_file().then(|| path.to_path_buf())
    }

    fn missing(&self) -> String {
        "no text file".into()
    }

    fn load(&self, path: &Path, options: &DataOptions) -> Result<(RawData, Option<Split>), DataError> {
        let bytes = read_maybe_gzip(path)?;
        check_room(bytes.len(), path)?;
        Ok((raw(&decode(&bytes, path)?, context(options)), None))
    }
}

/// Bytes a character of text takes while it is split and windowed: its decoded form, its code
/// point and its id as floats, and its label.
const BYTES_PER_CHARACTER: u64 = 16;

/// A text of `bytes` bytes (at most as many characters) fits in the memory a run may use once
/// decoded and split: checked before any of that is allocated.
fn check_room(bytes: usize, path: &Path) -> Result<(), DataError> {
    let needs = (bytes as u64).saturating_mul(BYTES_PER_CHARACTER);
    if needs > crate::memory::budget() {
        let message = format!(
            "{} of text needs up to {} to split into windows; {}",
            crate::memory::describe_bytes(bytes as u64),
            crate::memory::describe_bytes(needs),
            crate::memory::allows()
        );
        return Err(DataError::Format { path: path.to_path_buf(), message });
    }
    Ok(())
}

/// The window length `options` give (default 64).
pub(crate) fn context(options: &DataOptions) -> usize {
    CONTEXT.whole_in(options) as usize
}

/// The shape of text read in windows of `options`' context.
pub(crate) fn shape(options: &DataOptions) -> InputShape {
    InputShape::Text { context: context(options) }
}

/// The characters of a text file's bytes: UTF-8 (a leading byte-order mark dropped, `\r\n`
/// read as `\n`), not empty, not binary. Errors name the file, and the line where it goes wrong.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Vec<char>, DataError> {
    let format = |message: String| DataError::Format { path: path.to_path_buf(), message };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() {
        return Err(format("the file is empty; expected UTF-8 text".into()));
    }
    let line_of = |offset: usize| bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(format(format!("line {}: a NUL byte: this is a binary file, not text", line_of(offset))));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let offset = error.valid_up_to();
        let column = offset - bytes[..offset].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        format(format!("line {}, column {column}: byte 0x{:02x} is not UTF-8 text", line_of(offset), bytes[offset]))
    })?;
    Ok(text.replace("\r\n", "\n").chars().collect())
}

/// Raw text before its split: the characters' code points as the features (exact in f32: every
/// code point is below 2^24), no labels yet — the vocabulary comes from the training part.
pub(crate) fn raw(chars: &[char], context: usize) -> RawData {
    RawData {
        shape: InputShape::Text { context },
        class_names: Vec::new(),
        examples: Split { features: chars.iter().map(|&c| c as u32 as f32).collect(), labels: Vec::new() },
    }
}

/// A text split into its training part and the contiguous last `test_fraction` of it, both as
/// position streams over the training part's vocabulary.
pub(crate) struct TextSplits {
    pub(crate) vocabulary: Vec<char>,
    pub(crate) train: Split,
    pub(crate) test: Split,
}

/// Splits raw text (from [`raw`]) of `source` (the file or dataset, for messages): checks that
/// both parts hold a window and its next character, builds the vocabulary from the training part.
pub(crate) fn split(raw: &RawData, context: usize, test_fraction: f64, source: &Path) -> Result<TextSplits, DataError> {
    let problem = |message: String| DataError::Format { path: source.to_path_buf(), message };
    let chars: Vec<char> = raw.examples.features.iter().map(|&v| char::from_u32(v as u32).unwrap_or(UNKNOWN)).collect();
    let needed = context + 1;
    if chars.len() < needed {
        return Err(problem(format!(
            "the text has {} characters; windows of {context} (data.context) and the character after need {needed}",
            chars.len()
        )));
    }
    let test_len = (chars.len() as f64 * test_fraction).round() as usize;
    let (train, test) = chars.split_at(chars.len() - test_len);
    let percent = test_fraction * 100.0;
    if test.len() < needed {
        return Err(problem(format!(
            "the test part (the last {percent}%) has {} characters, fewer than one window of {context} and the \
             character after ({needed}); raise data.test_fraction or use a longer text",
            test.len()
        )));
    }
    if train.len() < needed {
        return Err(problem(format!(
            "the training part (all but the last {percent}%) has {} characters, fewer than one window of \
             {context} and the character after ({needed}); lower data.test_fraction",
            train.len()
        )));
    }
    let mut vocabulary: Vec<char> = train.to_vec();
    vocabulary.sort_unstable();
    vocabulary.dedup();
    if vocabulary.len() < 2 {
        return Err(problem(format!(
            "the training part holds {} distinct character; expected at least 2",
            vocabulary.len()
        )));
    }
    if test.iter().any(|c| vocabulary.binary_search(c).is_err()) {
        vocabulary.push(UNKNOWN);
    }
    let id = |c: &char| vocabulary.binary_search(c).unwrap_or(vocabulary.len() - 1) as u32;
    let stream = |part: &[char]| {
        let ids: Vec<u32> = part.iter().map(id).collect();
        Split { features: ids[..ids.len() - 1].iter().map(|&i| i as f32).collect(), labels: ids[1..].to_vec() }
    };
    let (train, test) = (stream(train), stream(test));
    Ok(TextSplits { vocabulary, train, test })
}

/// The starts of the non-overlapping windows of `context` positions that tile a stream of
/// `positions`, from its beginning (evaluation reads these).
pub(crate) fn tiled_starts(positions: usize, context: usize) -> Vec<usize> {
    (0..positions / context.max(1)).map(|w| w * context).collect()
}

/// `count` window starts drawn uniformly from every start a stream of `positions` has, from
/// `seed` alone.
pub(crate) fn random_starts(positions: usize, context: usize, count: usize, seed: u64) -> Vec<usize> {
    let starts = positions.saturating_sub(context) + 1;
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).map(|_| rng.random_range(0..starts)).collect()
}

/// The inputs `[windows, context]` (ids as floats) and the labels of the windows of `context`
/// positions of `split` starting at `starts`.
pub(crate) fn windows(split: &Split, context: usize, starts: &[usize]) -> (Vec<f32>, Vec<u32>) {
    let mut inputs = Vec::with_capacity(starts.len() * context);
    let mut labels = Vec::with_capacity(starts.len() * context);
    for &start in starts {
        inputs.extend_from_slice(&split.features[start..start + context]);
        labels.extend_from_slice(&split.labels[start..start + context]);
    }
    (inputs, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_of(text: &str, context: usize, test_fraction: f64) -> Result<TextSplits, String> {
        let chars = decode(text.as_bytes(), Path::new("t.txt")).map_err(|e| e.to_string())?;
        split(&raw(&chars, context), context, test_fraction, Path::new("t.txt")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_test_part_is_the_contiguous_end_and_ids_follow_the_training_vocabulary() {
        let text = "abcabcabcabcabcabcxyz";
        let splits = split_of(text, 2, 0.25).unwrap();
        // 21 characters: the last 5 ("bcxyz") are held out; x, y, z never occur in training.
        assert_eq!(splits.vocabulary, ['a', 'b', 'c', UNKNOWN]);
        assert_eq!(splits.train.features.len(), 15);
        assert_eq!(splits.train.labels[..3], [1, 2, 0]);
        assert_eq!(splits.test.features, [1.0, 2.0, 3.0, 3.0]);
        assert_eq!(splits.test.labels, [2, 3, 3, 3]);
        let (inputs, labels) = windows(&splits.train, 2, &[0, 4]);
        assert_eq!(inputs, [0.0, 1.0, 1.0, 2.0]);
        assert_eq!(labels, [1, 2, 2, 0]);
    }

    #[test]
    fn bad_text_is_one_line_naming_the_file_and_the_place() {
        let fails = |bytes: &[u8]| decode(bytes, Path::new("x.txt")).err().map(|e| e.to_string());
        assert_eq!(fails(b"").as_deref(), Some("x.txt: the file is empty; expected UTF-8 text"));
        assert_eq!(fails(b"ab\ncd\0").as_deref(), Some("x.txt: line 2: a NUL byte: this is a binary file, not text"));
        assert_eq!(
            fails(b"ok\nfine\nbad \xff here").as_deref(),
            Some("x.txt: line 3, column 5: byte 0xff is not UTF-8 text")
        );
        assert_eq!(decode(b"\xEF\xBB\xBFa\r\nb", Path::new("x")).unwrap(), ['a', '\n', 'b']);
        let short = split_of("abcd", 8, 0.1).err().unwrap();
        assert!(short.starts_with("t.txt: the text has 4 characters"), "{short}");
        let test_short = split_of(&"ab".repeat(20), 8, 0.1).err().unwrap();
        assert!(test_short.starts_with("t.txt: the test part (the last 10%) has 4 characters"), "{test_short}");
        assert!(split_of(&"a".repeat(40), 4, 0.2).err().unwrap().contains("1 distinct character"));
    }

    #[test]
    fn random_windows_depend_on_the_seed_and_stay_inside_the_stream() {
        let a = random_starts(100, 10, 50, 7);
        assert_eq!(a, random_starts(100, 10, 50, 7));
        assert_ne!(a, random_starts(100, 10, 50, 8));
        assert!(a.iter().all(|&s| s + 10 <= 100));
        assert_eq!(tiled_starts(25, 10), [0, 10]);
    }
}
