//! Layer 2: the storm store against the SDK's mock DynamoDB client
//! (aws-smithy-mocks), behind a small table that applies the store's
//! updates and conditions as DynamoDB does and refuses an item over 400 KB
//! as DynamoDB does (ValidationException, "Item size has exceeded the
//! maximum allowed size"; Amazon DynamoDB Developer Guide, item size).

use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::update_item::{
    UpdateItemError, UpdateItemInput, UpdateItemOutput,
};
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use ecr_scan_alerts::adapters::aws::storms::{
    DynamoStorms, MAX_ACCOUNTS, MAX_IMAGES, MAX_REPOSITORIES, MAX_REPOSITORY_IMAGES,
};
use ecr_scan_alerts::domain::finding::Finding;
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::domain::risk::InUse;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::domain::storm;
use ecr_scan_alerts::ports::StormStore;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// DynamoDB's item size limit: 400 KB, attribute names and values counted.
const ITEM_LIMIT: usize = 400 * 1024;

type Item = HashMap<String, AttributeValue>;

/// The items of one table, and the largest size any item ever reached.
#[derive(Default)]
struct Table {
    items: HashMap<String, Item>,
    largest: usize,
    refused_for_size: usize,
    updates: usize,
}

/// An item's size as DynamoDB counts it: names plus values (strings and
/// string sets by their UTF-8 bytes, numbers by their digits).
fn size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
                    _ => 0,
                }
        })
        .sum()
}

fn set_size(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_ss().ok())
        .map_or(0, |s| s.len() as i64)
}

/// `attribute_not_exists(x) OR size(x) <= :room`, joined by ` AND `
/// (each clause may be in parentheses): the store's conditions.
fn condition_holds(item: Option<&Item>, condition: &str, values: &Item) -> bool {
    condition.split(" AND ").all(|clause| {
        let clause = clause.trim().trim_start_matches('(').trim_end_matches(')');
        let (exists_part, size_part) = clause.split_once(" OR ").expect(clause);
        let name = exists_part
            .trim_start_matches("attribute_not_exists(")
            .trim_end_matches(')');
        let room = size_part.rsplit(' ').next().unwrap();
        let room: i64 = values[room].as_n().unwrap().parse().unwrap();
        match item.and_then(|i| i.get(name)) {
            None => true,
            Some(_) => set_size(item.unwrap(), name) <= room,
        }
    })
}

/// `ADD a :x, b :y SET #ttl = :e, repo = :repo`.
fn apply(item: &mut Item, input: &UpdateItemInput) {
    let names = input
        .expression_attribute_names()
        .cloned()
        .unwrap_or_default();
    let values = input
        .expression_attribute_values()
        .cloned()
        .unwrap_or_default();
    let expression = input.update_expression().unwrap();
    let (add, set) = expression
        .trim_start_matches("ADD ")
        .split_once(" SET ")
        .unwrap_or((expression, ""));
    for pair in add.split(", ") {
        let (name, value) = pair.trim().split_once(' ').unwrap();
        let new: Vec<String> = values[value].as_ss().unwrap().clone();
        let mut all: BTreeSet<String> = item
            .get(name)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        all.extend(new);
        item.insert(
            name.to_string(),
            AttributeValue::Ss(all.into_iter().collect()),
        );
    }
    for assignment in set.split(", ").filter(|a| !a.is_empty()) {
        let (name, value) = assignment.split_once(" = ").unwrap();
        let name = names.get(name).cloned().unwrap_or_else(|| name.to_string());
        item.insert(name, values[value].clone());
    }
}

fn client(table: Arc<Mutex<Table>>) -> aws_sdk_dynamodb::Client {
    let writes = table.clone();
    let update = mock!(aws_sdk_dynamodb::Client::update_item).then_compute_response(move |input| {
        let mut table = writes.lock().unwrap();
        table.updates += 1;
        let key = input.key().unwrap()["pk"].as_s().unwrap().clone();
        let values = input
            .expression_attribute_values()
            .cloned()
            .unwrap_or_default();
        let current = table.items.get(&key);
        if let Some(condition) = input.condition_expression() {
            if !condition_holds(current, condition, &values) {
                return MockResponse::Error(UpdateItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder().build(),
                ));
            }
        }
        let mut item = current.cloned().unwrap_or_default();
        item.insert("pk".into(), AttributeValue::S(key.clone()));
        apply(&mut item, input);
        let bytes = size(&item);
        if bytes > ITEM_LIMIT {
            table.refused_for_size += 1;
            return MockResponse::Error(UpdateItemError::unhandled(
                "ValidationException: Item size has exceeded the maximum allowed size",
            ));
        }
        table.largest = table.largest.max(bytes);
        table.items.insert(key, item.clone());
        MockResponse::Output(
            UpdateItemOutput::builder()
                .set_attributes(Some(item))
                .build(),
        )
    });
    let reads = table.clone();
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_compute_response(move |input| {
        let key = input.key().unwrap()["pk"].as_s().unwrap();
        let item = reads.lock().unwrap().items.get(key).cloned();
        MockResponse::<GetItemOutput, GetItemError>::Output(
            GetItemOutput::builder().set_item(item).build(),
        )
    });
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&update, &get])
}

