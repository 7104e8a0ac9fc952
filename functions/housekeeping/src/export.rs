//! Exports: a workspace's whole data, or everything about one person (a
//! data-subject access request), packed as a zip in the data bucket under
//! `exports/<workspace>/<task>.zip`, encrypted with the workspace's own KMS key.
//! The API hands it out through short-lived presigned URLs; the bucket's lifecycle
//! deletes it after [`EXPORT_LIFETIME`].
//!
//! A workspace export reads the workspace's collection partition undecoded and in
//! key order ([`tern_aws::table::ScopedTable::collection_page`]), so every kind of
//! item is written to `data/<kind>.jsonl` as it is stored, including kinds added
//! after this was written. Credentials sealed with the workspace key (mailbox
//! passwords, the LLM key) are withheld: an export is data, not access. The zip is
//! built in a temporary file, one page at a time, so memory stays flat whatever the
//! workspace's size.

use crate::person::Holdings;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use tern_aws::audit::AuditLog;
use tern_aws::bucket::{Object, Put, ScopedBucket};
use tern_aws::entities::{CONTACT_NOTE_PURPOSE, ContactNote, Enrichment, IdealCustomerSettings, Workspace};
use tern_aws::llm::LlmSettings;
use tern_aws::outreach::{AttachmentRecord, Contact, SendRecord, SendState, Sequence};
use tern_aws::privacy::{ExportFile, PrivacyTask};
use tern_aws::sealing::Sealer;
use tern_aws::table::{Entity, ScopedTable, StoreError};
use tern_domain::inbound::InboundMessage;
use tern_domain::spreadsheet::SpreadsheetWriter;
use time::OffsetDateTime;
use zip::write::SimpleFileOptions;

/// How long an export stays in the bucket (the `exports` lifecycle rule in
/// template.yaml says the same).
pub const EXPORT_LIFETIME: time::Duration = time::Duration::days(7);

/// Written in place of a sealed credential.
pub const WITHHELD: &str = "(sealed credential, not exported)";

