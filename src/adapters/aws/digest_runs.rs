//! Fanned-out digest runs in the dedup table (docs/digest.md, "Fan-out"):
//!
//! - the run's record, `digest##run#<run>`: its registries, what each
//!   reported (`reported`, a map by `account|region`), whether it was
//!   assembled; written once (a retried schedule finds it), updated by each
//!   part and claimed by one assembly, both with conditions;
//! - each registry's partial, `digest##part#<run>#<account|region>#<token>#<n>`,
//!   in chunks of at most [`CHUNK_BYTES`], written before the part reports.
//!
//! Keys start `digest#`, the only keys the digest role may write; an
//! owner's own keys are `digest#<owner>…` with a non-empty owner, so the
//! two never meet. Everything expires with the table's TTL.

use super::dynamodb::{condition_failed, update_item, KEY, TTL_ATTRIBUTE};
use super::service_failure;
use crate::domain::digest_run::{chunks, DigestRun, Registry, Reported};
use crate::ports::{BoxFuture, DigestRunStore, ServiceFailure};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// A partial's chunk: well under DynamoDB's 400 KB item limit with its key
/// and attribute names (Amazon DynamoDB Developer Guide, "Service, account,
/// and table quotas").
pub const CHUNK_BYTES: usize = 350_000;

pub struct DynamoDigestRuns {
    client: Client,
    table: String,
}

impl DynamoDigestRuns {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDigestRuns {
        DynamoDigestRuns {
            client,
            table: table.into(),
        }
    }
}

fn run_key(run: i64) -> String {
    format!("digest##run#{run}")
}

fn part_key(run: i64, registry: &Registry, token: &str, n: u32) -> String {
    format!("digest##part#{run}#{}#{token}#{n}", registry.key())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn damaged(what: String) -> ServiceFailure {
    ServiceFailure {
        service: "DynamoDB",
        code: "DigestRunDamaged".into(),
        message: what,
        transient: false,
    }
}

/// The run's record, read back; a field out of shape is named.
fn parse_run(item: &HashMap<String, AttributeValue>) -> Result<DigestRun, ServiceFailure> {
    let key = item
        .get(KEY)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let run = item
        .get("run")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| damaged(format!("{key} has no `run` number")))?;
    let mut registries = Vec::new();
    for value in item
        .get("registries")
        .and_then(|v| v.as_l().ok())
        .ok_or_else(|| damaged(format!("{key} has no `registries` list")))?
    {
        let field = |name: &str| {
            value
                .as_m()
                .ok()
                .and_then(|m| m.get(name))
                .and_then(|v| v.as_s().ok())
                .cloned()
        };
        match (field("account"), field("region")) {
            (Some(account), Some(region)) => registries.push(Registry { account, region }),
            _ => {
                return Err(damaged(format!(
                    "{key} lists a registry without account and region"
                )))
            }
        }
    }
    let mut reported = std::collections::BTreeMap::new();
    if let Some(map) = item.get("reported").and_then(|v| v.as_m().ok()) {
        for (registry, value) in map {
            let entry = value.as_m().ok();
            let get = |name: &str| entry.and_then(|m| m.get(name));
            let outcome = match (
                get("chunks").and_then(|v| v.as_n().ok()),
                get("token").and_then(|v| v.as_s().ok()),
                get("failed").and_then(|v| v.as_s().ok()),
            ) {
                (Some(chunks), Some(token), _) => Reported::Read {
                    chunks: chunks.parse().map_err(|_| {
                        damaged(format!("{key}: {registry} reported `{chunks}` chunks"))
                    })?,
                    token: token.clone(),
                },
                (_, _, Some(why)) => Reported::Failed(why.clone()),
                _ => {
                    return Err(damaged(format!(
                        "{key}: {registry} reported nothing readable"
                    )))
                }
            };
            reported.insert(registry.clone(), outcome);
        }
    }
    Ok(DigestRun {
        run,
        registries,
        accounts_problem: item
            .get("accounts_problem")
            .and_then(|v| v.as_s().ok())
            .cloned(),
        reported,
        assembled: item
            .get("assembled")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
    })
}

