//! The one S3 bucket, reached through a workspace scope, as the table is.
//!
//! A [`ScopedBucket`] builds every object key itself from its workspace and a typed
//! [`Object`], so no code outside this module writes a key and no key can name
//! another workspace's object: `<area>/<workspace>/<name>`. The areas are the ones
//! the data inventory lists (`inventory::OBJECTS`) and the deletion sweep empties
//! ([`Object::AREAS`]).
//!
//! The one area that is not a workspace's, where SES receipt rules write incoming
//! mail before the feedback worker routes it, is reached through
//! [`Bucket::ses_inbound`], by name.

use crate::tenant::Tenant;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use tern_domain::ids::WorkspaceId;

/// One of a workspace's objects, by what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object<'a> {
    /// A received message, raw, until it is classified (`inbound/<ws>/<id>.eml`). The
    /// bucket's lifecycle rule on `inbound/` deletes what classify did not.
    InboundRaw(&'a str),
    /// A template's attachment (`attachments/<ws>/<id>`).
    Attachment(&'a str),
    /// A finished export's zip (`exports/<ws>/<task id>.zip`).
    Export(&'a str),
}

impl Object<'_> {
    /// The areas that hold workspaces' objects, each `<area>/<workspace>/…`.
    pub const AREAS: [&'static str; 3] = ["inbound", "attachments", "exports"];

    fn area(&self) -> &'static str {
        match self {
            Object::InboundRaw(_) => "inbound",
            Object::Attachment(_) => "attachments",
            Object::Export(_) => "exports",
        }
    }

    /// The object's key in `workspace`.
    pub fn key(&self, workspace: WorkspaceId) -> String {
        let area = self.area();
        match self {
            Object::InboundRaw(id) => format!("{area}/{workspace}/{}.eml", name(id)),
            Object::Attachment(id) => format!("{area}/{workspace}/{}", name(id)),
            Object::Export(task) => format!("{area}/{workspace}/{}.zip", name(task)),
        }
    }
}

/// An id as a key segment: our ids never hold a `/`, and one that did must not
/// reach into another folder, so it is replaced.
fn name(id: &str) -> std::borrow::Cow<'_, str> {
    if id.contains('/') || id == ".." { std::borrow::Cow::Owned(id.replace(['/', '.'], "_")) } else { std::borrow::Cow::Borrowed(id) }
}

/// Every prefix under which `workspace`'s objects live (the deletion sweep's list; see
/// `inventory::OBJECTS`). `ses-inbound/` is no workspace's: its objects are moved
/// under `inbound/<ws>/` within minutes and expire after two days.
pub fn workspace_prefixes(workspace: &str) -> [String; 3] {
    Object::AREAS.map(|area| format!("{area}/{workspace}/"))
}

/// Where SES receipt rules write incoming mail (the receipt rule's prefix).
pub const SES_INBOUND_PREFIX: &str = "ses-inbound/";

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("S3 is unavailable or refused the request: {0}")]
    Unavailable(String),
    #[error("the object could not be signed for download: {0}")]
    Presign(String),
}

/// How an object is stored: always encrypted under the workspace's own KMS key.
#[derive(Debug, Clone)]
pub struct Put<'a> {
    /// The workspace's key (`Workspace::kms_key_id`).
    pub kms_key_id: &'a str,
    pub content_type: Option<&'a str>,
    pub content_disposition: Option<String>,
}

