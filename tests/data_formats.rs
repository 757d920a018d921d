//! Image data in the layouts researchers keep on disk (`[data] path`): CIFAR-10 and CIFAR-100 in
//! their binary and Python versions and ImageFolder trees, read from copies of the generated sets
//! in `tests/fixtures/formats/` and from corrupted copies of them.

// A test fails loudly: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kdlab::data::{DataOptions, DataSource, DataSpec, Dataset, InputShape, load};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats").join(name)
}

/// A fresh folder under the target directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("data_formats").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A writable copy of a fixture folder (recursively) at `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `[data] path` with `format`, and `labels` and `image_size` where the format reads them.
fn spec(path: &Path, format: Option<&str>, labels: &str, image_size: i64) -> DataSpec {
    let mut pairs = vec![("path", toml::Value::from(path.display().to_string()))];
    if format != Some("image_folder") {
        pairs.push(("labels", labels.into()));
    }
    if format.is_none_or(|f| f == "image_folder") {
        pairs.push(("image_size", image_size.into()));
    }
    let options = DataOptions(pairs.into_iter().map(|(key, value)| (key.to_string(), value)).collect());
    let source = DataSource::select(None, format, options, Path::new(".")).unwrap();
    DataSpec { source, test_fraction: 0.25, seed: 0 }
}

