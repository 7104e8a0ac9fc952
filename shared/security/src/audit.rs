//! Tamper-evident audit log: masked parameters and a per-workspace hash chain.
//!
//! Each entry's hash is `SHA-256(prev_hash || canonical(entry))`, where `prev_hash`
//! is the previous entry's hash (all zeros for the first entry, `seq == 1`). Editing,
//! deleting or reordering any stored entry breaks [`verify_chain`] at that entry.
//!
//! The canonical encoding is JSON with keys sorted by their UTF-8 bytes, no
//! whitespace, and serde_json's own string escaping and number formatting. It is
//! produced by our own writer, not `serde_json::to_vec`, because whether
//! `serde_json::Map` keeps insertion order depends on a cargo feature any other
//! crate in the build can switch on.

use serde_json::Value;

use crate::digest::{digest32, sha256};

digest32!(
    /// A link in the audit hash chain.
    AuditHash
);

impl AuditHash {
    /// The `prev_hash` of the first entry in a workspace's chain.
    pub const GENESIS: AuditHash = AuditHash::from_bytes([0; 32]);
}

/// What is masked: any object key containing one of these (case-insensitive).
/// Over-masking (e.g. `postcode`, `monkey`) is accepted; leaking is not.
const SENSITIVE_KEY_PARTS: [&str; 7] = ["password", "secret", "token", "key", "code", "otp", "credential"];

/// Replacement for masked values.
pub const MASKED: &str = "[masked]";

/// Whether an object key names something that must not be stored in the audit log.
pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_lowercase();
    SENSITIVE_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// Replace the value of every sensitive key, at any depth, with `"[masked]"`.
pub fn mask_parameters(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_sensitive_key(k) {
                    *v = Value::String(MASKED.to_owned());
                } else {
                    mask_parameters(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_parameters),
        _ => {}
    }
}

/// What the caller knows about an event; [`AuditEntry::append`] adds the chain fields.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    /// Workspace whose chain this belongs to.
    pub workspace_id: String,
    /// Who: user id, `apikey:<prefix>`, `support:<id>` or `system`.
    pub actor: String,
    /// What, e.g. `member.role_changed`.
    pub action: String,
    /// On what, e.g. the member's user id.
    pub target: Option<String>,
    /// When, unix milliseconds (from the caller's clock).
    pub occurred_at_ms: i64,
    /// Source IP as text.
    pub source_ip: Option<String>,
    /// User agent as sent.
    pub user_agent: Option<String>,
    /// Request id for correlation with logs.
    pub request_id: Option<String>,
    /// Parameters; masked by `append`.
    pub parameters: Value,
}

/// One stored audit entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Workspace whose chain this belongs to.
    pub workspace_id: String,
    /// Position in the chain, starting at 1.
    pub seq: u64,
    /// Who acted.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// Unix milliseconds.
    pub occurred_at_ms: i64,
    /// Source IP.
    pub source_ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Masked parameters.
    pub parameters: Value,
    /// Hash of the previous entry ([`AuditHash::GENESIS`] for `seq == 1`).
    pub prev_hash: AuditHash,
    /// `SHA-256(prev_hash || canonical bytes)`.
    pub hash: AuditHash,
}

impl AuditEntry {
    /// Build the entry that follows `prev` (or the genesis entry when `None`),
    /// masking the parameters and computing the hash.
    ///
    /// The caller stores it with a conditional write on `seq` (no entry with this
    /// seq exists yet), so two concurrent appends cannot both claim a position.
    pub fn append(prev: Option<&AuditEntry>, draft: AuditDraft) -> Result<AuditEntry, AuditError> {
        let (seq, prev_hash) = match prev {
            None => (1, AuditHash::GENESIS),
            Some(p) => {
                if p.workspace_id != draft.workspace_id {
                    return Err(AuditError::WorkspaceMismatch);
                }
                (p.seq.checked_add(1).ok_or(AuditError::SequenceOverflow)?, p.hash)
            }
        };
        let mut parameters = draft.parameters;
        mask_parameters(&mut parameters);
        let mut entry = AuditEntry {
            workspace_id: draft.workspace_id,
            seq,
            actor: draft.actor,
            action: draft.action,
            target: draft.target,
            occurred_at_ms: draft.occurred_at_ms,
            source_ip: draft.source_ip,
            user_agent: draft.user_agent,
            request_id: draft.request_id,
            parameters,
            prev_hash,
            hash: AuditHash::GENESIS,
        };
        entry.hash = entry.compute_hash();
        Ok(entry)
    }