/// One CVE in `images` images, spread over `repositories` repositories
/// whose names are `name_len` characters long, in 20 accounts.
fn outbreak(images: usize, repositories: usize, name_len: usize, start: usize) -> storm::Outbreak {
    let mut outbreaks = BTreeMap::new();
    for i in start..start + images {
        let r = i % repositories;
        let stem = format!("team-{r:05}/");
        let image = ImageRef {
            account: format!("{:012}", 111_111_111_111_u64 + (r % 20) as u64),
            region: "us-east-1".into(),
            repository: format!("{stem}{}", "s".repeat(name_len - stem.len())),
            digest: format!("sha256:{i:064x}"),
            tags: vec![],
        };
        storm::add_image(
            &mut outbreaks,
            &image,
            "team",
            InUse::Running(1),
            &[Finding::new("CVE-2026-1", Severity::Critical)],
        );
    }
    outbreaks.remove("CVE-2026-1").unwrap()
}

const KEY: &str = "storm#CVE-2026-1#1794999600";

#[tokio::test]
async fn ten_thousand_repositories_with_long_names_never_make_an_item_dynamodb_refuses() {
    let table = Arc::new(Mutex::new(Table::default()));
    let store = DynamoStorms::new(client(table.clone()), "scan-alerts");

    let state = store
        .record(KEY, &outbreak(10_000, 10_000, 200, 0), 1_795_090_000)
        .await
        .expect("no write fails for its size");

    assert_eq!(state.images, 10_000);
    assert_eq!(
        state.repositories.len() as u64,
        MAX_REPOSITORIES,
        "a floor past the cap"
    );
    assert_eq!(state.accounts, 20);
    assert!(!state.full, "every image was counted");
    let t = table.lock().unwrap();
    assert_eq!(t.refused_for_size, 0);
    assert!(t.largest <= ITEM_LIMIT, "largest item {} bytes", t.largest);
    // The alert's list reads each repository's own item, named in it.
    let main = &t.items[KEY];
    let first = &main["repos"].as_ss().unwrap()[0];
    let repository = &t.items[&format!("{KEY}#r#{first}")];
    assert_eq!(
        repository["repo"].as_s().unwrap().len(),
        12 + 1 + 9 + 1 + 200
    );
    // And its owner, for the storm alert's owners.
    assert_eq!(repository["owner"].as_s().unwrap(), "team");
}

#[tokio::test]
async fn a_storm_past_what_an_item_holds_is_read_as_at_least_that_many() {
    let table = Arc::new(Mutex::new(Table::default()));
    let store = DynamoStorms::new(client(table.clone()), "scan-alerts");
    // Two batches of 15,000 images in one repository with a long name.
    store
        .record(KEY, &outbreak(15_000, 1, 256, 0), 1_795_090_000)
        .await
        .unwrap();
    let state = store
        .record(KEY, &outbreak(15_000, 1, 256, 15_000), 1_795_090_000)
        .await
        .unwrap();

    assert!(state.images <= MAX_IMAGES && state.images > MAX_IMAGES - 1_000);
    assert!(state.full, "the alert says `at least`");
    let t = table.lock().unwrap();
    assert_eq!(t.refused_for_size, 0);
    assert!(t.largest <= ITEM_LIMIT, "largest item {} bytes", t.largest);
    for item in t.items.values() {
        for (name, cap) in [
            ("images", MAX_IMAGES.max(MAX_REPOSITORY_IMAGES)),
            ("repos", MAX_REPOSITORIES),
            ("accounts", MAX_ACCOUNTS),
        ] {
            assert!(set_size(item, name) as u64 <= cap, "{name}");
        }
        if item["pk"].as_s().unwrap().contains("#r#") {
            assert!(set_size(item, "images") as u64 <= MAX_REPOSITORY_IMAGES);
        }
    }
}

#[tokio::test]
async fn an_ordinary_batch_is_one_write_per_repository_and_one_for_the_storm() {
    let table = Arc::new(Mutex::new(Table::default()));
    let store = DynamoStorms::new(client(table.clone()), "scan-alerts");

    let state = store
        .record(KEY, &outbreak(6, 3, 40, 0), 1_795_090_000)
        .await
        .unwrap();

    assert_eq!(
        (state.images, state.repositories.len(), state.accounts),
        (6, 3, 3)
    );
    assert_eq!(
        table.lock().unwrap().updates,
        3 + 1,
        "one write per repository (images and running together), then the storm"
    );
}