fn load_path(path: &Path) -> Dataset {
    load(&spec(path, None, "fine", 32)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn error_of(spec: &DataSpec) -> String {
    match load(spec) {
        Ok(_) => panic!("{:?} loaded", spec.source),
        Err(e) => e.to_string(),
    }
}

const CIFAR_SHAPE: InputShape = InputShape::Image { channels: 3, height: 32, width: 32 };

#[test]
fn both_cifar10_versions_give_the_same_examples() {
    let binary = load_path(&fixture("cifar10-bin"));
    let python = load_path(&fixture("cifar10-py"));
    for data in [&binary, &python] {
        assert_eq!(data.shape, CIFAR_SHAPE);
        assert_eq!((data.train.len(), data.test.len(), data.num_classes()), (50, 20, 10));
    }
    assert_eq!(binary.train, python.train);
    assert_eq!(binary.test, python.test);
    assert!(binary.train.labels.contains(&9), "labels span the classes");
}

#[test]
fn cifar100_reads_fine_or_coarse_labels_in_both_versions() {
    for labels in ["fine", "coarse"] {
        let [binary, python] =
            ["cifar100-bin", "cifar100-py"].map(|name| load(&spec(&fixture(name), None, labels, 32)).unwrap());
        let classes = if labels == "fine" { 100 } else { 20 };
        assert_eq!(binary.num_classes(), classes);
        assert_eq!((binary.train.len(), binary.test.len()), (200, 100));
        assert_eq!(binary.train, python.train, "{labels:?}");
        assert_eq!(binary.test, python.test, "{labels:?}");
        assert!(binary.train.labels.iter().all(|&l| (l as usize) < classes));
    }
    let explicit = load(&spec(&fixture("cifar100-py"), Some("cifar100"), "fine", 32)).unwrap();
    assert_eq!(explicit.num_classes(), 100);
}

#[test]
fn an_image_folder_keeps_its_train_and_test_folders_and_resizes() {
    let data = load(&spec(&fixture("folder"), None, "fine", 16)).unwrap();
    assert_eq!(data.shape, InputShape::Image { channels: 3, height: 16, width: 16 });
    assert_eq!((data.train.len(), data.test.len()), (20, 8));
    assert_eq!(data.class_names, ["class_a", "class_b", "class_c", "class_d"]);
    assert_eq!(data.train.features.len(), 20 * 3 * 16 * 16);
}

#[test]
fn class_folders_at_the_root_are_split_by_test_fraction() {
    let root = scratch_dir("root_classes");
    copy_tree(&fixture("folder/train"), &root);
    let data = load(&spec(&root, Some("image_folder"), "fine", 24)).unwrap();
    assert_eq!(data.train.len() + data.test.len(), 20);
    assert_eq!(data.test.len(), 4, "a quarter of each class of five held out");
    assert_eq!(data.num_classes(), 4);
}

#[test]
fn the_folder_an_archive_unpacks_to_is_found_inside_the_path() {
    let root = scratch_dir("archive_root");
    copy_tree(&fixture("cifar10-py"), &root.join("cifar-10-batches-py"));
    let data = load_path(&root);
    assert_eq!((data.train.len(), data.test.len()), (50, 20));
}

/// Loads a corrupted copy of `fixture_name` (`corrupt` breaks it) and returns the error.
fn corrupted(fixture_name: &str, case: &str, corrupt: impl FnOnce(&Path)) -> String {
    let dir = scratch_dir(case);
    copy_tree(&fixture(fixture_name), &dir);
    corrupt(&dir);
    error_of(&spec(&dir, None, "fine", 32))
}

#[test]
fn every_malformed_file_is_named_with_what_is_wrong() {
    let truncate = |path: PathBuf, by: u64| {
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        file.set_len(len - by).unwrap();
    };
    let set_byte = |path: PathBuf, at: usize, value: u8| {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] = value;
        std::fs::write(&path, bytes).unwrap();
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (
            corrupted("cifar10-bin", "truncated_bin", |d| truncate(d.join("data_batch_3.bin"), 100)),
            "data_batch_3.bin",
            "truncated record",
        ),
        (
            corrupted("cifar10-bin", "label_range", |d| set_byte(d.join("test_batch.bin"), 3073, 12)),
            "test_batch.bin",
            "record 2: label 12 out of range 0–9",
        ),
        (
            corrupted("cifar100-bin", "fine_range", |d| set_byte(d.join("train.bin"), 1, 100)),
            "train.bin",
            "record 1: label 100 out of range 0–99",
        ),
        (
            corrupted("cifar10-bin", "missing_batch", |d| std::fs::remove_file(d.join("data_batch_5.bin")).unwrap()),
            "data_batch_5.bin",
            "cannot read",
        ),
        (
            corrupted("cifar100-py", "truncated_pickle", |d| truncate(d.join("train"), 5000)),
            "train",
            "not a readable pickle",
        ),
        (
            corrupted("cifar10-py", "not_a_dict", |d| {
                std::fs::write(d.join("data_batch_2"), b"\x80\x02K\x05.").unwrap()
            }),
            "data_batch_2",
            "expected a pickled dict",
        ),
        (
            corrupted("folder", "unreadable_image", |d| {
                std::fs::write(d.join("train/class_b/0001.png"), b"not a png").unwrap()
            }),
            "0001.png",
            "unreadable image",
        ),
        (
            corrupted("folder", "empty_class", |d| std::fs::create_dir_all(d.join("train/class_e")).unwrap()),
            "class_e",
            "empty class folder",
        ),
        (
            corrupted("folder", "unknown_test_class", |d| copy_tree(&d.join("test/class_a"), &d.join("test/class_z"))),
            "class_z",
            "not among the training classes",
        ),
    ];
    for (message, file, what) in cases {
        assert!(message.contains(file), "names {file}: {message}");
        assert!(message.contains(what), "says {what:?}: {message}");
        assert_eq!(message.lines().count(), 1, "one line: {message}");
    }
}

#[test]
fn a_folder_that_holds_nothing_known_says_what_it_looked_for() {
    let empty = scratch_dir("nothing_known");
    std::fs::write(empty.join("notes.txt"), "hello").unwrap();
    let message = error_of(&spec(&empty, None, "fine", 32));
    assert!(message.contains("nothing_known") && message.contains("set `format`"), "{message}");
    let wrong = error_of(&spec(&fixture("cifar10-bin"), Some("cifar100"), "fine", 32));
    assert!(wrong.contains("no CIFAR-100 files"), "{wrong}");
    let coarse = error_of(&spec(&fixture("cifar10-py"), None, "coarse", 32));
    assert!(coarse.contains("data.labels") && coarse.contains("CIFAR-100 only"), "{coarse}");
}

/// Image sizes are checked before any image is decoded: a folder that would not fit in memory at
/// the asked size gives one line naming the field.
#[test]
fn an_image_size_too_large_for_memory_is_refused_before_decoding() {
    let root = scratch_dir("too_large");
    let image = fixture("folder/train/class_a/0004.png");
    for class in ["a", "b"] {
        let folder = root.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        // 20,000 images at 1024×1024 need 755 GB: more than half of any machine this runs on.
        for index in 0..10_000 {
            std::fs::hard_link(&image, folder.join(format!("{index:05}.png"))).unwrap();
        }
    }
    let message = error_of(&spec(&root, Some("image_folder"), "fine", 1024));
    let expected = "data.image_size: 20000 images of 3×1024×1024 need 755.0 GB; this machine allows";
    assert!(message.starts_with(expected), "{message}");
    assert!(message.ends_with("(half its memory); lower image_size"), "{message}");
    let small = load(&spec(&root, None, "fine", 8)).unwrap();
    assert_eq!(small.train.len() + small.test.len(), 20_000, "fine at a small size");
}