    /// Canonical bytes of everything except `prev_hash` (hashed separately as the
    /// prefix) and `hash` itself.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let opt = |o: &Option<String>| o.as_ref().map_or(Value::Null, |s| Value::String(s.clone()));
        let fields: [(&str, Value); 11] = [
            ("v", Value::from(1)),
            ("workspace_id", Value::String(self.workspace_id.clone())),
            ("seq", Value::from(self.seq)),
            ("actor", Value::String(self.actor.clone())),
            ("action", Value::String(self.action.clone())),
            ("target", opt(&self.target)),
            ("occurred_at_ms", Value::from(self.occurred_at_ms)),
            ("source_ip", opt(&self.source_ip)),
            ("user_agent", opt(&self.user_agent)),
            ("request_id", opt(&self.request_id)),
            ("parameters", self.parameters.clone()),
        ];
        let obj: serde_json::Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let mut out = Vec::new();
        write_canonical(&Value::Object(obj), &mut out);
        out
    }

    /// `SHA-256(prev_hash || canonical_bytes)`.
    pub fn compute_hash(&self) -> AuditHash {
        let body = self.canonical_bytes();
        let mut input = Vec::with_capacity(32 + body.len());
        input.extend_from_slice(self.prev_hash.as_bytes());
        input.extend_from_slice(&body);
        AuditHash::from_bytes(sha256(&input))
    }
}

/// Canonical JSON: sorted keys, no whitespace.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Null, bools and numbers have a single serde_json rendering.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // Display of a Value::String is its JSON literal (quoted and escaped); it cannot fail.
    out.extend_from_slice(Value::String(s.to_owned()).to_string().as_bytes());
}

/// Problems building an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The previous entry belongs to another workspace's chain.
    #[error("previous audit entry belongs to another workspace")]
    WorkspaceMismatch,
    /// `seq` would overflow.
    #[error("audit sequence number overflow")]
    SequenceOverflow,
    /// The anchor key is not 32 bytes.
    #[error("the audit anchor key must be 32 bytes")]
    AnchorKeyLength,
}

/// Why a chain failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakReason {
    /// The stored hash does not match the entry's content.
    HashMismatch,
    /// `prev_hash` is not the previous entry's hash (or not zeros at genesis).
    PrevHashMismatch,
    /// `seq` is not the previous seq + 1 (or the chain does not start at 1).
    SequenceGap,
    /// The entry belongs to a different workspace than the first one.
    WorkspaceMismatch,
    /// The entry's MAC is missing or wrong: it was written (or its chain recomputed)
    /// by someone without the anchor key.
    MacMismatch,
    /// The checkpoint's MAC is wrong, or it names another workspace.
    CheckpointForged,
    /// Entries the checkpoint says must still exist are gone.
    Truncated,
}

/// The first entry at which the chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {reason:?}")]
pub struct ChainBreak {
    /// Sequence number of the offending entry.
    pub seq: u64,
    /// What was wrong with it.
    pub reason: BreakReason,
}

/// Verify a whole chain, which must start at the genesis entry (`seq == 1`).
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    verify_segment(0, AuditHash::GENESIS, entries)
}

/// Verify a segment that continues after an already-trusted entry with
/// `anchor_seq` and `anchor_hash` (use `0` and [`AuditHash::GENESIS`] for the start).
/// Lets periodic verification resume from a checkpoint instead of re-reading
/// the whole history.
pub fn verify_segment(anchor_seq: u64, anchor_hash: AuditHash, entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut expected_prev = anchor_hash;
    let mut expected_seq = anchor_seq.checked_add(1);
    let workspace = entries.first().map(|e| e.workspace_id.as_str());
    for entry in entries {
        let brk = |reason| ChainBreak { seq: entry.seq, reason };
        if Some(entry.workspace_id.as_str()) != workspace {
            return Err(brk(BreakReason::WorkspaceMismatch));
        }
        if Some(entry.seq) != expected_seq {
            return Err(brk(BreakReason::SequenceGap));
        }
        if entry.prev_hash != expected_prev {
            return Err(brk(BreakReason::PrevHashMismatch));
        }
        if entry.compute_hash() != entry.hash {
            return Err(brk(BreakReason::HashMismatch));
        }
        expected_prev = entry.hash;
        expected_seq = entry.seq.checked_add(1);
    }
    Ok(())
}

