//! CVE storms counted in a DynamoDB table with a string partition key `pk`
//! and TTL on `expires_at` (the dedup table's shape, so `STORM_TABLE_NAME`
//! may name it). Per vulnerability and window:
//!
//! - `storm#<ID>#<window>`: string sets `images` (12-hex-digit image
//!   hashes), `repos` and `accounts`, grown with `ADD` (atomic, and an
//!   image added twice is one); `alerted_at`, `said`, `said_at` for who
//!   alerts, claimed with conditional writes.
//! - `storm#<ID>#<window>#<account|region|repository>`: the repository's
//!   `images` and `running` sets, for the alert's list.
//!
//! 5,000 images take about 80 KB of the 400 KB an item may hold.

use super::dynamodb::{KEY, TTL_ATTRIBUTE};
use super::service_failure;
use crate::domain::storm::Outbreak;
use crate::ports::{BoxFuture, Claim, ServiceFailure, StormState, StormStore};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// BatchGetItem reads at most 100 keys a call.
const BATCH_GET: usize = 100;
/// Images a storm's item holds at most: 12-hex-digit hashes take about
/// 15 bytes each in a string set, so 20,000 stay well under DynamoDB's
/// 400 KB item limit. Past it the storm is counted as at least this many
/// (the alert says so) and nothing fails.
pub const MAX_IMAGES: u64 = 20_000;

pub struct DynamoStorms {
    client: Client,
    table: String,
}

impl DynamoStorms {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStorms {
        DynamoStorms {
            client,
            table: table.into(),
        }
    }

    fn key(key: &str) -> AttributeValue {
        AttributeValue::S(key.to_string())
    }

    /// An update of the item `key`.
    fn update(
        &self,
        key: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        super::dynamodb::update_item(&self.client, &self.table, key)
    }

