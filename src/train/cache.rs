//! The on-disk cache of trained teachers, so a repeated run (or another preset with the same
//! teacher) reuses the model instead of training it again.
//!
//! An entry is keyed by a hash of everything that determines the trained weights: the data
//! (fingerprint of the split), the architecture, the method and its hyperparameters, the
//! training settings, the seed, the backend and, for a distilled teacher, its own teacher's key.
//! It holds the weights in burn's record format (burnpack) and a JSON file with the stage's
//! results and metric history, which a reuse replays so the run's files look the same. A load
//! verifies the entry (the weights' checksum, results that can be results): a damaged entry is
//! reported and the teacher trained again, never reused.

use crate::hash::Fnv64;
use crate::model::Network;
use crate::protocol::MetricPoint;
use burn::module::Module;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bump when the meaning of cached entries changes.
const FORMAT_VERSION: u32 = 2;

/// A folder of cached teachers.
#[derive(Debug, Clone)]
pub struct TeacherCache {
    dir: PathBuf,
}

/// What is stored beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CachedStage {
    pub(crate) key: String,
    pub(crate) steps: u64,
    pub(crate) wall_seconds: f64,
    pub(crate) train_accuracy: f64,
    pub(crate) test_accuracy: f64,
    pub(crate) agreement_with_teacher: Option<f64>,
    /// The stage's metric history (stage index as it was when stored).
    pub(crate) metrics: Vec<MetricPoint>,
    /// FNV-1a of the weights file, as hex (filled in by [`TeacherCache::store`]).
    #[serde(default)]
    pub(crate) weights_checksum: String,
}

impl CachedStage {
    /// Why these results cannot be a trained stage's, if they cannot.
    fn implausible(&self, key: &str) -> Option<String> {
        let fraction = |value: f64| (0.0..=1.0).contains(&value);
        if self.key != key {
            return Some(format!("it is filed under {key} but says it is {}", self.key));
        }
        if !fraction(self.train_accuracy) || !fraction(self.test_accuracy) {
            return Some(format!(
                "its accuracies ({}, {}) are not fractions between 0 and 1",
                self.train_accuracy, self.test_accuracy
            ));
        }
        if self.agreement_with_teacher.is_some_and(|a| !fraction(a))
            || self.wall_seconds.is_nan()
            || self.wall_seconds < 0.0
            || self.steps == 0
        {
            return Some("its agreement, time or step count is impossible".into());
        }
        None
    }
}

/// A cache entry that exists but cannot be trusted.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub(crate) struct DamagedEntry {
    pub(crate) path: PathBuf,
    pub(crate) reason: String,
}

impl TeacherCache {
    /// The cache in `$KDLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/kdlab`, else `~/.cache/kdlab`.
    pub fn default_location() -> Option<TeacherCache> {
        let dir = std::env::var_os("KDLAB_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("kdlab")))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kdlab")))?;
        Some(TeacherCache::at(dir))
    }

    /// A cache in `dir`.
    pub(crate) fn at(dir: impl Into<PathBuf>) -> TeacherCache {
        TeacherCache { dir: dir.into() }
    }

    fn weights_path(&self, key: &str) -> PathBuf {
        self.dir.join("teachers").join(format!("{key}.bpk"))
    }

    fn info_path(&self, key: &str) -> PathBuf {
        self.dir.join("teachers").join(format!("{key}.json"))
    }

    /// Loads the entry for `key` into `template` (a freshly built network of the right
    /// architecture): `Ok(None)` when there is none, an error when it is damaged.
    pub(crate) fn load(
        &self,
        key: &str,
        template: Network,
    ) -> Result<Option<(Network, CachedStage, PathBuf)>, DamagedEntry> {
        let info_path = self.info_path(key);
        let Ok(text) = std::fs::read_to_string(&info_path) else { return Ok(None) };
        let damaged = |path: &PathBuf, reason: String| DamagedEntry { path: path.clone(), reason };
        let info: CachedStage = serde_json::from_str(&text).map_err(|e| damaged(&info_path, e.to_string()))?;
        if let Some(reason) = info.implausible(key) {
            return Err(damaged(&info_path, reason));
        }
        let weights = self.weights_path(key);
        let bytes = std::fs::read(&weights).map_err(|e| damaged(&weights, e.to_string()))?;
        if checksum(&bytes) != info.weights_checksum {
            return Err(damaged(&weights, "the weights do not match their checksum".into()));
        }
        let network = template.try_load_file(&weights).map_err(|e| damaged(&weights, e.to_string()))?;
        Ok(Some((network, info, weights)))
    }

    /// Stores an entry; the JSON goes last so a half-written entry is never read as whole.
    pub(crate) fn store(&self, network: Network, info: &CachedStage) -> std::io::Result<PathBuf> {
        let weights = self.weights_path(&info.key);
        if let Some(parent) = weights.parent() {
            std::fs::create_dir_all(parent)?;
        }
        network.save_file(&weights).map_err(|e| std::io::Error::other(e.to_string()))?;
        let info = CachedStage { weights_checksum: checksum(&std::fs::read(&weights)?), ..info.clone() };
        let json = serde_json::to_string(&info).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomically(&self.info_path(&info.key), json.as_bytes())?;
        Ok(weights)
    }
}

fn checksum(bytes: &[u8]) -> String {
    let mut hash = Fnv64::new();
    hash.write(bytes);
    format!("{:016x}", hash.finish())
}

/// The cache key of a stage from a description of everything that shapes its weights.
pub(crate) fn key_of(description: &impl Serialize) -> String {
    let mut hash = Fnv64::new();
    hash.write_u64(u64::from(FORMAT_VERSION));
    hash.write(serde_json::to_string(description).unwrap_or_default().as_bytes());
    format!("{:016x}", hash.finish())
}