impl DigestRunStore for DynamoDigestRuns {
    fn start<'a>(
        &'a self,
        run: &'a DigestRun,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<bool, ServiceFailure>> {
        Box::pin(async move {
            let registries = run
                .registries
                .iter()
                .map(|r| {
                    AttributeValue::M(HashMap::from([
                        ("account".to_string(), s(&r.account)),
                        ("region".to_string(), s(&r.region)),
                    ]))
                })
                .collect();
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(KEY, s(&run_key(run.run)))
                .item("run", n(run.run))
                .item("registries", AttributeValue::L(registries))
                .item("reported", AttributeValue::M(HashMap::new()))
                .item("assembled", AttributeValue::Bool(false))
                .item(TTL_ATTRIBUTE, n(expires_at))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", KEY);
            if let Some(problem) = &run.accounts_problem {
                put = put.item("accounts_problem", s(problem));
            }
            match put.send().await {
                Ok(_) => Ok(true),
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(PutItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    Ok(false)
                }
                Err(e) => Err(service_failure("DynamoDB", &e)),
            }
        })
    }

    fn load(&self, run: i64) -> BoxFuture<'_, Result<Option<DigestRun>, ServiceFailure>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(KEY, s(&run_key(run)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| service_failure("DynamoDB", &e))?;
            output.item.as_ref().map(parse_run).transpose()
        })
    }

    fn report<'a>(
        &'a self,
        run: i64,
        registry: &'a Registry,
        outcome: Result<Vec<u8>, String>,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<DigestRun, ServiceFailure>> {
        Box::pin(async move {
            let value = match outcome {
                Ok(bytes) => {
                    // Unique to this reading: a message delivered twice and
                    // read twice at once never mixes two readings' chunks.
                    let token = chrono::Utc::now()
                        .timestamp_nanos_opt()
                        .unwrap_or_default()
                        .to_string();
                    let pieces = chunks(&bytes, CHUNK_BYTES);
                    for (i, piece) in pieces.iter().enumerate() {
                        self.client
                            .put_item()
                            .table_name(&self.table)
                            .item(KEY, s(&part_key(run, registry, &token, i as u32)))
                            .item("data", AttributeValue::B(Blob::new(piece.to_vec())))
                            .item(TTL_ATTRIBUTE, n(expires_at))
                            .send()
                            .await
                            .map_err(|e| service_failure("DynamoDB", &e))?;
                    }
                    HashMap::from([
                        ("chunks".to_string(), n(pieces.len() as i64)),
                        ("token".to_string(), s(&token)),
                    ])
                }
                Err(why) => HashMap::from([("failed".to_string(), s(&why))]),
            };
            let output = update_item(&self.client, &self.table, &run_key(run))
                .update_expression("SET reported.#r = :v")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_names("#r", registry.key())
                .expression_attribute_values(":v", AttributeValue::M(value))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match output {
                Ok(output) => parse_run(&output.attributes.unwrap_or_default()),
                Err(e) if condition_failed(&e) => Err(ServiceFailure {
                    service: "DynamoDB",
                    code: "DigestRunNotFound".into(),
                    message: format!(
                        "{} is not in the table (expired, or never started)",
                        run_key(run)
                    ),
                    transient: false,
                }),
                Err(e) => Err(service_failure("DynamoDB", &e)),
            }
        })
    }

    fn partial<'a>(
        &'a self,
        run: i64,
        registry: &'a Registry,
        chunks: u32,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, ServiceFailure>> {
        Box::pin(async move {
            let mut bytes = Vec::new();
            for i in 0..chunks {
                let key = part_key(run, registry, token, i);
                let output = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key(KEY, s(&key))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| service_failure("DynamoDB", &e))?;
                let data = output
                    .item
                    .as_ref()
                    .and_then(|item| item.get("data"))
                    .and_then(|v| v.as_b().ok())
                    .ok_or_else(|| damaged(format!("{key} is missing or holds no `data`")))?;
                bytes.extend_from_slice(data.as_ref());
            }
            Ok(bytes)
        })
    }

    fn claim_assembly(&self, run: i64) -> BoxFuture<'_, Result<bool, ServiceFailure>> {
        Box::pin(async move {
            let output = update_item(&self.client, &self.table, &run_key(run))
                .update_expression("SET assembled = :t")
                .condition_expression("attribute_exists(#pk) AND assembled = :f")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .expression_attribute_values(":f", AttributeValue::Bool(false))
                .send()
                .await;
            match output {
                Ok(_) => Ok(true),
                Err(e) if condition_failed(&e) => Ok(false),
                Err(e) => Err(service_failure("DynamoDB", &e)),
            }
        })
    }

    fn release_assembly(&self, run: i64) -> BoxFuture<'_, Result<(), ServiceFailure>> {
        Box::pin(async move {
            update_item(&self.client, &self.table, &run_key(run))
                .update_expression("SET assembled = :f")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_values(":f", AttributeValue::Bool(false))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| service_failure("DynamoDB", &e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn registry(account: &str) -> Registry {
        Registry {
            account: account.into(),
            region: "us-east-1".into(),
        }
    }

    fn record(reported: HashMap<String, AttributeValue>) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (KEY.to_string(), s("digest##run#100")),
            ("run".to_string(), n(100)),
            (
                "registries".to_string(),
                AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                    ("account".to_string(), s("111111111111")),
                    ("region".to_string(), s("us-east-1")),
                ]))]),
            ),
            ("reported".to_string(), AttributeValue::M(reported)),
            ("assembled".to_string(), AttributeValue::Bool(false)),
        ])
    }

    #[tokio::test]
    async fn a_run_is_recorded_once_and_a_retried_schedule_finds_it() {
        let first = mock!(Client::put_item)
            .match_requests(|r| {
                r.key_of_item() == Some("digest##run#100")
                    && r.condition_expression() == Some("attribute_not_exists(#pk)")
            })
            .then_output(|| PutItemOutput::builder().build());
        let again = mock!(Client::put_item).then_error(|| {
            aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&first, &again]);
        let runs = DynamoDigestRuns::new(client, "t");
        let run = DigestRun {
            run: 100,
            registries: vec![registry("111111111111")],
            ..DigestRun::default()
        };
        assert!(runs.start(&run, 0).await.unwrap());
        assert!(!runs.start(&run, 0).await.unwrap());
    }

    #[tokio::test]
    async fn a_part_keeps_its_chunks_before_it_reports_and_the_run_is_read_back() {
        let chunk = mock!(Client::put_item)
            .match_requests(|r| {
                r.key_of_item().is_some_and(|k| {
                    k.starts_with("digest##part#100#111111111111|us-east-1#") && k.ends_with("#0")
                })
            })
            .then_output(|| PutItemOutput::builder().build());
        let report = mock!(Client::update_item)
            .match_requests(|r| {
                r.update_expression() == Some("SET reported.#r = :v")
                    && r.expression_attribute_names()
                        .and_then(|n| n.get("#r"))
                        .map(String::as_str)
                        == Some("111111111111|us-east-1")
            })
            .then_compute_output(|r| {
                let value = r.expression_attribute_values().unwrap()[":v"].clone();
                UpdateItemOutput::builder()
                    .set_attributes(Some(record(HashMap::from([(
                        "111111111111|us-east-1".to_string(),
                        value,
                    )]))))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&chunk, &report]);
        let runs = DynamoDigestRuns::new(client, "t");
        let run = runs
            .report(100, &registry("111111111111"), Ok(b"{}".to_vec()), 0)
            .await
            .unwrap();
        assert!(run.all_reported());
        assert!(matches!(
            run.reported["111111111111|us-east-1"],
            Reported::Read { chunks: 1, .. }
        ));
        assert_eq!(chunk.num_calls(), 1);
    }

    #[tokio::test]
    async fn the_assembly_is_claimed_once_and_a_damaged_record_is_named() {
        let claimed =
            mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
        let taken = mock!(Client::update_item).then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let damaged = mock!(Client::get_item).then_output(|| {
            let mut item = record(HashMap::new());
            item.remove("registries");
            GetItemOutput::builder().set_item(Some(item)).build()
        });
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::Sequential,
            [&claimed, &taken, &damaged]
        );
        let runs = DynamoDigestRuns::new(client, "t");
        assert!(runs.claim_assembly(100).await.unwrap());
        assert!(!runs.claim_assembly(100).await.unwrap());
        let error = runs.load(100).await.unwrap_err();
        assert_eq!(error.code, "DigestRunDamaged");
        assert!(error.message.contains("`registries`"), "{error}");
    }

    trait KeyOfItem {
        fn key_of_item(&self) -> Option<&str>;
    }

    impl KeyOfItem for aws_sdk_dynamodb::operation::put_item::PutItemInput {
        fn key_of_item(&self) -> Option<&str> {
            self.item()
                .and_then(|i| i.get(KEY))
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
        }
    }
}
