//! CVE storms counted in a DynamoDB table with a string partition key `pk`
//! and TTL on `expires_at` (the dedup table's shape, so `STORM_TABLE_NAME`
//! may name it). Per vulnerability and window:
//!
//! - `storm#<ID>#<window>`: string sets `images` (12-hex-digit image
//!   hashes), `repos` (12-hex-digit hashes of `account|region|repository`)
//!   and `accounts`, grown with `ADD` (atomic, and a value added twice is
//!   one); `alerted_at`, `said`, `said_at` for who alerts, claimed with
//!   conditional writes.
//! - `storm#<ID>#<window>#r#<repository hash>`: the repository's key
//!   (`repo`), its owner (`owner`, at most 64 characters) and its `images`
//!   and `running` sets, for the alert's list and its owners.
//!
//! An item is at most 400 KB, names and values counted (Amazon DynamoDB
//! Developer Guide, "Service, account, and table quotas in Amazon
//! DynamoDB", item size). Every set is therefore capped, and each write
//! adds at most [`CHUNK`] values under a condition that the set has room
//! for them: the main item holds at most 20,000 + 4,000 + 4,000 values of
//! 12 characters (about 340 KB), a repository's item 2 × 12,000 (about
//! 290 KB). Past a cap the storm is counted as at least that many, and no
//! write ever fails for the item's size.

use super::dynamodb::{KEY, TTL_ATTRIBUTE};
use super::service_failure;
use crate::domain::storm::Outbreak;
use crate::ports::{BoxFuture, Claim, ServiceFailure, StormState, StormStore};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// Images a storm's item holds at most (12 bytes each). Past it the storm
/// is counted as at least this many (the alert says so) and nothing fails.
pub const MAX_IMAGES: u64 = 20_000;
/// Repositories (as 12-hex-digit hashes) a storm's item holds at most.
pub const MAX_REPOSITORIES: u64 = 4_000;
/// Accounts (12 digits) a storm's item holds at most.
pub const MAX_ACCOUNTS: u64 = 4_000;
/// Images, and running images, a repository's item holds at most.
pub const MAX_REPOSITORY_IMAGES: u64 = 12_000;
/// Values one write adds to a set at most, so that a set with room for
/// them never passes its cap.
pub const CHUNK: usize = 1_000;

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

/// How many values a set may hold before a write of `adding` more: the
/// write's condition, so that the set never passes `cap`.
fn room(cap: u64, adding: usize) -> i64 {
    cap as i64 - adding as i64
}

/// The window's counts as the storm's item holds them.
fn state_of(item: &HashMap<String, AttributeValue>, refused: bool) -> StormState {
    StormState {
        images: set_len(item, "images"),
        repositories: item
            .get("repos")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default(),
        accounts: set_len(item, "accounts"),
        alerted: item.contains_key("alerted_at"),
        said: num(item, "said").map_or(0, |n| n.max(0) as u64),
        said_at: num(item, "said_at"),
        full: refused || set_len(item, "images") >= MAX_IMAGES,
    }
}

