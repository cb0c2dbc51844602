//! The spool (feature `spool`): a durable on-disk queue of hits, so a crash or a long Matomo outage
//! loses nothing.
//!
//! It is a [redb](https://docs.rs/redb) database (an embedded, crash-safe, checksummed B-tree store)
//! with one table: sequence number → record. The dispatcher appends hits in groups, one committed and
//! fsynced transaction per group (never per hit, never on the request path), reads the oldest first,
//! and removes them once Matomo answered. A record is `[version][tracked-at ms, LE u64][checksum,
//! 4 bytes][query string]`; a record that fails its checksum or does not decode is skipped, removed
//! and counted. A file that is not a readable database is moved aside (`<name>.corrupt-<unix time>`)
//! and a fresh spool started, so start-up never blocks and never panics.

use crate::request::TrackingRequest;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

const HITS: TableDefinition<u64, &[u8]> = TableDefinition::new("hits");
const VERSION: u8 = 1;
const HEADER: usize = 1 + 8 + 4;

/// Why the spool failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// The database could not be created, read or written.
    #[error("spool {path}: {message}")]
    Storage {
        /// The spool file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// A hit read back from the spool.
#[derive(Debug, Clone)]
pub struct SpooledHit {
    /// Its sequence number (remove it with this).
    pub id: u64,
    /// When it was tracked, in Unix milliseconds.
    pub tracked_at: u64,
    /// The hit.
    pub hit: TrackingRequest,
}

/// What opening a spool found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenReport {
    /// Hits waiting from an earlier run.
    pub recovered: usize,
    /// Where an unreadable spool file was moved, if one was.
    pub moved_aside: Option<PathBuf>,
}

/// The on-disk queue.
pub struct Spool {
    db: Database,
    path: PathBuf,
    next_id: u64,
    bytes: u64,
    len: u64,
    max_bytes: u64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// Opens (or creates) the spool at `path`, holding at most `max_bytes` of records.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use matomo_core::spool::Spool;
    /// use matomo_core::TrackingRequest;
    /// let dir = std::env::temp_dir().join(format!("matomo-spool-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("hits.redb");
    /// let (mut spool, _) = Spool::open(&path, 1 << 20)?;
    /// let hit = TrackingRequest::builder(1).url("https://a.example/").build()?;
    /// spool.append(&[(1_700_000_000_000, &hit)])?;
    /// drop(spool);
    /// let (mut again, report) = Spool::open(&path, 1 << 20)?;
    /// assert_eq!(report.recovered, 1);
    /// let (batch, _corrupt) = again.oldest(10)?;
    /// assert_eq!(batch[0].hit, hit);
    /// # std::fs::remove_dir_all(&dir)?; Ok(()) }
    /// ```
    pub fn open(path: &Path, max_bytes: u64) -> Result<(Self, OpenReport), SpoolError> {
        let mut report = OpenReport::default();
        let db = match Database::create(path) {
            Ok(db) => db,
            Err(error) if !is_unreadable(&error) => {
                return Err(SpoolError::Storage {
                    path: path.to_owned(),
                    message: match error {
                        redb::DatabaseError::DatabaseAlreadyOpen => {
                            "already open: one spool file serves one tracker at a time".to_owned()
                        }
                        other => other.to_string(),
                    },
                })
            }
            Err(error) => {
                let aside = aside_name(path);
                tracing::error!(
                    path = %path.display(),
                    moved_to = %aside.display(),
                    %error,
                    "matomo: the spool file is unreadable; moved aside and starting a new one (its hits are lost)"
                );
                std::fs::rename(path, &aside).map_err(|e| storage(path, &e))?;
                report.moved_aside = Some(aside);
                Database::create(path).map_err(|e| storage(path, &e))?
            }
        };
        let mut spool = Self {
            db,
            path: path.to_owned(),
            next_id: 0,
            bytes: 0,
            len: 0,
            max_bytes,
        };
        spool.scan()?;
        report.recovered = spool.len as usize;
        Ok((spool, report))
    }

    fn scan(&mut self) -> Result<(), SpoolError> {
        let write = self.db.begin_write().map_err(|e| self.storage(&e))?;
        {
            // Creates the table on first use.
            let table = write.open_table(HITS).map_err(|e| self.storage(&e))?;
            let (mut bytes, mut len, mut last) = (0u64, 0u64, None);
            for entry in table.iter().map_err(|e| self.storage(&e))? {
                let (key, value) = entry.map_err(|e| self.storage(&e))?;
                bytes += value.value().len() as u64;
                len += 1;
                last = Some(key.value());
            }
            self.bytes = bytes;
            self.len = len;
            self.next_id = last.map_or(0, |id| id + 1);
        }
        write.commit().map_err(|e| self.storage(&e))
    }

    /// Hits in the spool.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the spool is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends hits in one durable transaction; returns how many of the oldest hits were dropped
    /// to stay within `max_bytes`.
    pub fn append(&mut self, hits: &[(u64, &TrackingRequest)]) -> Result<u64, SpoolError> {
        if hits.is_empty() {
            return Ok(0);
        }
        let write = self.db.begin_write().map_err(|e| self.storage(&e))?;
        let mut evicted = 0;
        {
            let mut table = write.open_table(HITS).map_err(|e| self.storage(&e))?;
            for (tracked_at, hit) in hits {
                let record = encode(*tracked_at, hit);
                table
                    .insert(self.next_id, record.as_slice())
                    .map_err(|e| self.storage(&e))?;
                self.next_id += 1;
                self.bytes += record.len() as u64;
                self.len += 1;
            }
            while self.bytes > self.max_bytes && self.len > 0 {
                let Some((_, value)) = table.pop_first().map_err(|e| self.storage(&e))? else {
                    break;
                };
                self.bytes = self.bytes.saturating_sub(value.value().len() as u64);
                self.len -= 1;
                evicted += 1;
            }
        }
        write.commit().map_err(|e| self.storage(&e))?;
        Ok(evicted)
    }

