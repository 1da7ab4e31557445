//! Evidence bytes, behind one object-store interface (`object_store`): a local directory by
//! default, any S3-compatible store in production, memory in tests.
//!
//! Uploads stream into a multipart upload and only `finish` makes the object exist; an upload
//! that is interrupted or refused is aborted, so nothing partial is ever stored.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::error::{AssessmentError, Result};

/// Where evidence files live.
#[derive(Clone, Debug)]
pub struct EvidenceStore {
    store: Arc<dyn ObjectStore>,
    location: String,
}

fn storage_error(error: object_store::Error) -> AssessmentError {
    AssessmentError::Internal(format!("evidence store: {error}"))
}

impl EvidenceStore {
    /// Opens `url`: a directory path or `file:///dir` (created if missing), `s3://bucket/prefix`
    /// (credentials, region and endpoint from the standard `AWS_*` environment variables, so a
    /// MinIO or other S3-compatible endpoint works with `AWS_ENDPOINT`), or `memory:` (tests).
    pub fn open(url: &str) -> Result<EvidenceStore> {
        let store: Arc<dyn ObjectStore> = if url == "memory:" {
            Arc::new(object_store::memory::InMemory::new())
        } else if url.starts_with("s3://") {
            Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| AssessmentError::Internal(format!("cannot open {url}: {e}")))?,
            )
        } else {
            let dir = url.strip_prefix("file://").unwrap_or(url);
            std::fs::create_dir_all(dir)
                .map_err(|e| AssessmentError::Internal(format!("cannot create {dir}: {e}")))?;
            Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| AssessmentError::Internal(format!("cannot open {dir}: {e}")))?,
            )
        };
        Ok(EvidenceStore {
            store,
            location: url.to_owned(),
        })
    }

    /// Where it is, for start-up messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Starts an upload to `key`.
    pub async fn begin(&self, key: &str) -> Result<Upload> {
        let upload = self
            .store
            .put_multipart(&Path::from(key))
            .await
            .map_err(storage_error)?;
        Ok(Upload {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, 5 << 20)),
        })
    }

    /// The object's bytes, in chunks.
    pub async fn get(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let result = self
            .store
            .get(&Path::from(key))
            .await
            .map_err(storage_error)?;
        Ok(result
            .into_stream()
            .map(|chunk| chunk.map_err(storage_error))
            .boxed())
    }

    /// Removes an object (missing is fine).
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }
}

/// An upload in progress. Dropping it without [`Upload::finish`] leaves no object, but an
/// explicit [`Upload::abort`] also releases the store's parts at once.
#[derive(Debug)]
pub struct Upload {
    writer: Option<WriteMultipart>,
}

impl Upload {
    /// Appends bytes (buffered into parts).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let writer = self
            .writer
            .as_mut()
            .expect("an upload is written before it finishes");
        writer.wait_for_capacity(4).await.map_err(storage_error)?;
        writer.write(bytes);
        Ok(())
    }

    /// Makes the object exist.
    pub async fn finish(mut self) -> Result<()> {
        let writer = self.writer.take().expect("finished once");
        writer.finish().await.map_err(storage_error)?;
        Ok(())
    }

    /// Discards everything written.
    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.abort().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(store: &EvidenceStore, key: &str) -> Vec<u8> {
        let mut stream = store.get(key).await.unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_finished_upload_reads_back_and_an_aborted_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::open(dir.path().to_str().unwrap()).unwrap();
        let mut upload = store.begin("e/one").await.unwrap();
        upload.write(b"hello ").await.unwrap();
        upload.write(&vec![7u8; 6 << 20]).await.unwrap();
        upload.finish().await.unwrap();
        let bytes = read_all(&store, "e/one").await;
        assert_eq!(bytes.len(), 6 + (6 << 20));
        let mut partial = store.begin("e/two").await.unwrap();
        partial.write(b"half a file").await.unwrap();
        partial.abort().await;
        assert!(store.get("e/two").await.is_err());
        let leftovers: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| !p.ends_with("one"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "nothing partial is kept: {leftovers:?}"
        );
    }

    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
        out
    }
}