// ---------------------------------------------------------------- anchoring

digest32!(
    /// HMAC-SHA256 of an entry's (or a checkpoint's) identity under the platform's
    /// audit anchor key. Anyone who can write the table can recompute a plain hash
    /// chain; without the key they cannot make the MACs that go with it.
    AuditMac
);

/// The platform's audit anchor key (32 bytes, kept sealed under the platform KMS
/// key; only the appenders and housekeeping can open it).
pub struct AnchorKey(crate::secret::SecretBytes);

impl AnchorKey {
    pub fn new(bytes: crate::secret::SecretBytes) -> Result<Self, AuditError> {
        if bytes.expose().len() != 32 {
            return Err(AuditError::AnchorKeyLength);
        }
        Ok(Self(bytes))
    }

    fn mac(&self, domain: &[u8], parts: &[&[u8]]) -> AuditMac {
        use hmac::{Hmac, KeyInit, Mac};
        let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(self.0.expose()) else {
            // HMAC takes keys of any length; 32 bytes were checked in `new`.
            return AuditMac::from_bytes([0; 32]);
        };
        mac.update(domain);
        for part in parts {
            // Length-prefixed, so no two different inputs share an encoding.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        AuditMac::from_bytes(mac.finalize().into_bytes().into())
    }

    /// The entry's MAC: its workspace, position and hash (which covers its content
    /// and its link to the previous entry).
    pub fn entry_mac(&self, entry: &AuditEntry) -> AuditMac {
        self.mac(b"tern-audit-entry-v1", &[entry.workspace_id.as_bytes(), &entry.seq.to_be_bytes(), entry.hash.as_bytes()])
    }

    pub fn checkpoint_mac(&self, c: &AuditCheckpoint) -> AuditMac {
        self.mac(
            b"tern-audit-checkpoint-v1",
            &[
                c.workspace_id.as_bytes(),
                &c.from_seq.to_be_bytes(),
                c.from_prev_hash.as_bytes(),
                &c.head_seq.to_be_bytes(),
                c.head_hash.as_bytes(),
                &c.written_at_ms.to_be_bytes(),
            ],
        )
    }
}

/// Written by housekeeping before entries expire by TTL: from `from_seq` on, every
/// entry must still exist (they outlive the next days), the first of them follows
/// `from_prev_hash`, and the chain reaches at least `head_seq` with `head_hash`.
/// Verification starts from it instead of entry 1, so expired entries are no
/// break, while a truncation past it, a gap, or a recomputed chain still are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditCheckpoint {
    pub workspace_id: String,
    pub from_seq: u64,
    pub from_prev_hash: AuditHash,
    pub head_seq: u64,
    pub head_hash: AuditHash,
    pub written_at_ms: i64,
}

impl AuditCheckpoint {
    /// The checkpoint for `entries` (the chain as stored, oldest first), given the
    /// first of them that survives the coming expiry (`from`, an index into
    /// `entries`; `entries.len()` when none does: the next entry must follow the head).
    pub fn at(entries: &[AuditEntry], from: usize, written_at_ms: i64) -> Option<AuditCheckpoint> {
        let head = entries.last()?;
        let (from_seq, from_prev_hash) = match entries.get(from) {
            Some(e) => (e.seq, e.prev_hash),
            None => (head.seq.checked_add(1)?, head.hash),
        };
        Some(AuditCheckpoint {
            workspace_id: head.workspace_id.clone(),
            from_seq,
            from_prev_hash,
            head_seq: head.seq,
            head_hash: head.hash,
            written_at_ms,
        })
    }
}