/// Items handled between two progress updates on the task.
const PROGRESS_EVERY: u64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Find(#[from] crate::person::FindError),
    #[error("writing the export file: {0}")]
    File(#[from] std::io::Error),
    #[error("packing the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing a CSV file: {0}")]
    Csv(#[from] csv::Error),
    #[error("reading or storing an object: {0}")]
    Bucket(String),
    #[error("the workspace is gone")]
    NoWorkspace,
    #[error("opening a sealed note: {0}")]
    Sealing(String),
}

pub struct Exporter<'a> {
    pub scoped: &'a ScopedTable,
    pub sealer: &'a Sealer,
    pub objects: &'a ScopedBucket,
    pub audit: &'a AuditLog,
    pub now: OffsetDateTime,
}

/// A finished export: its file and what it holds, by kind.
pub struct Exported {
    pub file: ExportFile,
    pub counts: BTreeMap<String, u64>,
}

/// A zip being written to a temporary file, removed however the export ends.
struct Package {
    dir: TempDir,
    zip: zip::ZipWriter<BufWriter<File>>,
    files: u32,
}

impl Package {
    fn create(task_id: &str) -> Result<Self, ExportError> {
        let dir = std::env::temp_dir().join(format!("tern-export-{task_id}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let file = File::create(dir.join("export.zip"));
        let file = match file {
            Ok(file) => file,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        };
        Ok(Self { dir: TempDir(dir), zip: zip::ZipWriter::new(BufWriter::new(file)), files: 0 })
    }

    fn start(&mut self, name: &str) -> Result<(), ExportError> {
        let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
        self.zip.start_file(name, options)?;
        self.files += 1;
        Ok(())
    }

    fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), ExportError> {
        self.start(name)?;
        self.zip.write_all(bytes)?;
        Ok(())
    }

    fn add_file(&mut self, name: &str, path: &Path) -> Result<(), ExportError> {
        self.start(name)?;
        std::io::copy(&mut File::open(path)?, &mut self.zip)?;
        Ok(())
    }

    fn scratch(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// Finishes the zip: its path, size and number of files, and the directory
    /// that holds it (removed when dropped).
    fn finish(self) -> Result<(PathBuf, u64, u32, TempDir), ExportError> {
        let Package { dir, zip, files } = self;
        let mut writer = zip.finish()?;
        writer.flush()?;
        let bytes = writer.stream_position()?;
        Ok((dir.0.join("export.zip"), bytes, files, dir))
    }
}

/// The export's temporary directory, removed however the export ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Replaces every sealed value (`{key_blob, ciphertext}`) in `value` with [`WITHHELD`].
pub fn withhold_sealed(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.len() == 2 && map.contains_key("key_blob") && map.contains_key("ciphertext") {
                *value = serde_json::Value::String(WITHHELD.into());
            } else {
                map.values_mut().for_each(withhold_sealed);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(withhold_sealed),
        _ => {}
    }
}

fn iso(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn iso_ms(ms: i64) -> String {
    iso(ms.div_euclid(1000))
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// A name safe inside a zip: no directories, no control characters.
fn safe_file_name(name: &str) -> String {
    let cleaned: String = name.chars().map(|c| if c.is_control() || matches!(c, '/' | '\\' | ':') { '_' } else { c }).collect();
    let trimmed = cleaned.trim_matches(['.', ' ']);
    if trimmed.is_empty() { "file".into() } else { trimmed.chars().take(120).collect() }
}

/// The CSV files of a workspace export, written alongside the JSON lines. Every
/// table goes through the spreadsheet writer: inbound From and Subject, company
/// facts read from websites and contact fields are other people's text, and a cell
/// starting with `=`, `+`, `-` or `@` would run as a formula where the file is opened.
struct Tables {
    contacts: SpreadsheetWriter<File>,
    companies: SpreadsheetWriter<File>,
    messages: SpreadsheetWriter<File>,
    sequences: SpreadsheetWriter<File>,
    custom_fields: Vec<String>,
    /// Contact id → address, to name the recipient of each sent message.
    addresses: HashMap<String, String>,
    sequence_names: HashMap<String, String>,
}

impl Tables {
    const FILES: [&'static str; 4] = ["contacts.csv", "companies.csv", "messages.csv", "sequences.csv"];

    fn create(package: &Package, workspace: &Workspace) -> Result<Self, ExportError> {
        let writer = |name: &str| SpreadsheetWriter::create(package.scratch(name));
        let custom_fields: Vec<String> = workspace.custom_fields.iter().cloned().collect();
        let mut contacts = writer("contacts.csv")?;
        let mut header = vec![
            "id",
            "email",
            "first_name",
            "last_name",
            "company",
            "domain",
            "title",
            "timezone",
            "verification",
            "first_line",
            "created_at",
            "updated_at",
        ];
        header.extend(custom_fields.iter().map(String::as_str));
        contacts.write_record(&header)?;
        let mut companies = writer("companies.csv")?;
        companies.write_record([
            "domain",
            "website",
            "status",
            "name",
            "description",
            "industries",
            "country",
            "employees",
            "pages_fetched",
            "finished_at",
            "failure",
        ])?;
        let mut messages = writer("messages.csv")?;
        messages.write_record([
            "direction",
            "id",
            "at",
            "state",
            "from",
            "to",
            "subject",
            "message_id",
            "sequence",
            "step",
            "classification",
            "reason",
            "effect",
        ])?;
        let mut sequences = writer("sequences.csv")?;
        sequences.write_record([
            "id",
            "name",
            "mailbox_id",
            "steps",
            "timezone",
            "use_contact_timezone",
            "stop_company_on_reply",
            "created_at",
            "updated_at",
        ])?;
        Ok(Self { contacts, companies, messages, sequences, custom_fields, addresses: HashMap::new(), sequence_names: HashMap::new() })
    }

    /// Adds the item's row to its table, if its kind has one.
    fn add(&mut self, kind: &str, fields: &serde_json::Value) -> Result<(), ExportError> {
        let decode = |e: serde_json::Error| ExportError::Csv(csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)));
        match kind {
            "CONTACT" => {
                let c: Contact = serde_json::from_value(fields.clone()).map_err(decode)?;
                self.addresses.insert(c.id.clone(), c.email.clone());
                let verification = c
                    .verification
                    .as_ref()
                    .map(|v| serde_json::to_value(v.result).ok().and_then(|r| r.as_str().map(str::to_string)).unwrap_or_default())
                    .unwrap_or_default();
                let mut row = vec![
                    c.id.clone(),
                    c.email.clone(),
                    opt(&c.first_name).into(),
                    opt(&c.last_name).into(),
                    opt(&c.company).into(),
                    opt(&c.domain).into(),
                    opt(&c.title).into(),
                    opt(&c.timezone).into(),
                    verification,
                    opt(&c.first_line).into(),
                    iso(c.created_at),
                    iso(c.updated_at),
                ];
                row.extend(self.custom_fields.iter().map(|f| c.custom.get(f).cloned().unwrap_or_default()));
                self.contacts.write_record(&row)?;
            }
            "ENRICHMENT" => {
                let e: Enrichment = serde_json::from_value(fields.clone()).map_err(decode)?;
                let p = e.profile.as_ref();
                let fact = |f: Option<&tern_extract::Fact<String>>| f.map(|f| f.value.clone()).unwrap_or_default();
                self.companies.write_record([
                    e.domain.clone(),
                    e.website.clone(),
                    serde_json::to_value(e.status).ok().and_then(|s| s.as_str().map(str::to_string)).unwrap_or_default(),
                    fact(p.and_then(|p| p.name.as_ref())),
                    fact(p.and_then(|p| p.description.as_ref())),
                    p.map(|p| p.industries.iter().map(|i| i.value.as_str()).collect::<Vec<_>>().join("; ")).unwrap_or_default(),
                    fact(p.and_then(|p| p.country.as_ref())),
                    p.and_then(|p| p.employees.as_ref())
                        .and_then(|e| serde_json::to_value(e.value).ok())
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    e.pages_fetched.to_string(),
                    e.finished_at.map(iso).unwrap_or_default(),
                    opt(&e.failure).into(),
                ])?;
            }
            "SEQUENCE" => {
                let s: Sequence = serde_json::from_value(fields.clone()).map_err(decode)?;
                self.sequence_names.insert(s.id.clone(), s.name.clone());
                self.sequences.write_record([
                    s.id.clone(),
                    s.name.clone(),
                    s.mailbox_id.clone(),
                    s.steps.len().to_string(),
                    opt(&s.timezone).into(),
                    s.use_contact_timezone.to_string(),
                    s.stop_company_on_reply.to_string(),
                    iso(s.created_at),
                    iso(s.updated_at),
                ])?;
            }
            "INBOUND" => {
                let m: InboundMessage = serde_json::from_value(fields.clone()).map_err(decode)?;
                let at = m.received_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
                let state = serde_json::to_value(m.status).ok().and_then(|s| s.as_str().map(str::to_string)).unwrap_or_default();
                self.messages.write_record([
                    "inbound",
                    &m.id,
                    &at,
                    &state,
                    opt(&m.from),
                    "",
                    opt(&m.subject),
                    opt(&m.message_id),
                    "",
                    "",
                    opt(&m.kind),
                    opt(&m.reason),
                    opt(&m.effect),
                ])?;
            }
            "SEND" => {
                let s: SendRecord = serde_json::from_value(fields.clone()).map_err(decode)?;
                let (state, at) = match &s.state {
                    SendState::Sent { sent_at, .. } => ("sent", *sent_at),
                    SendState::Failed { .. } => ("failed", s.updated_at),
                    SendState::Parked { parked_at, .. } => ("parked", *parked_at),
                    SendState::Claimed { .. } | SendState::Sending { .. } => ("sending", s.claimed_at),
                };
                let sequence_id = s.enrollment_id.split_once('.').map(|(seq, _)| seq).unwrap_or_default();
                let sequence = self.sequence_names.get(sequence_id).cloned().unwrap_or_else(|| sequence_id.to_string());
                let to = self.addresses.get(&s.contact_id).cloned().unwrap_or_default();
                let reason = match &s.state {
                    SendState::Failed { reason } | SendState::Parked { reason, .. } => reason.clone(),
                    _ => String::new(),
                };
                self.messages.write_record([
                    "outbound",
                    &s.id,
                    &iso(at),
                    state,
                    &s.mailbox_id,
                    &to,
                    "",
                    &s.message_id,
                    &sequence,
                    &(s.step + 1).to_string(),
                    "",
                    &reason,
                    "",
                ])?;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<(), ExportError> {
        for mut writer in [self.contacts, self.companies, self.messages, self.sequences] {
            writer.flush()?;
        }
        Ok(())
    }
}

impl Exporter<'_> {
    /// A note's text in clear: notes are the workspace's own writing, exported
    /// readable (unlike credentials, which are withheld).
    async fn note_text(&self, note: &ContactNote) -> Result<String, ExportError> {
        let workspace = self.scoped.workspace();
        let id = workspace.to_string();
        let clear = self
            .sealer
            .open(workspace, CONTACT_NOTE_PURPOSE, &ContactNote::identity(&id, &note.id), &note.text)
            .await
            .map_err(|e| ExportError::Sealing(e.to_string()))?;
        Ok(String::from_utf8_lossy(clear.expose()).into_owned())
    }

    async fn workspace_item(&self) -> Result<Workspace, ExportError> {
        self.scoped.get::<Workspace>(&self.scoped.workspace().to_string()).await?.ok_or(ExportError::NoWorkspace)
    }

    /// The whole workspace. `task` is updated with the progress as pages are read.
    pub async fn workspace(&self, task: &mut PrivacyTask) -> Result<Exported, ExportError> {
        let workspace = self.workspace_item().await?;
        let mut package = Package::create(&task.id)?;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();

        let mut settings = serde_json::json!({
            "workspace": workspace,
            "ideal_customer": self.scoped.get::<IdealCustomerSettings>(IdealCustomerSettings::ID).await?,
            "llm": self.scoped.get::<LlmSettings>(LlmSettings::ID).await?,
        });
        withhold_sealed(&mut settings);
        package.add("workspace.json", &serde_json::to_vec_pretty(&settings).unwrap_or_default())?;
        counts.insert("WORKSPACE".into(), 1);

        let mut tables = Tables::create(&package, &workspace)?;
        let mut attachments: Vec<AttachmentRecord> = Vec::new();
        let mut open_kind: Option<String> = None;
        let mut after: Option<String> = None;
        let mut since_report = 0;
        loop {
            let page = self.scoped.collection_page(after.as_deref()).await?;
            for item in page.items {
                if open_kind.as_deref() != Some(item.kind.as_str()) {
                    package.start(&format!("data/{}.jsonl", item.kind.to_lowercase()))?;
                    open_kind = Some(item.kind.clone());
                }
                tables.add(&item.kind, &item.fields)?;
                if item.kind == "ATTACHMENT"
                    && let Ok(record) = serde_json::from_value::<AttachmentRecord>(item.fields.clone())
                {
                    attachments.push(record);
                }
                let mut fields = item.fields;
                if item.kind == ContactNote::KIND
                    && let Ok(note) = serde_json::from_value::<ContactNote>(fields.clone())
                {
                    fields["text"] = serde_json::Value::String(self.note_text(&note).await?);
                }
                withhold_sealed(&mut fields);
                if let (Some(at), Some(map)) = (item.expires_at, fields.as_object_mut()) {
                    map.insert("expires_at".into(), serde_json::Value::String(iso(at)));
                }
                serde_json::to_writer(&mut package.zip, &fields).map_err(std::io::Error::from)?;
                package.zip.write_all(b"\n")?;
                *counts.entry(item.kind).or_default() += 1;
                since_report += 1;
            }
            if since_report >= PROGRESS_EVERY {
                since_report = 0;
                task.processed_by_kind = counts.clone();
                self.scoped.put(&*task, None).await?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }

        // The audit trail, oldest first.
        let mut audit_csv = SpreadsheetWriter::create(package.scratch("audit.csv"))?;
        audit_csv.write_record(["seq", "at", "actor", "action", "target", "source_ip", "request_id", "parameters"])?;
        package.start("audit.jsonl")?;
        let mut seq = 0;
        loop {
            let entries = self.audit.entries(self.scoped.workspace(), seq, 1000).await?;
            let Some(last) = entries.last() else { break };
            seq = last.seq;
            for entry in &entries {
                serde_json::to_writer(&mut package.zip, entry).map_err(std::io::Error::from)?;
                package.zip.write_all(b"\n")?;
                audit_csv.write_record([
                    entry.seq.to_string(),
                    iso_ms(entry.occurred_at_ms),
                    entry.actor.clone(),
                    entry.action.clone(),
                    opt(&entry.target).into(),
                    opt(&entry.source_ip).into(),
                    opt(&entry.request_id).into(),
                    entry.parameters.to_string(),
                ])?;
                *counts.entry("AUDIT".into()).or_default() += 1;
            }
        }
        audit_csv.flush()?;
        drop(audit_csv);
        tables.finish()?;
        for name in Tables::FILES.into_iter().chain(["audit.csv"]) {
            let path = package.scratch(name);
            package.add_file(name, &path)?;
        }

        for record in &attachments {
            self.add_object(
                &mut package,
                Object::Attachment(&record.id),
                &format!("attachments/{}/{}", record.id, safe_file_name(&record.filename)),
            )
            .await?;
            *counts.entry("ATTACHMENT object".into()).or_default() += 1;
        }
        package.add("README.txt", self.workspace_readme(&workspace, &counts).as_bytes())?;
        let file = self.upload(package, &task.id, &workspace, "tern-workspace-export").await?;
        Ok(Exported { file, counts })
    }

    /// Everything about one person, named by the blind index of their address.
    pub async fn person(&self, task: &PrivacyTask, email_index: &str) -> Result<Exported, ExportError> {
        let workspace = self.workspace_item().await?;
        let holdings = Holdings::find(self.scoped, self.sealer, email_index).await?;
        let sequences: HashMap<String, String> = self.scoped.list_all::<Sequence>().await?.into_iter().map(|s| (s.id, s.name)).collect();
        let mut package = Package::create(&task.id)?;
        let mut counts = BTreeMap::new();
        let mut count = |kind: &str, n: usize| {
            if n > 0 {
                counts.insert(kind.to_string(), n as u64);
            }
        };
        let mut notes = Vec::new();
        for note in &holdings.notes {
            notes.push((note, self.note_text(note).await?));
        }
        count("CONTACT", holdings.contacts.len());
        count("CONTACTNOTE", holdings.notes.len());
        count("INBOUNDTEXT", holdings.inbound_texts.len());
        count("ENROLLMENT", holdings.enrollments.len());
        count("SEND", holdings.sends.len());
        count("INBOUND", holdings.inbound.len());
        count("SUPPRESSION", usize::from(holdings.suppression.is_some()));
        count("COUNTER", usize::from(holdings.soft_bounces.is_some()));
        count("ENRICHMENT facts", holdings.mentions.iter().map(|m| m.team.len() + m.emails.len()).sum());

        let mut data = serde_json::json!({
            "contacts": holdings.contacts,
            "enrollments": holdings.enrollments,
            "messages_sent": holdings.sends,
            "messages_received": holdings.inbound,
            "text_of_messages_received": holdings.inbound_texts,
            "notes": notes.iter().map(|(note, text)| serde_json::json!({ "written_at": iso(note.created_at), "text": text })).collect::<Vec<_>>(),
            "suppression": holdings.suppression,
            "soft_bounces": holdings.soft_bounces,
            "company_facts_naming_them": holdings.mentions.iter().map(|m| serde_json::json!({
                "company": m.enrichment.domain, "website": m.enrichment.website, "team": m.team, "emails": m.emails,
            })).collect::<Vec<_>>(),
        });
        withhold_sealed(&mut data);
        package.add("person.json", &serde_json::to_vec_pretty(&data).unwrap_or_default())?;
        let notes: Vec<(i64, String)> = notes.into_iter().map(|(note, text)| (note.created_at, text)).collect();
        package.add("README.txt", person_summary(&workspace, &holdings, &notes, &sequences, self.now).as_bytes())?;
        let file = self.upload(package, &task.id, &workspace, "tern-access-request").await?;
        Ok(Exported { file, counts })
    }

    async fn add_object(&self, package: &mut Package, object: Object<'_>, name: &str) -> Result<(), ExportError> {
        // Deleted between the listing and now: the record says so in its JSON line.
        let Some(mut body) = self.objects.get_stream(object).await.map_err(|e| ExportError::Bucket(e.to_string()))? else {
            return Ok(());
        };
        package.start(name)?;
        while let Some(chunk) = body.try_next().await.map_err(|e| ExportError::Bucket(e.to_string()))? {
            package.zip.write_all(&chunk)?;
        }
        Ok(())
    }

    async fn upload(&self, package: Package, task_id: &str, workspace: &Workspace, name: &str) -> Result<ExportFile, ExportError> {
        let (path, bytes, files, _dir) = package.finish()?;
        let object = Object::Export(task_id);
        let body = aws_sdk_s3::primitives::ByteStream::from_path(&path).await.map_err(|e| ExportError::Bucket(e.to_string()))?;
        let date = self.now.date();
        let how = Put {
            kms_key_id: &workspace.kms_key_id,
            content_type: Some("application/zip"),
            content_disposition: Some(format!("attachment; filename=\"{name}-{date}.zip\"")),
        };
        self.objects.put(object, body, how).await.map_err(|e| ExportError::Bucket(e.to_string()))?;
        let key = self.objects.key(object);
        Ok(ExportFile { key, bytes, files, expires_at: (self.now + EXPORT_LIFETIME).unix_timestamp() })
    }

    fn workspace_readme(&self, workspace: &Workspace, counts: &BTreeMap<String, u64>) -> String {
        let mut text = format!(
            "Tern export of the workspace \"{}\" ({})\nMade {} (UTC).\n\n",
            workspace.name,
            workspace.id,
            iso(self.now.unix_timestamp())
        );
        text.push_str(
            "workspace.json        the workspace's settings, ideal customer and model settings\n\
             data/<kind>.jsonl     every item the workspace holds, one JSON object per line, as stored\n\
             audit.jsonl           the audit trail, hash-chained (verify it with the API's audit verify route)\n\
             contacts.csv          contacts, one row each, custom fields as columns\n\
             companies.csv         enriched companies\n\
             messages.csv          metadata of every message sent and received (no bodies)\n\
             sequences.csv         sequences\n\
             audit.csv             the audit trail as a table\n\
             attachments/          template attachments as uploaded\n\n",
        );
        text.push_str("Items in this export, by kind:\n");
        for (kind, n) in counts {
            text.push_str(&format!("  {kind:<20} {n}\n"));
        }
        text.push_str(&format!(
            "\nNot exported: mailbox passwords and model API keys (shown as \"{WITHHELD}\"), the \
             workspace's blind-index key and inbound-webhook secret, API key secrets (never stored), \
             and operational counters (send limits, monthly enrichment usage, address lookups) that \
             only repeat what the items above say. Received e-mail is kept as metadata and a short \
             snippet only; full bodies are never stored.\n"
        ));
        text
    }
}

/// The person-readable part of a subject-access export.
fn person_summary(
    workspace: &Workspace,
    h: &Holdings,
    notes: &[(i64, String)],
    sequences: &HashMap<String, String>,
    now: OffsetDateTime,
) -> String {
    let mut t = String::new();
    let address = h.contacts.first().map(|c| c.email.as_str()).unwrap_or("the address asked about");
    t.push_str(&format!("What the workspace \"{}\" holds about {address}\n", workspace.name));
    t.push_str(&format!("Prepared {} (UTC) by Tern, the service the workspace uses to send e-mail.\n\n", iso(now.unix_timestamp())));
    if h.contacts.is_empty() && h.enrollments.is_empty() && h.inbound.is_empty() && h.suppression.is_none() {
        t.push_str("Nothing. The workspace holds no data about this address.\n");
        return t;
    }
    for c in &h.contacts {
        t.push_str("Contact record\n");
        let name = [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        for (label, value) in [
            ("E-mail address", Some(c.email.clone())),
            ("Name", Some(name).filter(|n| !n.is_empty())),
            ("Company", c.company.clone()),
            ("Company domain", c.domain.clone()),
            ("Job title", c.title.clone()),
            ("Time zone", c.timezone.clone()),
            ("Personal first line", c.first_line.clone()),
            ("Added", Some(iso(c.created_at))),
        ] {
            if let Some(value) = value {
                t.push_str(&format!("  {label}: {value}\n"));
            }
        }
        for (field, value) in &c.custom {
            t.push_str(&format!("  {field}: {value}\n"));
        }
        if let Some(v) = &c.verification {
            t.push_str(&format!(
                "  Address check: {} on {}\n",
                serde_json::to_value(v.result).ok().and_then(|r| r.as_str().map(str::to_string)).unwrap_or_default(),
                iso(v.checked_at)
            ));
        }
        t.push('\n');
    }
    if !h.enrollments.is_empty() {
        t.push_str("E-mail sequences\n");
        for e in &h.enrollments {
            let name = sequences.get(&e.sequence_id).map(String::as_str).unwrap_or("(a deleted sequence)");
            let state = serde_json::to_value(e.machine.state).ok().map(|s| s.to_string()).unwrap_or_default();
            t.push_str(&format!("  \"{name}\", enrolled {}, state {state}\n", iso(e.enrolled_at)));
        }
        t.push('\n');
    }
    if !h.sends.is_empty() {
        t.push_str("E-mails sent to you\n");
        for s in &h.sends {
            if let SendState::Sent { sent_at, .. } = s.state {
                t.push_str(&format!("  {} step {} (Message-ID {})\n", iso(sent_at), s.step + 1, s.message_id));
            }
        }
        t.push('\n');
    }
    if !h.inbound.is_empty() {
        t.push_str("E-mails received from you (metadata and the first lines only)\n");
        for m in &h.inbound {
            let at = m.received_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            t.push_str(&format!("  {at} \"{}\", read as {}\n", opt(&m.subject), opt(&m.kind)));
            if let Some(snippet) = h.inbound_texts.iter().find(|text| text.id == m.id).and_then(|text| text.snippet.as_deref()) {
                t.push_str(&format!("    \"{}\"\n", snippet.replace('\n', " ")));
            }
        }
        t.push('\n');
    }
    if !h.mentions.is_empty() {
        t.push_str("Facts about you read from your company's public website\n");
        for m in &h.mentions {
            for member in &m.team {
                t.push_str(&format!(
                    "  {} {} (from {})\n",
                    member.value.name,
                    member.value.position.as_deref().unwrap_or(""),
                    member.source
                ));
            }
            for email in &m.emails {
                t.push_str(&format!("  {} (from {})\n", email.value, email.source));
            }
        }
        t.push('\n');
    }
    if !notes.is_empty() {
        t.push_str("Notes the workspace's team wrote about you\n");
        for (at, text) in notes {
            t.push_str(&format!("  {}: {text}\n", iso(*at)));
        }
        t.push('\n');
    }
    if let Some(s) = &h.suppression {
        let reason = serde_json::to_value(s.reason).ok().and_then(|r| r.as_str().map(str::to_string)).unwrap_or_default();
        t.push_str(&format!(
            "Do-not-contact entry since {} (reason: {reason}): no e-mail is sent to this address.\n\n",
            iso(s.suppressed_at)
        ));
    }
    t.push_str("The same data, complete and machine-readable, is in person.json.\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_are_withheld_wherever_they_are() {
        let mut value = serde_json::json!({
            "name": "Main mailbox",
            "provider": { "smtp": { "host": "mail.example", "password": { "key_blob": "AAAA", "ciphertext": "BBBB" } } },
            "list": [{ "key_blob": "x", "ciphertext": "y" }, { "key_blob": "only one field" }],
        });
        withhold_sealed(&mut value);
        assert_eq!(value["provider"]["smtp"]["password"], WITHHELD);
        assert_eq!(value["list"][0], WITHHELD);
        assert_eq!(value["list"][1]["key_blob"], "only one field", "not a sealed value: kept");
        assert_eq!(value["name"], "Main mailbox");
    }

    #[test]
    fn attachment_names_cannot_escape_their_folder() {
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name("report\u{0}.pdf"), "report_.pdf");
        assert_eq!(safe_file_name(".."), "file");
        assert_eq!(safe_file_name("Angebot 2027.pdf"), "Angebot 2027.pdf");
    }
}