    /// Sets `set` on the item if `condition` holds: who claims, wins.
    async fn claim_when(
        &self,
        key: &str,
        set: &str,
        condition: &str,
        values: Vec<(&'static str, i64)>,
    ) -> Result<Claim, ServiceFailure> {
        let mut update = self
            .update(key)
            .update_expression(set)
            .condition_expression(condition);
        for (name, value) in values {
            update = update.expression_attribute_values(name, number(value));
        }
        claim(update.send().await)
    }
}

fn set(values: Vec<String>) -> AttributeValue {
    AttributeValue::Ss(values)
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn set_len(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_ss().ok())
        .map_or(0, |s| s.len() as u64)
}

fn num(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

type UpdateResult<T> = Result<
    T,
    aws_sdk_dynamodb::error::SdkError<
        UpdateItemError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
>;

/// A conditional update: `Some` when it was made, `None` when its condition
/// failed (an answer, not an error).
fn claimed<T, U>(result: UpdateResult<(T, U)>) -> Result<Option<T>, ServiceFailure> {
    match result {
        Ok((value, _)) => Ok(Some(value)),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(UpdateItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(service_failure("DynamoDB", &e)),
    }
}

fn claim(
    result: UpdateResult<aws_sdk_dynamodb::operation::update_item::UpdateItemOutput>,
) -> Result<Claim, ServiceFailure> {
    Ok(match claimed(result.map(|o| (o, ())))? {
        Some(_) => Claim::Won,
        None => Claim::Lost,
    })
}

impl StormStore for DynamoStorms {
    fn record<'a>(
        &'a self,
        key: &'a str,
        outbreak: &'a Outbreak,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<StormState, ServiceFailure>> {
        Box::pin(async move {
            let repositories = outbreak.by_repository();
            for (repository, (images, running)) in &repositories {
                let mut update = self
                    .update(&format!("{key}#{repository}"))
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(":i", set(images.clone()))
                    .expression_attribute_values(":e", number(expires_at));
                update = if running.is_empty() {
                    update.update_expression("ADD images :i SET #ttl = :e")
                } else {
                    update
                        .update_expression("ADD images :i, running :r SET #ttl = :e")
                        .expression_attribute_values(":r", set(running.clone()))
                };
                update
                    .send()
                    .await
                    .map_err(|e| service_failure("DynamoDB", &e))?;
            }
            let added = self
                .update(key)
                .update_expression("ADD images :i, repos :r, accounts :a SET #ttl = :e")
                .condition_expression("attribute_not_exists(images) OR size(images) < :cap")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":i", set(outbreak.image_hashes()))
                .expression_attribute_values(":r", set(repositories.keys().cloned().collect()))
                .expression_attribute_values(":a", set(outbreak.accounts().into_iter().collect()))
                .expression_attribute_values(":e", number(expires_at))
                .expression_attribute_values(":cap", number(MAX_IMAGES as i64))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            let item = match claimed(added.map(|output| {
                // Carried through `claimed` for its reading of the condition.
                (output.attributes.unwrap_or_default(), ())
            })) {
                Ok(Some(item)) => item,
                Ok(None) => {
                    // Full: the storm is read as it is, no longer added to.
                    self.client
                        .get_item()
                        .table_name(&self.table)
                        .key(KEY, Self::key(key))
                        .consistent_read(true)
                        .send()
                        .await
                        .map_err(|e| service_failure("DynamoDB", &e))?
                        .item
                        .unwrap_or_default()
                }
                Err(failure) => return Err(failure),
            };
            Ok(StormState {
                images: set_len(&item, "images"),
                repositories: item
                    .get("repos")
                    .and_then(|v| v.as_ss().ok())
                    .cloned()
                    .unwrap_or_default(),
                accounts: set_len(&item, "accounts"),
                alerted: item.contains_key("alerted_at"),
                said: num(&item, "said").map_or(0, |n| n.max(0) as u64),
                said_at: num(&item, "said_at"),
                full: set_len(&item, "images") >= MAX_IMAGES,
            })
        })
    }

    fn claim_alert<'a>(
        &'a self,
        key: &'a str,
        images: u64,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>> {
        Box::pin(self.claim_when(
            key,
            "SET alerted_at = :now, said = :n, said_at = :now",
            "attribute_not_exists(alerted_at)",
            vec![(":now", now), (":n", images as i64)],
        ))
    }

    fn release_alert<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async move {
            self.update(key)
                .update_expression("REMOVE alerted_at, said, said_at")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| service_failure("DynamoDB", &e))
        })
    }

    fn claim_follow_up<'a>(
        &'a self,
        key: &'a str,
        said: u64,
        images: u64,
        not_after: i64,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>> {
        Box::pin(self.claim_when(
            key,
            "SET said = :n, said_at = :now",
            "said = :said AND said_at <= :before",
            vec![
                (":now", now),
                (":n", images as i64),
                (":said", said as i64),
                (":before", not_after),
            ],
        ))
    }

    fn repositories<'a>(
        &'a self,
        key: &'a str,
        repositories: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<crate::ports::RepositoryStormCount>, ServiceFailure>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(repositories.len());
            for chunk in repositories.chunks(BATCH_GET) {
                let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
                    .iter()
                    .map(|r| HashMap::from([(KEY.to_string(), Self::key(&format!("{key}#{r}")))]))
                    .collect();
                // Unprocessed keys (throttling) are asked for again, a few times.
                for _ in 0..5 {
                    if pending.is_empty() {
                        break;
                    }
                    let request = KeysAndAttributes::builder()
                        .set_keys(Some(std::mem::take(&mut pending)))
                        .consistent_read(true)
                        .build()
                        .map_err(|e| ServiceFailure {
                            service: "DynamoDB",
                            code: "InvalidRequest".into(),
                            message: e.to_string(),
                            transient: false,
                        })?;
                    let output = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, request)
                        .send()
                        .await
                        .map_err(|e| service_failure("DynamoDB", &e))?;
                    for item in output
                        .responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default()
                    {
                        let Some(pk) = item.get(KEY).and_then(|v| v.as_s().ok()) else {
                            continue;
                        };
                        let repository = pk
                            .strip_prefix(key)
                            .and_then(|r| r.strip_prefix('#'))
                            .unwrap_or(pk)
                            .to_string();
                        out.push((
                            repository,
                            set_len(&item, "images"),
                            set_len(&item, "running"),
                        ));
                    }
                    pending = output
                        .unprocessed_keys
                        .and_then(|mut u| u.remove(&self.table))
                        .map(|k| k.keys)
                        .unwrap_or_default();
                }
            }
            Ok(out)
        })
    }
}