    /// The `limit` oldest hits, and how many corrupt records were found (and removed) on the way.
    pub fn oldest(&mut self, limit: usize) -> Result<(Vec<SpooledHit>, u64), SpoolError> {
        let mut hits = Vec::with_capacity(limit.min(self.len as usize));
        let mut corrupt = Vec::new();
        {
            let read = self.db.begin_read().map_err(|e| self.storage(&e))?;
            let table = read.open_table(HITS).map_err(|e| self.storage(&e))?;
            for entry in table.iter().map_err(|e| self.storage(&e))? {
                if hits.len() >= limit {
                    break;
                }
                let (key, value) = entry.map_err(|e| self.storage(&e))?;
                match decode(value.value()) {
                    Some((tracked_at, hit)) => hits.push(SpooledHit {
                        id: key.value(),
                        tracked_at,
                        hit,
                    }),
                    None => corrupt.push(key.value()),
                }
            }
        }
        let found = corrupt.len() as u64;
        if found > 0 {
            tracing::warn!(records = found, path = %self.path.display(), "matomo: corrupt spool records skipped");
            self.remove(&corrupt)?;
        }
        Ok((hits, found))
    }

    /// Removes hits by id in one transaction.
    pub fn remove(&mut self, ids: &[u64]) -> Result<(), SpoolError> {
        if ids.is_empty() {
            return Ok(());
        }
        let write = self.db.begin_write().map_err(|e| self.storage(&e))?;
        {
            let mut table = write.open_table(HITS).map_err(|e| self.storage(&e))?;
            for id in ids {
                if let Some(value) = table.remove(id).map_err(|e| self.storage(&e))? {
                    self.bytes = self.bytes.saturating_sub(value.value().len() as u64);
                    self.len -= 1;
                }
            }
        }
        write.commit().map_err(|e| self.storage(&e))
    }

    fn storage(&self, error: &dyn std::fmt::Display) -> SpoolError {
        storage(&self.path, error)
    }

    /// Writes raw bytes as a record, for tests of corruption handling.
    #[doc(hidden)]
    pub fn insert_raw(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        let write = self.db.begin_write().map_err(|e| self.storage(&e))?;
        {
            let mut table = write.open_table(HITS).map_err(|e| self.storage(&e))?;
            table
                .insert(self.next_id, bytes)
                .map_err(|e| self.storage(&e))?;
        }
        write.commit().map_err(|e| self.storage(&e))?;
        self.next_id += 1;
        self.len += 1;
        self.bytes += bytes.len() as u64;
        Ok(())
    }
}

/// Whether opening failed because the file's content is bad (so it is moved aside), rather than
/// because of the environment (in use, permissions), which must not cost the hits it holds.
fn is_unreadable(error: &redb::DatabaseError) -> bool {
    use redb::{DatabaseError, StorageError};
    match error {
        DatabaseError::UpgradeRequired(_) | DatabaseError::RepairAborted => true,
        DatabaseError::Storage(StorageError::Corrupted(_)) => true,
        DatabaseError::Storage(StorageError::Io(io)) => matches!(
            io.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
        ),
        _ => false,
    }
}

fn storage(path: &Path, error: &dyn std::fmt::Display) -> SpoolError {
    SpoolError::Storage {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

fn aside_name(path: &Path) -> PathBuf {
    let stamp = crate::unix_time::unix_seconds(std::time::SystemTime::now());
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".corrupt-{stamp}"));
    path.with_file_name(name)
}

fn checksum(tracked_at: u64, query: &[u8]) -> [u8; 4] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&tracked_at.to_le_bytes()).update(query);
    let hash = hasher.finalize();
    let mut out = [0u8; 4];
    out.copy_from_slice(&hash.as_bytes()[..4]);
    out
}

/// Encodes a spool record.
pub(crate) fn encode(tracked_at: u64, hit: &TrackingRequest) -> Vec<u8> {
    let query = hit.to_query();
    let mut record = Vec::with_capacity(HEADER + query.len());
    record.push(VERSION);
    record.extend_from_slice(&tracked_at.to_le_bytes());
    record.extend_from_slice(&checksum(tracked_at, query.as_bytes()));
    record.extend_from_slice(query.as_bytes());
    record
}

/// Decodes a spool record; `None` when it is corrupt. Never panics.
pub(crate) fn decode(record: &[u8]) -> Option<(u64, TrackingRequest)> {
    if record.len() < HEADER || record[0] != VERSION {
        return None;
    }
    let tracked_at = u64::from_le_bytes(record[1..9].try_into().ok()?);
    let query = &record[HEADER..];
    if record[9..HEADER] != checksum(tracked_at, query) {
        return None;
    }
    let hit = TrackingRequest::from_query(std::str::from_utf8(query).ok()?).ok()?;
    Some((tracked_at, hit))
}
