//! The disk spooler's file (`mqtt.spooler.storageType: Disk`): the bridge's QoS 1 publishes that the broker has
//! not acknowledged yet, kept in `<root>/spool/spool.log` so that they survive a nucleus crash or kill and are
//! sent after the restart, in their original order.
//!
//! The file is a log of records, appended to, never rewritten in place:
//!
//! ```text
//! magic "GGS1" | body length u32 | record number u64 | kind u8 | CRC-32 u32 | body
//! ```
//!
//! (integers little-endian; the CRC covers length, record number, kind and body). A *publish* record's body is the
//! message (its spool sequence number, QoS, retain, topic, payload and MQTT 5 properties); an *ack* record's body is
//! the sequence number of a publish that is done with (acknowledged by the broker, refused by it, or given up
//! after `maxPublishRetry`). Record numbers count up by one from 0 in each file, so a record lost to corruption is
//! seen as a gap and counted.
//!
//! Reading ([`SpoolFile::open`]) replays the file: publishes without their ack, in sequence order. A record that
//! is torn (a write cut short at the end) or damaged (CRC or framing wrong) is skipped: reading resumes at the next
//! intact record, and [`Recovery`] says how many records were lost and where; nothing panics. The file is then
//! rewritten with only the live publishes (a damaged or torn part does not stay in it).
//!
//! Compaction: when no publish is live, the file is truncated to zero; when the dead records (acks and acked
//! publishes) outweigh the live ones by more than [`COMPACT_SLACK`] bytes, the live records are copied into a new
//! file that replaces the old one (write, fsync, rename, fsync of the directory). The file therefore stays within
//! about twice the live bytes plus [`COMPACT_SLACK`]; the live bytes are bounded by `mqtt.spooler.maxSizeInBytes`
//! like the memory spooler's.
//!
//! Durability: every record is written with one `write(2)` before the publish is answered, so it survives the
//! nucleus being killed (the kernel has it). [`SpoolFile::sync_point`] gives what a caller needs to make it
//! survive a power cut too (`fdatasync`), which the bridge does once for every batch of publishes waiting for it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::msg::{Msg, Props};

/// The spool file's name inside its directory.
pub const FILE_NAME: &str = "spool.log";
const MAGIC: [u8; 4] = *b"GGS1";
/// Magic, body length, record number, kind, CRC.
pub const HEADER_LEN: usize = 4 + 4 + 8 + 1 + 4;
/// A body longer than this is damage, not a message (the bridge's packets are at most 256 MiB).
const MAX_BODY: usize = 256 * 1024 * 1024 + 64 * 1024;
const KIND_PUBLISH: u8 = 1;
const KIND_ACK: u8 = 2;
/// Dead bytes tolerated beyond the live ones before the file is compacted.
pub const COMPACT_SLACK: u64 = 1024 * 1024;

/// What reading an existing spool file found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The live publishes, oldest first, with their sequence numbers.
    pub messages: Vec<(u64, Msg)>,
    /// Records lost to damage or a torn tail (a lost publish is a lost message; a lost ack means its publish is
    /// sent again, which QoS 1 allows).
    pub records_skipped: u64,
    /// Where the damage was, for the log.
    pub problems: Vec<String>,
}

/// Where a live publish record is in the current file.
#[derive(Clone, Copy, Debug)]
struct Slot {
    offset: u64,
    len: u64,
}

/// The open spool file. Not thread-safe by itself: the bridge keeps it under its state lock.
pub struct SpoolFile {
    dir: PathBuf,
    file: Arc<File>,
    size: u64,
    next_record: u64,
    next_seq: u64,
    live: BTreeMap<u64, Slot>,
    live_bytes: u64,
    /// Records written since the file was opened (never reset): what a sync covers.
    written: u64,
    compactions: u64,
}

impl std::fmt::Debug for SpoolFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolFile")
            .field("path", &self.path())
            .field("size", &self.size)
            .field("live", &self.live.len())
            .finish()
    }
}

fn crc(header: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[4..17]);
    h.update(body);
    h.finalize()
}

fn record(n: u64, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(HEADER_LEN + body.len());
    r.extend_from_slice(&MAGIC);
    r.extend_from_slice(&(body.len() as u32).to_le_bytes());
    r.extend_from_slice(&n.to_le_bytes());
    r.push(kind);
    let c = crc(&r, body);
    r.extend_from_slice(&c.to_le_bytes());
    r.extend_from_slice(body);
    r
}