/// Verifies a stored trail against the anchor key: every entry's MAC, the chain's
/// links, and (when there is one) the checkpoint: its own MAC, nothing missing from
/// its `from_seq` on, the link into it, and the head it saw. Entries before the
/// checkpoint that have not expired yet are checked as part of the chain.
pub fn verify_anchored(
    key: &AnchorKey,
    checkpoint: Option<(&AuditCheckpoint, &AuditMac)>,
    entries: &[(AuditEntry, Option<AuditMac>)],
) -> Result<(), ChainBreak> {
    let chain: Vec<AuditEntry> = entries.iter().map(|(e, _)| e.clone()).collect();
    let brk = |seq, reason| ChainBreak { seq, reason };
    let Some((cp, cp_mac)) = checkpoint else {
        verify_chain(&chain)?;
        return verify_macs(key, entries);
    };
    if key.checkpoint_mac(cp) != *cp_mac || chain.first().is_some_and(|e| e.workspace_id != cp.workspace_id) {
        return Err(brk(cp.from_seq, BreakReason::CheckpointForged));
    }
    match chain.first() {
        None if cp.head_seq >= cp.from_seq => return Err(brk(cp.from_seq, BreakReason::Truncated)),
        None => return Ok(()),
        Some(first) if first.seq == 1 => verify_segment(0, AuditHash::GENESIS, &chain)?,
        // Older entries may have expired: the first one left is checked against its
        // own link, and the chain from it must reach into the checkpoint.
        Some(first) if first.seq <= cp.from_seq => verify_segment(first.seq - 1, first.prev_hash, &chain)?,
        Some(_) => return Err(brk(cp.from_seq, BreakReason::Truncated)),
    }
    verify_macs(key, entries)?;
    let by_seq = |seq: u64| chain.iter().find(|e| e.seq == seq);
    if let Some(from) = by_seq(cp.from_seq)
        && from.prev_hash != cp.from_prev_hash
    {
        return Err(brk(cp.from_seq, BreakReason::PrevHashMismatch));
    }
    match by_seq(cp.head_seq) {
        Some(head) if head.hash == cp.head_hash => Ok(()),
        Some(_) => Err(brk(cp.head_seq, BreakReason::HashMismatch)),
        // The chain is contiguous from at most `from_seq`, so a missing head means
        // entries at its end were removed.
        None if cp.head_seq >= cp.from_seq => Err(brk(chain.last().map_or(cp.from_seq, |e| e.seq + 1), BreakReason::Truncated)),
        None => Ok(()),
    }
}

