//! The posture reports in the stack's S3 bucket: written under
//! `reports/<date>/`, and the earlier summaries read back for the trends.

use super::service_failure;
use crate::ports::{BoxFuture, ReportStore, ServiceFailure};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

/// The folder every report is written under.
pub const PREFIX: &str = "reports/";

pub struct S3Reports {
    client: Client,
    bucket: String,
}

impl S3Reports {
    pub fn new(client: Client, bucket: impl Into<String>) -> S3Reports {
        S3Reports {
            client,
            bucket: bucket.into(),
        }
    }
}

impl ReportStore for S3Reports {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async move {
            // The bucket's default encryption (the stack's KMS key) applies.
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| service_failure("S3", &e))?;
            Ok(())
        })
    }

    /// `ListObjectsV2` with the delimiter `/`: one common prefix per
    /// report folder, every page (Amazon S3 API Reference, ListObjectsV2:
    /// keys and common prefixes are returned in UTF-8 binary order, which
    /// for `YYYY-MM-DD` is the order of the dates).
    fn report_dates(&self) -> BoxFuture<'_, Result<Vec<String>, ServiceFailure>> {
        Box::pin(async move {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(PREFIX)
                .delimiter("/")
                .into_paginator()
                .send();
            let mut dates = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| service_failure("S3", &e))?;
                for prefix in page.common_prefixes.unwrap_or_default() {
                    if let Some(date) = prefix
                        .prefix
                        .as_deref()
                        .and_then(|p| p.strip_prefix(PREFIX))
                        .and_then(|p| p.strip_suffix('/'))
                    {
                        dates.push(date.to_string());
                    }
                }
            }
            dates.sort();
            Ok(dates)
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ServiceFailure>> {
        Box::pin(async move {
            let output = match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    if matches!(error.as_service_error(), Some(GetObjectError::NoSuchKey(_))) {
                        return Ok(None);
                    }
                    return Err(service_failure("S3", &error));
                }
            };
            let body = output.body.collect().await.map_err(|e| ServiceFailure {
                service: "S3",
                code: "ReadBody".into(),
                message: e.to_string(),
                transient: true,
            })?;
            Ok(Some(body.into_bytes().to_vec()))
        })
    }
}
