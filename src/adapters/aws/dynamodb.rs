//! What was already alerted, per image, in a DynamoDB table with a string
//! partition key `pk` and TTL on `expires_at`.

use super::service_failure;
use crate::domain::dedup::{Known, Lease, Record};
use crate::ports::{BoxFuture, Claim, DedupStore, ServiceFailure};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

pub const KEY: &str = "pk";

/// An update of the item `key` of `table` (the dedup table's shape, which
/// the storm store shares).
pub fn update_item(
    client: &Client,
    table: &str,
    key: &str,
) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
    client
        .update_item()
        .table_name(table)
        .key(KEY, AttributeValue::S(key.to_string()))
}
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// A claimed item that was never committed expires this long after its
/// lease ends (DynamoDB deletes expired items within a few days, Amazon
/// DynamoDB Developer Guide, "Using time to live").
const CLAIM_TTL_SECONDS: i64 = 86_400;
/// The content id of an alert the alert topic got while chat failed.
pub const ALERT_TOPIC_SENT: &str = "alert_topic_sent";

pub struct DynamoDedup {
    client: Client,
    table: String,
}

impl DynamoDedup {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDedup {
        DynamoDedup {
            client,
            table: table.into(),
        }
    }

    fn update(
        &self,
        key: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        update_item(&self.client, &self.table, key)
            .expression_attribute_names("#lo", "lease_owner")
            .expression_attribute_names("#lu", "lease_until")
    }
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// A failed condition is an answer, not an error.
pub(super) fn condition_failed(
    e: &aws_sdk_dynamodb::error::SdkError<
        UpdateItemError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool {
    matches!(
        e.as_service_error(),
        Some(UpdateItemError::ConditionalCheckFailedException(_))
    )
}

/// BatchGetItem reads at most 100 keys a call.
const BATCH_GET: usize = 100;
/// How many times unprocessed keys are asked for again.
const BATCH_GET_ROUNDS: usize = 5;

/// The items of `keys` (partition key values) in `table`, by consistent
/// `BatchGetItem` calls of at most 100 keys; unprocessed keys (throttling)
/// are asked for again a few times. Returns the items found, and the keys
/// still unprocessed after that.
pub(super) async fn batch_get(
    client: &Client,
    table: &str,
    keys: &[String],
) -> Result<(Vec<HashMap<String, AttributeValue>>, Vec<String>), ServiceFailure> {
    let mut items = Vec::with_capacity(keys.len());
    let mut left = Vec::new();
    for chunk in keys.chunks(BATCH_GET) {
        let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
            .iter()
            .map(|k| HashMap::from([(KEY.to_string(), AttributeValue::S(k.clone()))]))
            .collect();
        for _ in 0..BATCH_GET_ROUNDS {
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
            let output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| service_failure("DynamoDB", &e))?;
            items.extend(
                output
                    .responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default(),
            );
            pending = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        left.extend(
            pending
                .iter()
                .filter_map(|k| k.get(KEY).and_then(|v| v.as_s().ok()).cloned()),
        );
    }
    Ok((items, left))
}

/// A record as the item holds it.
fn record_of(item: &HashMap<String, AttributeValue>) -> Record {
    let num = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
    };
    let known = item
        .get("fp")
        .and_then(|v| v.as_b().ok())
        .map(|b| Known::decode(b.as_ref()))
        .unwrap_or_default();
    let lease = match (
        item.get("lease_owner").and_then(|v| v.as_s().ok()),
        num("lease_until"),
    ) {
        (Some(owner), Some(until)) => Some(Lease {
            owner: owner.clone(),
            until,
        }),
        _ => None,
    };
    // Written as a decimal string: a u64 does not fit DynamoDB's number the
    // way i64 reading expects.
    let alert_topic_sent = item
        .get(ALERT_TOPIC_SENT)
        .and_then(|v| v.as_s().ok())
        .and_then(|s| s.parse::<u64>().ok());
    Record {
        version: num("version").map_or(0, |v| v.max(0) as u64),
        known,
        lease,
        alert_topic_sent,
    }
}

impl DedupStore for DynamoDedup {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, ServiceFailure>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(KEY, AttributeValue::S(key.to_string()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| service_failure("DynamoDB", &e))?;
            Ok(output.item.as_ref().map(record_of))
        })
    }

    fn load_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, Record>, ServiceFailure>> {
        Box::pin(async move {
            let (items, left) = batch_get(&self.client, &self.table, keys).await?;
            let mut records = HashMap::with_capacity(keys.len());
            for item in &items {
                if let Some(key) = item.get(KEY).and_then(|v| v.as_s().ok()) {
                    records.insert(key.clone(), record_of(item));
                }
            }
            // What is still unprocessed is read on its own.
            for key in &left {
                if let Some(record) = self.load(key).await? {
                    records.insert(key.clone(), record);
                }
            }
            Ok(records)
        })
    }

    fn claim<'a>(
        &'a self,
        key: &'a str,
        version: Option<u64>,
        lease: &'a Lease,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>> {
        Box::pin(async move {
            let free = "(attribute_not_exists(#lu) OR #lu < :now)";
            // A new item expires too: a crash between this claim and the
            // commit must not leave an item that never expires. A committed
            // item keeps its own (later) expiry.
            let mut request = self
                .update(key)
                .update_expression(
                    "SET #lo = :owner, #lu = :until, #ttl = if_not_exists(#ttl, :ttl)",
                )
                .expression_attribute_names("#v", "version")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":owner", AttributeValue::S(lease.owner.clone()))
                .expression_attribute_values(":until", number(lease.until))
                .expression_attribute_values(":ttl", number(lease.until + CLAIM_TTL_SECONDS))
                .expression_attribute_values(":now", number(now));
            request = match version {
                Some(v) => request
                    .condition_expression(format!("#v = :v AND {free}"))
                    .expression_attribute_values(":v", number(v as i64)),
                None => {
                    request.condition_expression(format!("attribute_not_exists(#v) AND {free}"))
                }
            };
            match request.send().await {
                Ok(_) => Ok(Claim::Won),
                Err(e) if condition_failed(&e) => Ok(Claim::Lost),
                Err(e) => Err(service_failure("DynamoDB", &e)),
            }
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        alert_topic_sent: Option<u64>,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async move {
            let request = self
                .update(key)
                .condition_expression("#lo = :owner")
                .expression_attribute_names("#sent", ALERT_TOPIC_SENT)
                .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()));
            let request = match alert_topic_sent {
                Some(id) => request
                    .update_expression("SET #sent = :sent REMOVE #lo, #lu")
                    .expression_attribute_values(":sent", AttributeValue::S(id.to_string())),
                None => request.update_expression("REMOVE #lo, #lu, #sent"),
            };
            match request.send().await {
                Ok(_) => Ok(()),
                Err(e) if condition_failed(&e) => Ok(()),
                Err(e) => Err(service_failure("DynamoDB", &e)),
            }
        })
    }

    fn commit<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        known: &'a Known,
        version: u64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async move {
            self.update(key)
                .update_expression("SET #fp = :fp, #v = :v, #ttl = :ttl REMOVE #lo, #lu, #sent")
                .condition_expression("#lo = :owner")
                .expression_attribute_names("#sent", ALERT_TOPIC_SENT)
                .expression_attribute_names("#fp", "fp")
                .expression_attribute_names("#v", "version")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":fp", AttributeValue::B(Blob::new(known.encode())))
                .expression_attribute_values(":v", number(version as i64))
                .expression_attribute_values(":ttl", number(expires_at))
                .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| service_failure("DynamoDB", &e))
        })
    }
}

