//! The on-disk cache of trained teachers, so a repeated run (or another preset with the same
//! teacher) reuses the model instead of training it again.
//!
//! An entry is keyed by a hash of everything that determines the trained weights: the data
//! (fingerprint of the split), the architecture, the method and its hyperparameters, the
//! training settings, the seed, the backend and, for a distilled teacher, its own teacher's key.
//! It holds the weights in burn's record format (burnpack) and a JSON file with the stage's
//! results and metric history, which a reuse replays so the run's files look the same.

use super::events::MetricPoint;
use crate::hash::Fnv64;
use crate::model::Network;
use burn::module::Module;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bump when the meaning of cached entries changes.
const FORMAT_VERSION: u32 = 1;

/// A folder of cached teachers.
#[derive(Debug, Clone)]
pub struct TeacherCache {
    dir: PathBuf,
}

/// What is stored beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedStage {
    pub key: String,
    pub steps: u64,
    pub wall_seconds: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub agreement_with_teacher: Option<f64>,
    /// The stage's metric history (stage index as it was when stored).
    pub metrics: Vec<MetricPoint>,
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
    pub fn at(dir: impl Into<PathBuf>) -> TeacherCache {
        TeacherCache { dir: dir.into() }
    }

    fn weights_path(&self, key: &str) -> PathBuf {
        self.dir.join("teachers").join(format!("{key}.bpk"))
    }

    fn info_path(&self, key: &str) -> PathBuf {
        self.dir.join("teachers").join(format!("{key}.json"))
    }

    /// Loads the entry for `key` into `template` (a freshly built network of the right
    /// architecture). A missing or unreadable entry is a miss.
    pub fn load(&self, key: &str, template: Network) -> Option<(Network, CachedStage, PathBuf)> {
        let info: CachedStage = serde_json::from_str(&std::fs::read_to_string(self.info_path(key)).ok()?).ok()?;
        let weights = self.weights_path(key);
        let network = template.try_load_file(&weights).ok()?;
        Some((network, info, weights))
    }

    /// Stores an entry; the JSON goes last so a half-written entry is never read as whole.
    pub fn store(&self, network: Network, info: &CachedStage) -> std::io::Result<PathBuf> {
        let weights = self.weights_path(&info.key);
        if let Some(parent) = weights.parent() {
            std::fs::create_dir_all(parent)?;
        }
        network.save_file(&weights).map_err(|e| std::io::Error::other(e.to_string()))?;
        let json = serde_json::to_string(info).map_err(std::io::Error::other)?;
        crate::record::write_atomically(&self.info_path(&info.key), json.as_bytes())?;
        Ok(weights)
    }
}

/// The cache key of a stage from a description of everything that shapes its weights.
pub fn key_of(description: &impl Serialize) -> String {
    let mut hash = Fnv64::new();
    hash.write_u64(u64::from(FORMAT_VERSION));
    hash.write(serde_json::to_string(description).unwrap_or_default().as_bytes());
    format!("{:016x}", hash.finish())
}