/// The platform's bucket. Only [`Bucket::scope`] and [`Bucket::ses_inbound`] reach objects.
#[derive(Debug, Clone)]
pub struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    pub fn new(client: aws_sdk_s3::Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The objects of `tenant`.
    pub fn scope(&self, tenant: Tenant) -> ScopedBucket {
        ScopedBucket { bucket: self.clone(), workspace: tenant.workspace() }
    }

    /// SES's landing area: mail for no workspace yet. `key` must lie under
    /// [`SES_INBOUND_PREFIX`] in this bucket; anything else is refused, so a forged
    /// receipt cannot make the worker read or delete another object.
    pub fn ses_inbound(&self, bucket: &str, key: &str) -> Option<SesInboundObject> {
        (bucket == self.name && key.starts_with(SES_INBOUND_PREFIX) && !key.contains(".."))
            .then(|| SesInboundObject { bucket: self.clone(), key: key.to_string() })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BucketError> {
        match self.get_stream(key).await? {
            Some(body) => Ok(Some(body.collect().await.map_err(|e| BucketError::Unavailable(e.to_string()))?.into_bytes().to_vec())),
            None => Ok(None),
        }
    }

    async fn get_stream(&self, key: &str) -> Result<Option<ByteStream>, BucketError> {
        match self.client.get_object().bucket(&self.name).key(key).send().await {
            Ok(object) => Ok(Some(object.body)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(BucketError::Unavailable(crate::worker::error_chain(&e))),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BucketError> {
        self.client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| BucketError::Unavailable(crate::worker::error_chain(&e)))
    }
}

/// One workspace's objects.
#[derive(Debug, Clone)]
pub struct ScopedBucket {
    bucket: Bucket,
    workspace: WorkspaceId,
}

impl ScopedBucket {
    pub fn workspace(&self) -> WorkspaceId {
        self.workspace
    }

    /// The object's key, for records that show where it is.
    pub fn key(&self, object: Object<'_>) -> String {
        object.key(self.workspace)
    }

    /// Stores the object, encrypted under the workspace's key (SSE-KMS).
    pub async fn put(&self, object: Object<'_>, body: ByteStream, how: Put<'_>) -> Result<(), BucketError> {
        self.bucket
            .client
            .put_object()
            .bucket(&self.bucket.name)
            .key(self.key(object))
            .body(body)
            .set_content_type(how.content_type.map(String::from))
            .set_content_disposition(how.content_disposition)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(how.kms_key_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| BucketError::Unavailable(crate::worker::error_chain(&e)))
    }

    /// The object's bytes; `None` if it is gone.
    pub async fn get(&self, object: Object<'_>) -> Result<Option<Vec<u8>>, BucketError> {
        self.bucket.get(&self.key(object)).await
    }

    /// The object as a stream (large objects: exports copy attachments through).
    pub async fn get_stream(&self, object: Object<'_>) -> Result<Option<ByteStream>, BucketError> {
        self.bucket.get_stream(&self.key(object)).await
    }

    /// Deletes the object; deleting one that is gone succeeds.
    pub async fn delete(&self, object: Object<'_>) -> Result<(), BucketError> {
        self.bucket.delete(&self.key(object)).await
    }

    /// A link that downloads the object until `signed_at + lifetime`.
    pub async fn presigned_get(
        &self,
        object: Object<'_>,
        signed_at: std::time::SystemTime,
        lifetime: std::time::Duration,
    ) -> Result<String, BucketError> {
        let presigning = aws_sdk_s3::presigning::PresigningConfig::builder()
            .start_time(signed_at)
            .expires_in(lifetime)
            .build()
            .map_err(|e| BucketError::Presign(e.to_string()))?;
        let request = self
            .bucket
            .client
            .get_object()
            .bucket(&self.bucket.name)
            .key(self.key(object))
            .presigned(presigning)
            .await
            .map_err(|e| BucketError::Presign(crate::worker::error_chain(&e)))?;
        Ok(request.uri().to_string())
    }
}

/// A message SES wrote, before it is known whose it is.
#[derive(Debug, Clone)]
pub struct SesInboundObject {
    bucket: Bucket,
    key: String,
}

impl SesInboundObject {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub async fn get(&self) -> Result<Option<Vec<u8>>, BucketError> {
        self.bucket.get(&self.key).await
    }

    pub async fn delete(&self) -> Result<(), BucketError> {
        self.bucket.delete(&self.key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_built_from_the_workspace_and_never_leave_its_folder() {
        let ws = WorkspaceId::generate();
        assert_eq!(Object::InboundRaw("m1").key(ws), format!("inbound/{ws}/m1.eml"));
        assert_eq!(Object::Attachment("a1").key(ws), format!("attachments/{ws}/a1"));
        assert_eq!(Object::Export("t1").key(ws), format!("exports/{ws}/t1.zip"));
        let other = WorkspaceId::generate();
        let escaped = Object::Attachment(&format!("../../attachments/{other}/secret")).key(ws);
        assert!(escaped.starts_with(&format!("attachments/{ws}/")) && escaped.matches('/').count() == 2, "{escaped}");
        assert_eq!(Object::Attachment("..").key(ws), format!("attachments/{ws}/__"));
    }

    #[test]
    fn the_deletion_prefixes_cover_every_area() {
        let ws = WorkspaceId::generate();
        let prefixes = workspace_prefixes(&ws.to_string());
        for object in [Object::InboundRaw("x"), Object::Attachment("x"), Object::Export("x")] {
            assert!(prefixes.iter().any(|p| object.key(ws).starts_with(p)), "{object:?}");
        }
    }
}