fn verify_macs(key: &AnchorKey, entries: &[(AuditEntry, Option<AuditMac>)]) -> Result<(), ChainBreak> {
    for (entry, mac) in entries {
        if mac.is_none_or(|m| key.entry_mac(entry) != m) {
            return Err(ChainBreak { seq: entry.seq, reason: BreakReason::MacMismatch });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn draft(n: i64) -> AuditDraft {
        AuditDraft {
            workspace_id: "ws_1".into(),
            actor: "user_1".into(),
            action: "member.invited".into(),
            target: Some(format!("user_{n}")),
            occurred_at_ms: 1_700_000_000_000 + n,
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0".into()),
            request_id: Some(format!("req-{n}")),
            parameters: json!({"role": "member", "n": n}),
        }
    }

    fn chain(len: i64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for n in 0..len {
            let e = AuditEntry::append(out.last(), draft(n)).unwrap();
            out.push(e);
        }
        out
    }

    #[test]
    fn genesis_and_links() {
        let c = chain(3);
        assert_eq!(c[0].seq, 1);
        assert_eq!(c[0].prev_hash, AuditHash::GENESIS);
        assert_eq!(c[1].prev_hash, c[0].hash);
        assert_eq!(c[2].seq, 3);
        assert_eq!(verify_chain(&c), Ok(()));
        assert_eq!(verify_chain(&[]), Ok(()));
    }

    #[test]
    fn editing_any_field_breaks_at_that_entry() {
        type Edit = fn(&mut AuditEntry);
        let edits: [(&str, Edit); 11] = [
            ("workspace", |e| e.workspace_id.push('x')),
            ("actor", |e| e.actor = "user_evil".into()),
            ("action", |e| e.action = "member.removed".into()),
            ("target", |e| e.target = None),
            ("timestamp", |e| e.occurred_at_ms += 1),
            ("ip", |e| e.source_ip = Some("198.51.100.1".into())),
            ("ua", |e| e.user_agent = None),
            ("request", |e| e.request_id = Some("req-x".into())),
            ("params", |e| e.parameters["role"] = json!("owner")),
            ("prev", |e| e.prev_hash = AuditHash::from_bytes([9; 32])),
            ("hash", |e| e.hash = AuditHash::from_bytes([9; 32])),
        ];
        for (name, edit) in edits {
            let mut c = chain(4);
            edit(&mut c[2]);
            let err = verify_chain(&c).unwrap_err();
            assert_eq!(err.seq, 3, "{name}: {err:?}");
        }
    }

    #[test]
    fn recomputing_an_edited_hash_breaks_the_next_entry() {
        let mut c = chain(4);
        c[1].actor = "user_evil".into();
        c[1].hash = c[1].compute_hash();
        assert_eq!(verify_chain(&c), Err(ChainBreak { seq: 3, reason: BreakReason::PrevHashMismatch }));
    }

    #[test]
    fn deletion_reordering_and_truncated_start_are_detected() {
        let mut c = chain(4);
        c.remove(1);
        assert_eq!(verify_chain(&c), Err(ChainBreak { seq: 3, reason: BreakReason::SequenceGap }));

        let mut c = chain(4);
        c.swap(1, 2);
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);

        let c = chain(4);
        assert_eq!(verify_chain(&c[1..]).unwrap_err(), ChainBreak { seq: 2, reason: BreakReason::SequenceGap });
        assert_eq!(verify_segment(c[0].seq, c[0].hash, &c[1..]), Ok(()));
        assert!(verify_segment(c[0].seq, AuditHash::GENESIS, &c[1..]).is_err());
    }

    #[test]
    fn chains_of_other_workspaces_cannot_be_mixed() {
        let mut c = chain(2);
        let mut other = draft(5);
        other.workspace_id = "ws_2".into();
        assert_eq!(AuditEntry::append(c.last(), other.clone()).unwrap_err(), AuditError::WorkspaceMismatch);
        let mut forged = AuditEntry::append(None, other).unwrap();
        forged.seq = 3;
        forged.prev_hash = c[1].hash;
        forged.hash = forged.compute_hash();
        c.push(forged);
        assert_eq!(verify_chain(&c).unwrap_err().reason, BreakReason::WorkspaceMismatch);
    }

    #[test]
    fn masking_is_recursive_and_case_insensitive() {
        let mut d = draft(0);
        d.parameters = json!({
            "email": "a@b.test",
            "Password": "hunter2",
            "nested": {"api_KEY": "tern_x", "list": [{"refreshToken": "t"}, {"ok": 1}], "OTP": 123456},
            "clientSecret": {"deep": "object"},
            "Credentials": ["a"],
            "recovery_code": "abcd",
        });
        let e = AuditEntry::append(None, d).unwrap();
        assert_eq!(
            e.parameters,
            json!({
                "email": "a@b.test",
                "Password": "[masked]",
                "nested": {"api_KEY": "[masked]", "list": [{"refreshToken": "[masked]"}, {"ok": 1}], "OTP": "[masked]"},
                "clientSecret": "[masked]",
                "Credentials": "[masked]",
                "recovery_code": "[masked]",
            })
        );
        assert!(!e.canonical_bytes().windows(7).any(|w| w == b"hunter2"));
    }

    #[test]
    fn canonical_encoding_sorts_keys_and_is_stable() {
        let a = json!({"b": 1, "a": {"z": [1, "x\"y"], "y": null}, "c": true});
        let mut out = Vec::new();
        write_canonical(&a, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":{"y":null,"z":[1,"x\"y"]},"b":1,"c":true}"#);

        // Entry encoding pinned: changing it silently would break every stored chain.
        let e = AuditEntry::append(None, draft(0)).unwrap();
        assert_eq!(
            String::from_utf8(e.canonical_bytes()).unwrap(),
            r#"{"action":"member.invited","actor":"user_1","occurred_at_ms":1700000000000,"parameters":{"n":0,"role":"member"},"request_id":"req-0","seq":1,"source_ip":"203.0.113.7","target":"user_0","user_agent":"Mozilla/5.0","v":1,"workspace_id":"ws_1"}"#
        );
    }

    #[test]
    fn survives_serde_round_trip() {
        let c = chain(3);
        let json = serde_json::to_string(&c).unwrap();
        let back: Vec<AuditEntry> = serde_json::from_str(&json).unwrap();
        assert_eq!(verify_chain(&back), Ok(()));
    }

    proptest! {
        #[test]
        fn key_order_does_not_change_the_hash(pairs in proptest::collection::btree_map("[a-z]{1,6}", any::<i32>(), 0..8)) {
            // Build the same object in two insertion orders.
            let fwd: serde_json::Map<String, Value> = pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let rev: serde_json::Map<String, Value> = pairs.iter().rev().map(|(k, v)| (k.clone(), json!(v))).collect();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            write_canonical(&Value::Object(fwd), &mut a);
            write_canonical(&Value::Object(rev), &mut b);
            prop_assert_eq!(a, b);
        }
    }

    fn key(byte: u8) -> AnchorKey {
        AnchorKey::new(crate::secret::SecretBytes::from(vec![byte; 32])).unwrap()
    }

    fn anchored(c: &[AuditEntry], k: &AnchorKey) -> Vec<(AuditEntry, Option<AuditMac>)> {
        c.iter().map(|e| (e.clone(), Some(k.entry_mac(e)))).collect()
    }

    #[test]
    fn a_recomputed_chain_is_detected_by_its_macs() {
        let k = key(1);
        let c = chain(4);
        let mut stored = anchored(&c, &k);
        assert_eq!(verify_anchored(&k, None, &stored), Ok(()));
        // Rewritten and every hash after it recomputed: the plain chain verifies, the MACs do not.
        stored[1].0.actor = "user_evil".into();
        for i in 1..4 {
            stored[i].0.prev_hash = stored[i - 1].0.hash;
            stored[i].0.hash = stored[i].0.compute_hash();
        }
        let plain: Vec<AuditEntry> = stored.iter().map(|(e, _)| e.clone()).collect();
        assert_eq!(verify_chain(&plain), Ok(()));
        assert_eq!(verify_anchored(&k, None, &stored), Err(ChainBreak { seq: 2, reason: BreakReason::MacMismatch }));
        // With another key, or without a MAC, nothing verifies.
        assert!(verify_anchored(&key(2), None, &anchored(&c, &k)).is_err());
        let mut missing = anchored(&c, &k);
        missing[3].1 = None;
        assert_eq!(verify_anchored(&k, None, &missing).unwrap_err().reason, BreakReason::MacMismatch);
    }

    #[test]
    fn a_checkpoint_lets_expired_entries_go_and_still_catches_truncation() {
        let k = key(1);
        let c = chain(6);
        // Entries 1 and 2 expire next; the checkpoint starts at 3 and saw the head 6.
        let cp = AuditCheckpoint::at(&c, 2, 0).unwrap();
        assert_eq!((cp.from_seq, cp.head_seq), (3, 6));
        let mac = k.checkpoint_mac(&cp);
        let all = anchored(&c, &k);
        assert_eq!(verify_anchored(&k, Some((&cp, &mac)), &all), Ok(()), "before expiry");
        assert_eq!(verify_anchored(&k, Some((&cp, &mac)), &all[1..]), Ok(()), "part expired");
        assert_eq!(verify_anchored(&k, Some((&cp, &mac)), &all[2..]), Ok(()), "expired");
        assert_eq!(verify_anchored(&k, Some((&cp, &mac)), &all[3..]), Err(ChainBreak { seq: 3, reason: BreakReason::Truncated }));
        assert_eq!(verify_anchored(&k, Some((&cp, &mac)), &all[2..5]), Err(ChainBreak { seq: 6, reason: BreakReason::Truncated }));
        assert_eq!(verify_anchored(&k, Some((&cp, &mac)), &[]).unwrap_err().reason, BreakReason::Truncated);
        let mut gap = all[2..].to_vec();
        gap.remove(1);
        assert_eq!(verify_anchored(&k, Some((&cp, &mac)), &gap).unwrap_err().reason, BreakReason::SequenceGap);
        let mut moved = cp.clone();
        moved.from_seq = 4;
        assert_eq!(verify_anchored(&k, Some((&moved, &mac)), &all[3..]).unwrap_err().reason, BreakReason::CheckpointForged);
        // Nothing survives: the checkpoint names the head, the next entry must follow it.
        let none = AuditCheckpoint::at(&c, 6, 0).unwrap();
        assert_eq!((none.from_seq, none.from_prev_hash), (7, c[5].hash));
        assert_eq!(verify_anchored(&k, Some((&none, &k.checkpoint_mac(&none))), &[]), Ok(()));
    }
}