/// One intact record found in a buffer.
struct Parsed<'a> {
    n: u64,
    kind: u8,
    body: &'a [u8],
    len: usize,
}

/// Why the bytes at a position are not an intact record.
enum Bad {
    /// The record runs past the end of the data (a write cut short, or a damaged length).
    Torn,
    /// Magic, kind or CRC wrong.
    Damaged,
}

fn parse_at(buf: &[u8], pos: usize) -> Result<Parsed<'_>, Bad> {
    let rest = &buf[pos..];
    if rest.len() < HEADER_LEN {
        return Err(if MAGIC.starts_with(&rest[..rest.len().min(4)]) {
            Bad::Torn
        } else {
            Bad::Damaged
        });
    }
    if rest[..4] != MAGIC {
        return Err(Bad::Damaged);
    }
    let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
    let mut nb = [0u8; 8];
    nb.copy_from_slice(&rest[8..16]);
    let n = u64::from_le_bytes(nb);
    let kind = rest[16];
    let stored = u32::from_le_bytes([rest[17], rest[18], rest[19], rest[20]]);
    if len > MAX_BODY || !matches!(kind, KIND_PUBLISH | KIND_ACK) {
        return Err(Bad::Damaged);
    }
    if rest.len() < HEADER_LEN + len {
        return Err(Bad::Torn);
    }
    let body = &rest[HEADER_LEN..HEADER_LEN + len];
    if crc(rest, body) != stored {
        return Err(Bad::Damaged);
    }
    Ok(Parsed {
        n,
        kind,
        body,
        len: HEADER_LEN + len,
    })
}

// ---- message bodies ----

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_opt(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
    }
}

fn encode_publish(seq: u64, m: &Msg) -> Vec<u8> {
    let p = &m.props;
    let mut out = Vec::with_capacity(64 + m.cost());
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(m.qos);
    out.push(u8::from(m.retain));
    put_bytes(&mut out, m.topic.as_bytes());
    put_bytes(&mut out, &m.payload);
    out.push(match p.payload_format_utf8 {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
    match p.message_expiry_interval {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    put_opt(&mut out, p.content_type.as_deref().map(str::as_bytes));
    put_opt(&mut out, p.response_topic.as_deref().map(str::as_bytes));
    put_opt(&mut out, p.correlation_data.as_deref());
    out.extend_from_slice(&(p.user_properties.len() as u32).to_le_bytes());
    for (k, v) in &p.user_properties {
        put_bytes(&mut out, k.as_bytes());
        put_bytes(&mut out, v.as_bytes());
    }
    out
}

/// Reads a body; `None` when it does not decode (counted as damage like a CRC failure).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => f(self).map(Some),
            _ => None,
        }
    }
}

fn decode_publish(body: &[u8]) -> Option<(u64, Msg)> {
    let mut r = Reader(body);
    let seq = r.u64()?;
    let qos = r.u8()?;
    let retain = r.u8()? != 0;
    let topic = r.string()?;
    let payload = Bytes::copy_from_slice(r.bytes()?);
    let payload_format_utf8 = match r.u8()? {
        0 => None,
        1 => Some(false),
        2 => Some(true),
        _ => return None,
    };
    let message_expiry_interval = r.opt(|r| r.u32())?;
    let content_type = r.opt(|r| r.string())?;
    let response_topic = r.opt(|r| r.string())?;
    let correlation_data = r.opt(|r| r.bytes().map(Bytes::copy_from_slice))?;
    let n = r.u32()? as usize;
    let mut user_properties = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        user_properties.push((r.string()?, r.string()?));
    }
    if !r.0.is_empty() || qos > 1 {
        return None;
    }
    Some((
        seq,
        Msg {
            topic,
            payload,
            qos,
            retain,
            props: Props {
                payload_format_utf8,
                message_expiry_interval,
                content_type,
                response_topic,
                correlation_data,
                user_properties,
            },
        },
    ))
}

fn decode_ack(body: &[u8]) -> Option<u64> {
    let mut r = Reader(body);
    let seq = r.u64()?;
    r.0.is_empty().then_some(seq)
}