/// Each owner's last digest state in the dedup table: a head item
/// (`digest#<owner>`: time and chunk count) and its chunks
/// (`digest#<owner>#<time>#<n>`, at most 320 KB of marks each). Chunks are
/// written before the head, so a head never names a chunk that is not there
/// yet; older chunks expire with the TTL.
pub struct DynamoDigestState {
    client: Client,
    table: String,
}

impl DynamoDigestState {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDigestState {
        DynamoDigestState {
            client,
            table: table.into(),
        }
    }
}

fn digest_head(owner: &str) -> String {
    format!("digest#{owner}")
}

fn digest_chunk(owner: &str, at: i64, n: usize) -> String {
    format!("digest#{owner}#{at}#{n}")
}

impl crate::ports::DigestStateStore for DynamoDigestState {
    fn load<'a>(
        &'a self,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::domain::digest_state::DigestState>, ServiceFailure>>
    {
        Box::pin(async move {
            let head = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(KEY, AttributeValue::S(digest_head(owner)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| service_failure("DynamoDB", &e))?;
            let Some(head) = head.item else {
                return Ok(None);
            };
            let num = |name: &str| {
                head.get(name)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok())
            };
            let damaged = |what: String| ServiceFailure {
                service: "DynamoDB",
                code: "DigestStateDamaged".into(),
                message: what,
                transient: false,
            };
            let (Some(at), Some(count)) = (num("at"), num("chunks")) else {
                return Err(damaged(format!(
                    "{} has no `at` or `chunks` number",
                    digest_head(owner)
                )));
            };
            let keys: Vec<String> = (0..count.max(0) as usize)
                .map(|n| digest_chunk(owner, at, n))
                .collect();
            let (items, left) = batch_get(&self.client, &self.table, &keys).await?;
            if !left.is_empty() {
                return Err(ServiceFailure {
                    service: "DynamoDB",
                    code: "ProvisionedThroughputExceededException".into(),
                    message: format!("{} chunk(s) still unprocessed", left.len()),
                    transient: true,
                });
            }
            let mut chunks: HashMap<String, Vec<u8>> = HashMap::new();
            for item in items {
                if let (Some(key), Some(marks)) = (
                    item.get(KEY).and_then(|v| v.as_s().ok()),
                    item.get("marks").and_then(|v| v.as_b().ok()),
                ) {
                    chunks.insert(key.clone(), marks.as_ref().to_vec());
                }
            }
            let mut ordered = Vec::with_capacity(keys.len());
            for key in &keys {
                match chunks.remove(key) {
                    Some(chunk) => ordered.push(chunk),
                    None => return Err(damaged(format!("{key} is missing"))),
                }
            }
            crate::domain::digest_state::DigestState::from_chunks(at, &ordered)
                .map(Some)
                .ok_or_else(|| damaged(format!("{} holds a partial mark", digest_head(owner))))
        })
    }

    fn save<'a>(
        &'a self,
        owner: &'a str,
        state: &'a crate::domain::digest_state::DigestState,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async move {
            let chunks = state.chunks();
            for (n, chunk) in chunks.iter().enumerate() {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item(KEY, AttributeValue::S(digest_chunk(owner, state.at, n)))
                    .item("marks", AttributeValue::B(Blob::new(chunk.clone())))
                    .item(TTL_ATTRIBUTE, number(expires_at))
                    .send()
                    .await
                    .map_err(|e| service_failure("DynamoDB", &e))?;
            }
            self.client
                .put_item()
                .table_name(&self.table)
                .item(KEY, AttributeValue::S(digest_head(owner)))
                .item("at", number(state.at))
                .item("chunks", number(chunks.len() as i64))
                .item(TTL_ATTRIBUTE, number(expires_at))
                .send()
                .await
                .map_err(|e| service_failure("DynamoDB", &e))?;
            Ok(())
        })
    }
}