impl DynamoStorms {
    /// The repository's images and running images, in chunks under the
    /// repository item's cap; a full item takes no more (its counts are
    /// then a floor).
    async fn add_to_repository(
        &self,
        key: &str,
        repository: &str,
        owner: &str,
        images: &[String],
        running: &[String],
        expires_at: i64,
    ) -> Result<(), ServiceFailure> {
        let item = format!(
            "{key}#r#{}",
            crate::domain::storm::repository_hash(repository)
        );
        // The usual batch: both sets in one write, each under its cap.
        if images.len() <= CHUNK && running.len() <= CHUNK {
            let mut update = self
                .update(&item)
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
                .expression_attribute_values(":i", set(images.to_vec()))
                .expression_attribute_values(":repo", AttributeValue::S(repository.to_string()))
                .expression_attribute_values(
                    ":room_i",
                    number(room(MAX_REPOSITORY_IMAGES, images.len())),
                )
                .expression_attribute_values(":e", number(expires_at));
            update = if running.is_empty() {
                update
                    .update_expression("ADD images :i SET #ttl = :e, repo = :repo, #owner = :owner")
                    .condition_expression("attribute_not_exists(images) OR size(images) <= :room_i")
            } else {
                update
                    .update_expression(
                        "ADD images :i, running :r SET #ttl = :e, repo = :repo, #owner = :owner",
                    )
                    .condition_expression(
                        "(attribute_not_exists(images) OR size(images) <= :room_i) AND \
                         (attribute_not_exists(running) OR size(running) <= :room_r)",
                    )
                    .expression_attribute_values(":r", set(running.to_vec()))
                    .expression_attribute_values(
                        ":room_r",
                        number(room(MAX_REPOSITORY_IMAGES, running.len())),
                    )
            };
            if claimed(update.send().await.map(|o| (o, ())))?.is_some() {
                return Ok(());
            }
            // A set without room: each set on its own, as far as it goes.
        }
        for (name, values) in [("images", images), ("running", running)] {
            for chunk in values.chunks(CHUNK) {
                let added = self
                    .update(&item)
                    .update_expression(format!(
                        "ADD {name} :v SET #ttl = :e, repo = :repo, #owner = :owner"
                    ))
                    .condition_expression(format!(
                        "attribute_not_exists({name}) OR size({name}) <= :room"
                    ))
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_names("#owner", "owner")
                    .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
                    .expression_attribute_values(":v", set(chunk.to_vec()))
                    .expression_attribute_values(":repo", AttributeValue::S(repository.to_string()))
                    .expression_attribute_values(
                        ":room",
                        number(room(MAX_REPOSITORY_IMAGES, chunk.len())),
                    )
                    .expression_attribute_values(":e", number(expires_at))
                    .send()
                    .await;
                if claimed(added.map(|o| (o, ())))?.is_none() {
                    break;
                }
            }
        }
        Ok(())
    }
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
                let owner = outbreak
                    .owner_of(repository)
                    .unwrap_or(crate::domain::owner::UNOWNED);
                self.add_to_repository(key, repository, owner, images, running, expires_at)
                    .await?;
            }
            let images = outbreak.image_hashes();
            let repos: Vec<String> = repositories
                .keys()
                .map(|r| crate::domain::storm::repository_hash(r))
                .collect();
            let accounts: Vec<String> = outbreak.accounts().into_iter().collect();
            let sets = [
                ("images", images, MAX_IMAGES),
                ("repos", repos, MAX_REPOSITORIES),
                ("accounts", accounts, MAX_ACCOUNTS),
            ];
            // The usual batch: one write of all three sets, answering the
            // counts after it.
            if sets.iter().all(|(_, values, _)| values.len() <= CHUNK) {
                let mut update = self
                    .update(key)
                    .update_expression(
                        "ADD images :images, repos :repos, accounts :accounts SET #ttl = :e",
                    )
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(":e", number(expires_at))
                    .return_values(ReturnValue::AllNew);
                let mut conditions = Vec::new();
                for (name, values, cap) in &sets {
                    update = update
                        .expression_attribute_values(format!(":{name}"), set(values.clone()))
                        .expression_attribute_values(
                            format!(":room_{name}"),
                            number(room(*cap, values.len())),
                        );
                    conditions.push(format!(
                        "(attribute_not_exists({name}) OR size({name}) <= :room_{name})"
                    ));
                }
                let added = update
                    .condition_expression(conditions.join(" AND "))
                    .send()
                    .await;
                if let Some(item) =
                    claimed(added.map(|output| (output.attributes.unwrap_or_default(), ())))?
                {
                    return Ok(state_of(&item, false));
                }
            }
            // A large batch, or a set without room: each set in chunks,
            // each under its own cap; then the counts as they stand.
            let mut full = false;
            for (name, values, cap) in &sets {
                for chunk in values.chunks(CHUNK) {
                    let added = self
                        .update(key)
                        .update_expression(format!("ADD {name} :v SET #ttl = :e"))
                        .condition_expression(format!(
                            "attribute_not_exists({name}) OR size({name}) <= :room"
                        ))
                        .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                        .expression_attribute_values(":v", set(chunk.to_vec()))
                        .expression_attribute_values(":room", number(room(*cap, chunk.len())))
                        .expression_attribute_values(":e", number(expires_at))
                        .send()
                        .await;
                    if claimed(added.map(|o| (o, ())))?.is_none() {
                        // Full: what did not fit is not counted.
                        full |= *name == "images";
                        break;
                    }
                }
            }
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(KEY, Self::key(key))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| service_failure("DynamoDB", &e))?
                .item
                .unwrap_or_default();
            Ok(state_of(&item, full))
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
            let keys: Vec<String> = repositories
                .iter()
                .map(|r| format!("{key}#r#{r}"))
                .collect();
            // A repository still unprocessed after the retries is left out
            // of the alert's list (its counts are in the storm's totals).
            let (items, _) = super::dynamodb::batch_get(&self.client, &self.table, &keys).await?;
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                if let Some(repository) = item.get("repo").and_then(|v| v.as_s().ok()) {
                    out.push((
                        repository.clone(),
                        set_len(item, "images"),
                        set_len(item, "running"),
                        item.get("owner").and_then(|v| v.as_s().ok()).cloned(),
                    ));
                }
            }
            Ok(out)
        })
    }

    /// `stormed#<vulnerability>`: an item with only its TTL.
    fn note_alerted<'a>(
        &'a self,
        vulnerability: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async move {
            self.update(&stormed_key(vulnerability))
                .update_expression("SET #ttl = :e")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":e", number(expires_at))
                .send()
                .await
                .map_err(|e| service_failure("DynamoDB", &e))?;
            Ok(())
        })
    }

    fn alerted<'a>(
        &'a self,
        vulnerabilities: &'a [String],
    ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, ServiceFailure>> {
        Box::pin(async move {
            let keys: Vec<String> = vulnerabilities.iter().map(|v| stormed_key(v)).collect();
            let (items, left) =
                super::dynamodb::batch_get(&self.client, &self.table, &keys).await?;
            if !left.is_empty() {
                return Err(ServiceFailure {
                    service: "DynamoDB",
                    code: "ProvisionedThroughputExceededException".into(),
                    message: format!("{} key(s) still unprocessed", left.len()),
                    transient: true,
                });
            }
            Ok(items
                .iter()
                .filter_map(|item| item.get(KEY).and_then(|v| v.as_s().ok()))
                .filter_map(|key| key.strip_prefix("stormed#"))
                .map(str::to_string)
                .collect())
        })
    }
}

/// The item that says a storm of `vulnerability` was alerted.
fn stormed_key(vulnerability: &str) -> String {
    format!("stormed#{}", vulnerability.to_ascii_uppercase())
}