/// Replays a file's bytes: the live publishes and what was lost.
fn replay(buf: &[u8]) -> Recovery {
    let mut rec = Recovery::default();
    let mut live: BTreeMap<u64, Msg> = BTreeMap::new();
    let mut expected: u64 = 0;
    let mut pos = 0usize;
    while pos < buf.len() {
        let parsed = parse_at(buf, pos).ok().and_then(|p| {
            let ok = match p.kind {
                KIND_PUBLISH => decode_publish(p.body).map(Some),
                _ => decode_ack(p.body).map(|s| {
                    live.remove(&s);
                    None
                }),
            };
            ok.map(|m| (p.n, p.len, m))
        });
        match parsed {
            Some((n, len, publish)) => {
                if n > expected {
                    rec.records_skipped += n - expected;
                }
                expected = expected.max(n + 1);
                if let Some((seq, msg)) = publish {
                    live.insert(seq, msg);
                }
                pos += len;
            }
            None => {
                // Resume at the next intact record numbered after the last good one.
                let next = (pos + 1..buf.len()).find(|&p| {
                    buf[p..].starts_with(&MAGIC) && parse_at(buf, p).is_ok_and(|r| r.n >= expected)
                });
                match next {
                    Some(p) => {
                        rec.problems.push(format!(
                            "damaged data at bytes {pos}..{p} ({} bytes)",
                            p - pos
                        ));
                        pos = p;
                    }
                    None => {
                        let torn = matches!(parse_at(buf, pos), Err(Bad::Torn));
                        rec.records_skipped += 1;
                        rec.problems.push(format!(
                            "{} record at byte {pos} ({} bytes to the end of the file)",
                            if torn { "torn" } else { "damaged" },
                            buf.len() - pos
                        ));
                        break;
                    }
                }
            }
        }
    }
    rec.messages = live.into_iter().collect();
    rec
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn open_append(path: &Path) -> io::Result<File> {
    // Read too: compaction copies live records out of it.
    OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
}

impl SpoolFile {
    /// Opens (creating it and `dir` if needed) the spool file in `dir`, replays it, and rewrites it with only
    /// the live publishes. An I/O error (permissions, disk) is returned; damage in the file is not an error but
    /// reported in the [`Recovery`].
    pub fn open(dir: &Path) -> io::Result<(SpoolFile, Recovery)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let buf = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let recovery = replay(&buf);
        let mut sf = SpoolFile {
            dir: dir.to_owned(),
            file: Arc::new(open_append(&path)?),
            size: buf.len() as u64,
            next_record: 0,
            next_seq: recovery.messages.last().map_or(0, |(s, _)| s + 1),
            live: BTreeMap::new(),
            live_bytes: 0,
            written: 0,
            compactions: 0,
        };
        // Rewrite: the live publishes only, renumbered from 0 (a damaged or torn part is dropped).
        let mut out = Vec::new();
        for (seq, msg) in &recovery.messages {
            let r = record(sf.next_record, KIND_PUBLISH, &encode_publish(*seq, msg));
            sf.live.insert(
                *seq,
                Slot {
                    offset: out.len() as u64,
                    len: r.len() as u64,
                },
            );
            sf.next_record += 1;
            sf.live_bytes += r.len() as u64;
            out.extend_from_slice(&r);
        }
        if out != buf {
            sf.replace_with(&out)?;
        }
        Ok((sf, recovery))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Current file size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Live publishes in the file.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Times the file was compacted by copying (truncations to zero not counted).
    pub fn compactions(&self) -> u64 {
        self.compactions
    }

    /// Appends a publish record; returns its sequence number (for [`ack`](Self::ack)).
    pub fn append(&mut self, msg: &Msg) -> io::Result<u64> {
        let seq = self.next_seq;
        let r = record(self.next_record, KIND_PUBLISH, &encode_publish(seq, msg));
        self.write(&r)?;
        self.live.insert(
            seq,
            Slot {
                offset: self.size - r.len() as u64,
                len: r.len() as u64,
            },
        );
        self.live_bytes += r.len() as u64;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Marks publish `seq` done: it is not replayed any more. Compacts the file when worthwhile.
    pub fn ack(&mut self, seq: u64) -> io::Result<()> {
        let Some(slot) = self.live.remove(&seq) else {
            return Ok(());
        };
        self.live_bytes -= slot.len;
        if self.live.is_empty() {
            // Nothing live: start an empty file (no ack record needed).
            self.file.set_len(0)?;
            self.size = 0;
            self.next_record = 0;
            return Ok(());
        }
        let r = record(self.next_record, KIND_ACK, &seq.to_le_bytes());
        self.write(&r)?;
        if self.size > 2 * self.live_bytes + COMPACT_SLACK {
            self.compact()?;
        }
        Ok(())
    }

    /// The handle to `fdatasync` and the number of records that sync covers (everything written so far: a
    /// compaction since then already synced its new file).
    pub fn sync_point(&self) -> (Arc<File>, u64) {
        (self.file.clone(), self.written)
    }

    fn write(&mut self, r: &[u8]) -> io::Result<()> {
        // One write(2) of the whole record (O_APPEND): a kill leaves it whole or absent, a power cut may tear it.
        if let Err(e) = (&*self.file).write_all(r) {
            // Leave no partial record behind for the next one to follow.
            let _ = self.file.set_len(self.size);
            return Err(e);
        }
        self.size += r.len() as u64;
        self.next_record += 1;
        self.written += 1;
        Ok(())
    }

    /// Copies the live records into a new file that replaces this one.
    fn compact(&mut self) -> io::Result<()> {
        let mut out = Vec::with_capacity(self.live_bytes as usize);
        let mut n = 0u64;
        let mut slots = BTreeMap::new();
        for (seq, slot) in &self.live {
            let mut r = vec![0u8; slot.len as usize];
            self.file.read_exact_at(&mut r, slot.offset)?;
            let body = r[HEADER_LEN..].to_vec();
            let r = record(n, KIND_PUBLISH, &body);
            slots.insert(
                *seq,
                Slot {
                    offset: out.len() as u64,
                    len: r.len() as u64,
                },
            );
            out.extend_from_slice(&r);
            n += 1;
        }
        self.replace_with(&out)?;
        self.live = slots;
        self.next_record = n;
        self.compactions += 1;
        Ok(())
    }

    /// Atomically replaces the file's content with `data` (new file, fsync, rename, fsync of the directory).
    fn replace_with(&mut self, data: &[u8]) -> io::Result<()> {
        let path = self.path();
        let tmp = self.dir.join(format!("{FILE_NAME}.new"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_data()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        self.file = Arc::new(open_append(&path)?);
        self.size = data.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: usize) -> Msg {
        let mut m = Msg::new(format!("t/{i}"), format!("payload {i}").into_bytes(), 1);
        if i % 2 == 0 {
            m.props.content_type = Some("text/plain".into());
            m.props.user_properties = vec![("k".into(), i.to_string())];
            m.props.correlation_data = Some(Bytes::from_static(b"\x00\x01"));
            m.props.payload_format_utf8 = Some(true);
            m.props.message_expiry_interval = Some(60);
            m.retain = true;
        }
        m
    }

    fn topics(r: &Recovery) -> Vec<String> {
        r.messages.iter().map(|(_, m)| m.topic.clone()).collect()
    }

    #[test]
    fn append_then_replay_in_order_with_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, r) = SpoolFile::open(dir.path()).unwrap();
        assert!(r.messages.is_empty() && r.records_skipped == 0);
        for i in 0..10 {
            assert_eq!(f.append(&msg(i)).unwrap(), i as u64);
        }
        drop(f);
        let (f, r) = SpoolFile::open(dir.path()).unwrap();
        assert_eq!(r.records_skipped, 0, "{:?}", r.problems);
        let got: Vec<Msg> = r.messages.iter().map(|(_, m)| m.clone()).collect();
        let want: Vec<Msg> = (0..10).map(msg).collect();
        assert_eq!(got, want);
        assert_eq!(f.live(), 10);
    }

    #[test]
    fn acked_publishes_are_not_replayed_and_sequence_continues() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = SpoolFile::open(dir.path()).unwrap();
        for i in 0..6 {
            f.append(&msg(i)).unwrap();
        }
        f.ack(0).unwrap();
        f.ack(3).unwrap();
        f.ack(3).unwrap(); // twice: no effect
        drop(f);
        let (mut f, r) = SpoolFile::open(dir.path()).unwrap();
        assert_eq!(topics(&r), ["t/1", "t/2", "t/4", "t/5"]);
        assert_eq!(r.records_skipped, 0);
        // New publishes get numbers after the replayed ones.
        assert_eq!(f.append(&msg(9)).unwrap(), 6);
    }

    #[test]
    fn all_acked_truncates_and_dead_records_are_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = SpoolFile::open(dir.path()).unwrap();
        for i in 0..3 {
            f.append(&msg(i)).unwrap();
        }
        for s in 0..3 {
            f.ack(s).unwrap();
        }
        assert_eq!(f.size(), 0);
        assert_eq!(std::fs::metadata(f.path()).unwrap().len(), 0);

        // One publish stays live while 4 KiB messages come and go: the file stays bounded.
        let big = |i: usize| Msg::new(format!("b/{i}"), vec![i as u8; 4096], 1);
        let keep = f.append(&big(0)).unwrap();
        let mut max = 0;
        for i in 1..2000 {
            let s = f.append(&big(i)).unwrap();
            f.ack(s).unwrap();
            max = max.max(f.size());
        }
        assert!(f.compactions() > 0);
        assert!(
            max <= 2 * (4096 + 200) + COMPACT_SLACK + 2 * (4096 + 200),
            "file grew to {max}"
        );
        assert_eq!(std::fs::metadata(f.path()).unwrap().len(), f.size());
        drop(f);
        let (_, r) = SpoolFile::open(dir.path()).unwrap();
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].0, keep);
        assert_eq!(r.messages[0].1, big(0));
        assert_eq!(r.records_skipped, 0, "{:?}", r.problems);
    }

    #[test]
    fn torn_tail_loses_only_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = SpoolFile::open(dir.path()).unwrap();
        for i in 0..5 {
            f.append(&msg(i)).unwrap();
        }
        let path = f.path();
        drop(f);
        let len = std::fs::metadata(&path).unwrap().len();
        // Every possible cut inside the last record.
        let full = std::fs::read(&path).unwrap();
        let last = full.len() - record(4, KIND_PUBLISH, &encode_publish(4, &msg(4))).len();
        for cut in last + 1..len as usize {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (f, r) = SpoolFile::open(dir.path()).unwrap();
            assert_eq!(topics(&r), ["t/0", "t/1", "t/2", "t/3"], "cut at {cut}");
            assert_eq!(r.records_skipped, 1, "cut at {cut}");
            assert!(r.problems[0].contains("torn"), "{:?}", r.problems);
            // The rewritten file is clean.
            assert_eq!(f.size() as usize, last);
            drop(f);
            let (_, r) = SpoolFile::open(dir.path()).unwrap();
            assert_eq!(r.records_skipped, 0);
            std::fs::write(&path, &full).unwrap();
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_is_detected_and_never_panics() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, _) = SpoolFile::open(dir.path()).unwrap();
        for i in 0..8 {
            f.append(&msg(i)).unwrap();
        }
        f.ack(2).unwrap();
        let path = f.path();
        drop(f);
        let full = std::fs::read(&path).unwrap();
        // Where each record ends: publishes 0..8 (records 0..8), then the ack of 2 (record 8).
        let mut ends = Vec::new();
        let mut end = 0;
        for i in 0..8 {
            end += record(i as u64, KIND_PUBLISH, &encode_publish(i as u64, &msg(i))).len();
            ends.push(end);
        }
        ends.push(full.len());
        assert_eq!(end + HEADER_LEN + 8, full.len());
        for at in 0..full.len() {
            let hit = ends.iter().position(|&e| at < e).unwrap();
            // Exactly that record is lost: a publish (its message), or the ack (t/2 comes back).
            let want: Vec<String> = (0..8)
                .filter(|&i| i != hit && (i != 2 || hit == 8))
                .map(|i| format!("t/{i}"))
                .collect();
            // The lowest bit or the highest, alternately.
            {
                let bit = if at % 2 == 0 { 0x01u8 } else { 0x80 };
                let mut bad = full.clone();
                bad[at] ^= bit;
                std::fs::write(&path, &bad).unwrap();
                let (_, r) = SpoolFile::open(dir.path()).unwrap();
                assert_eq!(r.records_skipped, 1, "byte {at}: {:?}", r.problems);
                assert!(!r.problems.is_empty());
                assert_eq!(topics(&r), want, "byte {at} (record {hit})");
                std::fs::write(&path, &full).unwrap();
            }
        }
    }

    #[test]
    fn garbage_file_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            b"this is not a spool file at all",
        )
        .unwrap();
        let (mut f, r) = SpoolFile::open(dir.path()).unwrap();
        assert!(r.messages.is_empty());
        assert_eq!(r.records_skipped, 1);
        assert_eq!(f.size(), 0);
        f.append(&msg(1)).unwrap();
    }
}
