import json
"""What the stack deploys, read from template.yaml for several sets of
parameters: the ECR settings, encryption, least privilege, alarms."""

import re

import pytest

from cfn_template import (FINDINGS_FUNCTION, DIGEST_FUNCTION, HANDLERS, NO_RESOURCE_LEVEL, PARTITIONS, ROLES, ROOT, SCAN_FUNCTION,
                          TEMPLATE, Resolved, as_list, central_problems, function_problems, key_policy_problems,
                          lifecycle_rules, load, partition_problems, policy_statements, repository_problems,
                          role_grants, role_statements, uncommented_wildcard_resources, wildcard_action_problems,
                          wildcard_resource_problems)

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1f2c3d-0000-4000-8000-000000000001"

# Parameter sets that switch on every optional part of the stack.
VARIANTS = {
    "defaults": {},
    "repositories": {"RepositoryNames": "team/web,team/api", "RepositoryPrefix": "team/"},
    "mutable latest": {"RepositoryNames": "base/debian", "MutableTagPatterns": "latest,stable-*"},
    "kms": {"RepositoryNames": "team/web", "RepositoryEncryption": "KMS", "RepositoryKmsKeyArn": KMS_KEY},
    "everything on": {
        "RepositoryNames": "team/web", "RegistryScanType": "ENHANCED", "RegistryScanFrequency": "CONTINUOUS_SCAN",
        "AlertEmail": "team@example.com", "OperationsEmail": "ops@example.com",
        "SlackWorkspaceId": "T0123ABCD", "SlackChannelId": "C0123456789",
        **{"TeamsTenantId": "8a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "TeamsTeamId": "74361522-da01-438d-aa2e-ac7918c6bb92",
           "TeamsChannelId": "19%3a0f1e2d3c4b5a69788796a5b4c3d2e1f0%40thread.tacv2"},
    },
    "existing operations topic": {"OperationsTopicArn": "arn:aws:sns:us-east-1:123456789012:ops"},
}


def rule_violations(resolved):
    """The template's Rules section, evaluated: CloudFormation refuses the
    parameters with these messages."""
    failed = []
    for rule in resolved.raw.get("Rules", {}).values():
        if "RuleCondition" in rule and not resolved.resolve(rule["RuleCondition"]):
            continue
        failed += [a["AssertDescription"] for a in rule["Assertions"] if not resolved.resolve(a["Assert"])]
    return failed


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_passes_the_rules_and_our_checks(template, variant):
    resolved = Resolved(template, **VARIANTS[variant])
    assert rule_violations(resolved) == []
    assert repository_problems(resolved) == []
    assert wildcard_action_problems(resolved) == []


def test_no_repository_is_created_by_default(template):
    # An empty list may reach the loop as one empty name; it must create nothing.
    resolved = Resolved(template)
    assert resolved.of_type("AWS::ECR::Repository") == {}
    assert not [name for name in resolved.outputs if name.startswith("Repository")]


def test_created_repositories_are_immutable_scanned_on_push_and_expire_images(template):
    resolved = Resolved(template, RepositoryNames="team/web,team/api")
    repos = resolved.of_type("AWS::ECR::Repository")
    assert sorted(r["Properties"]["RepositoryName"] for r in repos.values()) == ["team/api", "team/web"]
    for repo in repos.values():
        props = repo["Properties"]
        assert props["ImageTagMutability"] == "IMMUTABLE"
        assert "ImageTagMutabilityExclusionFilters" not in props
        assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert props["EncryptionConfiguration"] == {"EncryptionType": "AES256"}
        # Removing the stack must not take images with it.
        assert repo["DeletionPolicy"] == repo["UpdateReplacePolicy"] == "Retain"
        rules = sorted(lifecycle_rules(repo), key=lambda r: r["rulePriority"])
        assert [r["selection"] for r in rules] == [
            {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
            {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 20},
        ]
        assert [r["rulePriority"] for r in rules] == [1, 2]
        assert 100 <= len(props["LifecyclePolicy"]["LifecyclePolicyText"]) <= 30720
    assert sorted(resolved.outputs[f"Repository{n}Uri"]["Value"]["Fn::GetAtt"][0] for n in ("teamweb", "teamapi")) \
        == ["Repositoryteamapi", "Repositoryteamweb"]


def test_lifecycle_counts_follow_the_parameters(template):
    resolved = Resolved(template, RepositoryNames="team/web", KeepTaggedImages=50, UntaggedExpiryDays=3)
    (repo,) = resolved.of_type("AWS::ECR::Repository").values()
    counts = {r["selection"]["tagStatus"]: r["selection"]["countNumber"] for r in lifecycle_rules(repo)}
    assert counts == {"untagged": 3, "tagged": 50}


def test_mutable_tag_patterns_become_exclusions_of_an_immutable_repository(template):
    five = "latest,stable,nightly-*,dev,edge"
    resolved = Resolved(template, RepositoryNames="base/debian", MutableTagPatterns=five)
    (repo,) = resolved.of_type("AWS::ECR::Repository").values()
    assert repo["Properties"]["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["Properties"]["ImageTagMutabilityExclusionFilters"] == [
        {"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": p}
        for p in five.split(",")
    ]
    # ECR takes at most five filters: a sixth pattern is refused as a parameter.
    allowed = template["Parameters"]["MutableTagPatterns"]["AllowedPattern"]
    assert re.fullmatch(allowed, five)
    assert re.fullmatch(allowed, "")
    assert not re.fullmatch(allowed, five + ",sixth")
    assert not re.fullmatch(allowed, "latest,")


def test_repository_encryption_is_aes256_by_default_and_kms_on_request(template):
    kms = Resolved(template, RepositoryNames="a1", RepositoryEncryption="KMS", RepositoryKmsKeyArn=KMS_KEY)
    (repo,) = kms.of_type("AWS::ECR::Repository").values()
    assert repo["Properties"]["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": KMS_KEY}
    aws_managed = Resolved(template, RepositoryNames="a1", RepositoryEncryption="KMS")
    (repo,) = aws_managed.of_type("AWS::ECR::Repository").values()
    assert repo["Properties"]["EncryptionConfiguration"] == {"EncryptionType": "KMS"}
    assert rule_violations(Resolved(template, RepositoryKmsKeyArn=KMS_KEY)) == [
        "RepositoryKmsKeyArn is only used with RepositoryEncryption KMS."]


def test_registry_scanning_is_left_alone_unless_asked(template):
    assert Resolved(template).of_type("AWS::ECR::RegistryScanningConfiguration") == {}
    resolved = Resolved(template, RegistryScanType="ENHANCED", RegistryScanFrequency="CONTINUOUS_SCAN",
                        RegistryScanFilter="team/*")
    (config,) = resolved.of_type("AWS::ECR::RegistryScanningConfiguration").values()
    assert config["Properties"] == {"ScanType": "ENHANCED", "Rules": [{
        "ScanFrequency": "CONTINUOUS_SCAN", "RepositoryFilters": [{"Filter": "team/*", "FilterType": "WILDCARD"}]}]}
    assert rule_violations(Resolved(template, RegistryScanType="BASIC", RegistryScanFrequency="CONTINUOUS_SCAN"))


def function_statements(resolved, role="FunctionRole"):
    """The statements that say what a function's role may do (its trust
    policy aside); every one an Allow."""
    statements = role_statements(resolved, role)
    assert all(s["Effect"] == "Allow" for s in statements)
    return statements


def without_policy_and_dedup(template, **params):
    """The grants below leave the policy parameter and dedup table out; they
    have their own test."""
    return Resolved(template, PolicyDocument="NONE", OnlyNewFindings="false", **params)


@pytest.mark.parametrize("prefix, resource", [
    ("", "arn:aws:ecr:us-east-1:123456789012:repository/*"),
    ("team/", "arn:aws:ecr:us-east-1:123456789012:repository/team/*"),
])
def test_scan_function_may_only_read_findings_and_publish_to_its_topics(template, prefix, resource):
    resolved = without_policy_and_dedup(template, RepositoryPrefix=prefix)
    function_statements(resolved)
    assert role_grants(resolved, "FunctionRole") == {
        "ecr:DescribeImageScanFindings": [resource],
        "ecr:ListTagsForResource": [resource],
        "inspector2:ListFindings": ["*"],
        "inspector2:ListCoverage": ["*"],
        "inspector2:ListAccountPermissions": ["*"],
        "sns:Publish": [{"Ref": "AlertTopic"}, {"Ref": "ChatTopic"}],
        "sqs:SendMessage": [{"Fn::GetAtt": ["FailureQueue", "Arn"]}],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}],
        "xray:PutTraceSegments": ["*"],
        "xray:PutTelemetryRecords": ["*"],
    }
    props = resolved.resources[SCAN_FUNCTION]["Properties"]
    assert props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}


@pytest.mark.parametrize("params", [{}, {"RepositoryPrefix": "team/"},
                                    {"MemberRoleName": "ecr-scan-alerts-reader", "OrganizationId": "o-abcdef1234"}],
                         ids=["defaults", "prefix", "organisation"])
def test_findings_function_may_only_consume_its_queue_and_publish_to_its_topics(template, params):
    """The batch path takes its findings from the events: no findings read
    from ECR or Inspector; the repositories' owner tags (scoped as the scan
    role's reads), the queue's receive and delete for the event source
    mapping, its own log group, the topics; organisation-wide, the member
    reader role (for the tags)."""
    resolved = without_policy_and_dedup(template, **params)
    function_statements(resolved, "FindingsFunctionRole")
    findings_queue = {"Fn::GetAtt": ["FindingsQueue", "Arn"]}
    grants = role_grants(resolved, "FindingsFunctionRole")
    scan_grants = role_grants(resolved, "FunctionRole")
    assert grants.pop("ecr:ListTagsForResource") == scan_grants["ecr:DescribeImageScanFindings"]
    if "MemberRoleName" in params:
        assert grants.pop("sts:AssumeRole") == scan_grants["sts:AssumeRole"]
    assert grants == {
        "sqs:ReceiveMessage": [findings_queue],
        "sqs:DeleteMessage": [findings_queue],
        "sqs:GetQueueAttributes": [findings_queue],
        "sns:Publish": [{"Ref": "AlertTopic"}, {"Ref": "ChatTopic"}],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["FindingsFunctionLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["FindingsFunctionLogGroup", "Arn"]}],
        "xray:PutTraceSegments": ["*"],
        "xray:PutTelemetryRecords": ["*"],
    }
    actions = {a.lower() for a in role_grants(Resolved(template, **params), "FindingsFunctionRole")}
    assert {a for a in actions if a.startswith(("ecr:", "inspector2:", "sts:"))} <= {
        "ecr:listtagsforresource", "sts:assumerole"}
    role = resolved.resources["FindingsFunctionRole"]["Properties"]
    # Under the path member reader roles trust: it reads their owner tags.
    assert role.get("Path") == "/ecr-scan-alerts/"
    assert "RoleName" not in role and "ManagedPolicyArns" not in role
    props = resolved.resources[FINDINGS_FUNCTION]["Properties"]
    assert props["Role"] == {"Fn::GetAtt": ["FindingsFunctionRole", "Arn"]}


def test_the_two_functions_run_the_two_entry_points(template):
    """Two binaries, three functions: Lambda sets _HANDLER from Handler, and
    the binaries accept exactly these values (src/entry.rs). Without a
    digest schedule the digest function is left out."""
    resolved = Resolved(template)
    functions = resolved.of_type("AWS::Serverless::Function")
    assert {name: f["Properties"]["Handler"] for name, f in functions.items()} == {
        "ScanFunction": "scan-events", "FindingsFunction": "finding-batches", "DigestFunction": "digest"}
    off = Resolved(template, DigestSchedule="none")
    assert set(off.of_type("AWS::Serverless::Function")) == {"ScanFunction", "FindingsFunction"}
    assert not [n for n in off.resources if n.startswith("Digest")]
    assert function_problems(off) == []
    entry = (ROOT / "src" / "entry.rs").read_text()
    for handler in HANDLERS.values():
        assert f'"{handler}"' in entry, handler
    assert function_problems(resolved) == []


def test_the_scan_function_takes_the_scan_rule_asynchronously_and_the_findings_function_the_queue(template):
    resolved = Resolved(template)
    scan = resolved.resources[SCAN_FUNCTION]["Properties"]
    assert {name: e["Type"] for name, e in scan["Events"].items()} == {"ScanEvents": "EventBridgeRule"}
    assert scan["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}
    findings = resolved.resources[FINDINGS_FUNCTION]["Properties"]
    assert {name: e["Type"] for name, e in findings["Events"].items()} == {"FindingBatches": "SQS"}
    batches = findings["Events"]["FindingBatches"]["Properties"]
    assert batches["Queue"] == {"Fn::GetAtt": ["FindingsQueue", "Arn"]}
    assert batches["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (batches["BatchSize"], batches["MaximumBatchingWindowInSeconds"]) == (1000, 300)
    # A CVE storm's five batches of 1,000 at once; the rest of a new
    # account's concurrency (10) stays for the scan function.
    assert batches["ScalingConfig"] == {"MaximumConcurrency": 5}
    # Nothing invokes it asynchronously: SQS retries and the queue's
    # dead-letter queue are its failure handling.
    assert "EventInvokeConfig" not in findings
    assert "DeadLetterQueue" not in findings
    assert "EventInvokeConfig" not in resolved.globals["Function"]


def test_both_functions_share_the_build_the_sizing_and_the_configuration(template):
    resolved = Resolved(template, SeverityThreshold="CRITICAL", MemberRoleName="ecr-scan-alerts-reader",
                        OrganizationId="o-abcdef1234", AccountAliases="111111111111=payments-prod")
    scan, findings = (resolved.resources[name] for name in (SCAN_FUNCTION, FINDINGS_FUNCTION))
    assert scan["Metadata"]["BuildMethod"] == findings["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert scan["Metadata"]["BuildProperties"] == findings["Metadata"]["BuildProperties"]
    shared = ("CodeUri", "Runtime", "Architectures", "MemorySize", "Timeout", "Tracing")
    for key in shared:
        assert scan["Properties"][key] == findings["Properties"][key], key
    # The same configuration, and the findings function's recheck on top.
    scan_env, findings_env = (f["Properties"]["Environment"]["Variables"] for f in (scan, findings))
    findings_only = ("RECHECK_DELAY_SECONDS", "BATCH_CONCURRENCY")
    assert {k: v for k, v in findings_env.items() if k not in findings_only} == scan_env
    assert scan["Properties"]["Tracing"] == "Active"
    # Each its own log group, with the same retention and format.
    groups = {name: resolved.resources[name]["Properties"]["LoggingConfig"] for name in HANDLERS}
    assert groups[SCAN_FUNCTION]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    assert groups[FINDINGS_FUNCTION]["LogGroup"] == {"Ref": "FindingsFunctionLogGroup"}
    assert {k: v for k, v in groups[SCAN_FUNCTION].items() if k != "LogGroup"} == \
        {k: v for k, v in groups[FINDINGS_FUNCTION].items() if k != "LogGroup"}
    for name in ("FunctionLogGroup", "FindingsFunctionLogGroup"):
        assert resolved.resources[name]["Properties"]["RetentionInDays"] == "365"
    # Both publish: DependsOn their shared publish policy, so the first
    # invocation after the deploy finds the permission in place.
    assert scan["DependsOn"] == findings["DependsOn"] == "FunctionPublishPolicy"


@pytest.mark.parametrize("variant", VARIANTS)
def test_topics_use_the_customer_key_and_refuse_publishing_without_tls(template, variant):
    resolved = Resolved(template, **VARIANTS[variant])
    topics = resolved.of_type("AWS::SNS::Topic")
    expected = {"AlertTopic", "ChatTopic"} | ({"OperationsTopic"} if not resolved.params["OperationsTopicArn"] else set())
    assert set(topics) == expected
    denied = set()
    for policy in resolved.of_type("AWS::SNS::TopicPolicy").values():
        for _, statement in policy_statements(policy):
            if (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "sns:Publish") \
                    and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                denied |= {r["Ref"] for r in as_list(statement["Resource"])}
    assert denied == expected
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["TopicKey", "Arn"]}
        assert "FifoTopic" not in topic["Properties"]  # email and chat need a standard topic
    key = resolved.resources["TopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    users = {}
    for statement in key["KeyPolicy"]["Statement"]:
        principal = statement["Principal"]
        for who in as_list(principal.get("Service") or principal.get("AWS")):
            users[str(who)] = sorted(as_list(statement["Action"]))
    # Both functions' roles, through SNS only.
    for role in ROLES.values():
        assert users[str({"Fn::GetAtt": [role, "Arn"]})] == ["kms:Decrypt", "kms:GenerateDataKey"]
    (through_sns,) = [s for s in key["KeyPolicy"]["Statement"] if s["Sid"] == "FunctionPublishesThroughSns"]
    assert through_sns["Condition"] == {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}}
    if "OperationsTopic" in topics:
        # As the SNS guide documents it for CloudWatch alarms.
        assert users["cloudwatch.amazonaws.com"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    else:
        assert "cloudwatch.amazonaws.com" not in users
    # The account administers the key but cannot read what it protects.
    admin = users["arn:aws:iam::123456789012:root"]
    assert "kms:PutKeyPolicy" in admin and "kms:ScheduleKeyDeletion" in admin
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin)


@pytest.mark.parametrize("partition", ["aws", *PARTITIONS])
def test_cloudwatch_may_use_the_topic_key_for_this_accounts_alarms_only(template, partition):
    resolved = Resolved(template, pseudo=PARTITIONS.get(partition))
    region = resolved.pseudo["AWS::Region"]
    (statement,) = [s for s in resolved.resources["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]
                    if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:123456789012:alarm:*"}}
    assert key_policy_problems(resolved) == []
    # With an existing operations topic, CloudWatch gets nothing from this key.
    existing = Resolved(template, OperationsTopicArn="arn:aws:sns:us-east-1:123456789012:ops")
    assert [s["Sid"] for s in existing.resources["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]] == [
        "AccountAdministersTheKey", "FunctionPublishesThroughSns"]


def test_cloudwatch_may_publish_alarms_to_the_created_operations_topic(template):
    resolved = Resolved(template)
    (policy,) = [p for p in resolved.of_type("AWS::SNS::TopicPolicy").values()
                 if p["Properties"]["Topics"] == [{"Ref": "OperationsTopic"}]]
    allows = [s for _, s in policy_statements(policy) if s["Effect"] == "Allow"]
    assert allows == [{
        "Sid": "CloudWatchAlarmsOfThisAccount", "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
        "Resource": {"Ref": "OperationsTopic"},
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"},
                      "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"}},
    }]


@pytest.mark.parametrize("ops_arn, target", [
    ("", {"Ref": "OperationsTopic"}),
    ("arn:aws:sns:us-east-1:123456789012:ops", "arn:aws:sns:us-east-1:123456789012:ops"),
])
def test_alarms_watch_errors_and_both_queues_and_go_to_the_operations_topic(template, ops_arn, target):
    resolved = Resolved(template, OperationsTopicArn=ops_arn)
    watched = {}
    for alarm in resolved.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [target]
        if props["MetricName"] == "DigestsPublished":
            # Silence is what it hears: no digest for DigestAlarmDays days.
            assert (props["Namespace"], props["Period"], props["EvaluationPeriods"], props["DatapointsToAlarm"],
                    props["ComparisonOperator"], props["Threshold"], props["TreatMissingData"]) == (
                "EcrScanAlerts", 86400, "8", "8", "LessThanThreshold", 1, "breaching")
            continue
        ((dimension,),) = [props["Dimensions"]]
        watched[(props["MetricName"], str(dimension["Value"]))] = (
            props["ComparisonOperator"], props["Threshold"], props["Statistic"])
    assert watched == {
        ("Errors", str({"Ref": "ScanFunction"})): ("GreaterThanOrEqualToThreshold", 1, "Sum"),
        ("Errors", str({"Ref": "FindingsFunction"})): ("GreaterThanOrEqualToThreshold", 1, "Sum"),
        ("Errors", str({"Ref": "DigestFunction"})): ("GreaterThanOrEqualToThreshold", 1, "Sum"),
        ("ApproximateNumberOfMessagesVisible", str({"Fn::GetAtt": ["FailureQueue", "QueueName"]})):
            ("GreaterThanThreshold", 0, "Maximum"),
        ("ApproximateNumberOfMessagesVisible", str({"Fn::GetAtt": ["RuleDeadLetterQueue", "QueueName"]})):
            ("GreaterThanThreshold", 0, "Maximum"),
        ("ApproximateNumberOfMessagesVisible", str({"Fn::GetAtt": ["FindingsDeadLetterQueue", "QueueName"]})):
            ("GreaterThanThreshold", 0, "Maximum"),
        ("ApproximateNumberOfMessagesVisible", str({"Fn::GetAtt": ["DigestDeadLetterQueue", "QueueName"]})):
            ("GreaterThanThreshold", 0, "Maximum"),
    }
    assert resolved.outputs["OperationsTopicArn"]["Value"] == target


@pytest.mark.parametrize("name", HANDLERS)
def test_function_is_built_by_cargo_lambda_and_configured_from_parameters(template, name):
    resolved = Resolved(template, SeverityThreshold="CRITICAL", AlertOnScanFailure="false")
    function = resolved.resources[name]
    assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert function["Metadata"]["BuildProperties"] == {
        "Binary": "ecr-scan-digest" if name == DIGEST_FUNCTION else "ecr-scan-alerts"}
    props = function["Properties"]
    assert (props["CodeUri"], props["Runtime"], props["Handler"], props["Architectures"]) == (
        ".", "provided.al2023", HANDLERS[name], ["arm64"])
    assert Resolved(template, Architecture="x86_64").resources[name]["Properties"]["Architectures"] == ["x86_64"]
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": {
        SCAN_FUNCTION: "FunctionLogGroup", FINDINGS_FUNCTION: "FindingsFunctionLogGroup",
        DIGEST_FUNCTION: "DigestFunctionLogGroup"}[name]}
    recheck = {"RECHECK_DELAY_SECONDS": "900", "BATCH_CONCURRENCY": "50"}
    digest = {"DIGEST_IMAGE_DAYS": "30", "DIGEST_STALE_DAYS": "30", "METRICS_OWNER_DIMENSION": "false",
              "REPORT_BUCKET_NAME": {"Ref": "ReportBucket"}, "DIGEST_QUEUE_URL": {"Ref": "DigestQueue"}}
    assert props["Environment"]["Variables"] == {
        "ALERT_TOPIC_ARN": {"Ref": "AlertTopic"}, "CHAT_TOPIC_ARN": {"Ref": "ChatTopic"},
        "SEVERITY_THRESHOLD": "CRITICAL", "ALERT_ON_SCAN_FAILURE": "false",
        "POLICY_PARAMETER_NAME": {"Ref": "PolicyParameter"}, "DEDUP_TABLE_NAME": {"Ref": "DedupTable"},
        "METRICS": "true", "METRICS_NAMESPACE": "EcrScanAlerts", "METRICS_REPOSITORY_DIMENSION": "false",
        "STORM_THRESHOLD": "20", "STORM_TABLE_NAME": {"Ref": "DedupTable"},
        "STORM_WINDOW_MINUTES": "60", "STORM_SUMMARY_MINUTES": "15", "FINDINGS_WAIT_SECONDS": "20",
        "SCOPE_ACCOUNT_IDS": "123456789012", "OWNER_TAG_KEY": "owner",
        **(recheck if name == FINDINGS_FUNCTION else {}),
        **(digest if name == DIGEST_FUNCTION else {}),
    }
    assert set(template["Parameters"]["SeverityThreshold"]["AllowedValues"]) == {
        "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}


def test_the_scan_function_is_retried_then_hands_failures_to_the_failure_queue(template):
    resolved = Resolved(template)
    props = resolved.resources[SCAN_FUNCTION]["Properties"]
    invoke = props["EventInvokeConfig"]
    assert 0 <= invoke["MaximumRetryAttempts"] <= 2
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}
    rule = props["Events"]["ScanEvents"]["Properties"]
    assert props["Events"]["ScanEvents"]["Type"] == "EventBridgeRule"
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}}
    for name in ("FailureQueue", "RuleDeadLetterQueue"):
        queue = resolved.resources[name]["Properties"]
        assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert queue["SqsManagedSseEnabled"] is True


@pytest.mark.parametrize("name", HANDLERS)
def test_every_variable_the_template_sets_is_one_the_function_reads(template, name):
    """A misspelt variable is silently ignored by the function; a missing
    ALERT_TOPIC_ARN fails every cold start."""
    config = (ROOT / "src" / "config.rs").read_text()
    known = set(re.findall(r'pub const [A-Z_]+: &str = "([A-Z_]+)";', config))
    params = {"MemberRoleName": "ecr-scan-alerts-reader", "OrganizationId": "o-abcdef1234",
              "AccountAliases": "111111111111=payments-prod"}
    variables = Resolved(template, **params).resources[name]["Properties"]["Environment"]["Variables"]
    assert "ALERT_TOPIC_ARN" in variables
    assert set(variables) <= known


def test_dead_letter_queue_accepts_only_our_two_rules(template):
    policy = Resolved(template).resources["RuleDeadLetterQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "RuleDeadLetterQueue"}]
    ((_, statement),) = policy_statements(policy)
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    # SAM names the rule generated for the ScanEvents event <function><event>.
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [
        {"Fn::GetAtt": ["ScanFunctionScanEvents", "Arn"]}, {"Fn::GetAtt": ["FindingEventsRule", "Arn"]}]}}


def test_slack_is_connected_only_when_both_ids_are_given(template):
    assert "SlackChannel" not in Resolved(template).resources
    resolved = Resolved(template, SlackWorkspaceId="T0123ABCD", SlackChannelId="C0123456789")
    slack = resolved.resources["SlackChannel"]["Properties"]
    assert slack["SnsTopicArns"] == [{"Ref": "ChatTopic"}]
    assert (slack["SlackWorkspaceId"], slack["SlackChannelId"]) == ("T0123ABCD", "C0123456789")
    role = resolved.resources["ChatChannelRole"]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    assert rule_violations(Resolved(template, SlackWorkspaceId="T0123ABCD")) == [
        "Set both SlackWorkspaceId and SlackChannelId, or neither."]


TEAMS = {"TeamsTenantId": "8a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "TeamsTeamId": "74361522-da01-438d-aa2e-ac7918c6bb92",
         "TeamsChannelId": "19%3a0f1e2d3c4b5a69788796a5b4c3d2e1f0%40thread.tacv2"}


def test_teams_is_connected_only_when_all_three_ids_are_given(template):
    plain = Resolved(template)
    assert "TeamsChannel" not in plain.resources and "ChatChannelRole" not in plain.resources
    resolved = Resolved(template, **TEAMS)
    teams = resolved.resources["TeamsChannel"]["Properties"]
    assert teams["SnsTopicArns"] == [{"Ref": "ChatTopic"}]
    assert (teams["TeamsTenantId"], teams["TeamId"], teams["TeamsChannelId"]) == (
        TEAMS["TeamsTenantId"], TEAMS["TeamsTeamId"], TEAMS["TeamsChannelId"])
    assert teams["IamRoleArn"] == {"Fn::GetAtt": ["ChatChannelRole", "Arn"]}
    assert teams["GuardrailPolicies"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert "SlackChannel" not in resolved.resources, "Teams alone needs no Slack"
    role = resolved.resources["ChatChannelRole"]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    both = Resolved(template, SlackWorkspaceId="T0123ABCD", SlackChannelId="C0123456789", **TEAMS)
    assert {"SlackChannel", "TeamsChannel", "ChatChannelRole"} <= set(both.resources)
    for missing in TEAMS:
        partial = {k: v for k, v in TEAMS.items() if k != missing}
        assert rule_violations(Resolved(template, **partial)) == [
            "Set TeamsTenantId, TeamsTeamId and TeamsChannelId together, or none of them."]


def test_teams_ids_are_checked_when_the_stack_is_deployed(template):
    params = template["Parameters"]
    for name, good, bad in [
        ("TeamsTenantId", TEAMS["TeamsTenantId"], "contoso.onmicrosoft.com"),
        ("TeamsTeamId", TEAMS["TeamsTeamId"], "74361522da01438daa2eac7918c6bb92"),
        # The console's channel link has it URL-encoded; Teams shows it plain.
        ("TeamsChannelId", TEAMS["TeamsChannelId"], "19:0f1e2d3c4b5a69788796a5b4c3d2e1f0@thread.tacv2"),
    ]:
        allowed = params[name]["AllowedPattern"]
        assert re.fullmatch(allowed, good) and re.fullmatch(allowed, ""), name
        assert not re.fullmatch(allowed, bad), (name, bad)


def test_email_subscriptions_only_when_addresses_are_given(template):
    assert Resolved(template).of_type("AWS::SNS::Subscription") == {}
    resolved = Resolved(template, AlertEmail="team@example.com", OperationsEmail="ops@example.com")
    subscriptions = {(s["Properties"]["Endpoint"], str(s["Properties"]["TopicArn"]))
                     for s in resolved.of_type("AWS::SNS::Subscription").values()}
    assert subscriptions == {("team@example.com", str({"Ref": "AlertTopic"})),
                             ("ops@example.com", str({"Ref": "OperationsTopic"}))}


def test_outputs_name_the_topics_and_the_failure_queue(template):
    outputs = Resolved(template).outputs
    assert outputs["AlertTopicArn"]["Value"] == {"Ref": "AlertTopic"}
    assert outputs["ChatTopicArn"]["Value"] == {"Ref": "ChatTopic"}
    assert outputs["FailureQueueUrl"]["Value"] == {"Ref": "FailureQueue"}


def test_outputs_name_the_function_redrive_replays_into_and_the_findings_function(template):
    """`make redrive QUEUE_URL=<FailureQueueUrl> FUNCTION_NAME=<FunctionName>`
    (README, tools/redrive.py): the failure queue holds the scan function's
    OnFailure records, so FunctionName is the scan function."""
    outputs = Resolved(template).outputs
    assert outputs["FunctionName"]["Value"] == {"Ref": SCAN_FUNCTION}
    assert outputs["FindingsFunctionName"]["Value"] == {"Ref": FINDINGS_FUNCTION}
    assert outputs["FindingsDeadLetterQueueUrl"]["Value"] == {"Ref": "FindingsDeadLetterQueue"}
    assert outputs["FindingsQueueUrl"]["Value"] == {"Ref": "FindingsQueue"}, "make redrive's FINDINGS_QUEUE_URL"


def test_the_docs_document_every_parameter_with_its_default(template):
    operations = (ROOT / "docs" / "operations.md").read_text()
    table = operations[operations.index("## Parameters"):]
    table = table[:table.index("\n## ", 1)] if "\n## " in table[1:] else table
    for name, spec in template["Parameters"].items():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row, f"docs/operations.md's Parameters table has no row for {name}"
        default = str(spec["Default"])
        assert (f"`{default}`" if default else "(empty)") in row, f"{name}: default {default!r} not in {row!r}"


def test_policy_parameter_and_dedup_table_are_optional_and_least_privilege(template):
    on = Resolved(template)
    policy = on.resources["PolicyParameter"]["Properties"]
    assert policy["Type"] == "String"
    # No threshold of its own: SEVERITY_THRESHOLD applies (test_policy_parameter.py).
    assert json.loads(policy["Value"]) == {"version": 1}
    table = on.resources["DedupTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    statements = on.resources["FunctionPolicyAndDedupAccess"]["Properties"]["PolicyDocument"]["Statement"]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == ["dynamodb:GetItem", "dynamodb:UpdateItem", "ssm:GetParameter"]

    # Both functions apply the policy and remember alerts, with the same grants.
    assert on.resources["FunctionPolicyAndDedupAccess"]["Properties"]["Roles"] == [
        {"Ref": "FunctionRole"}, {"Ref": "FindingsFunctionRole"}]
    for role in ROLES.values():
        grants = role_grants(on, role)
        assert grants["ssm:GetParameter"] == [
            "arn:aws:ssm:us-east-1:123456789012:parameter/ecr-scan-alerts/policy"], role
        if role == ROLES[DIGEST_FUNCTION]:
            # The digest reads what was alerted and writes only its own
            # state items and runs (keys `digest#…`): never a record of an alert.
            assert sorted(a for a in grants if a.startswith("dynamodb:")) == [
                "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], role
            statements = on.resources["DigestTableAccess"]["Properties"]["PolicyDocument"]["Statement"]
            [put] = [s for s in statements if "dynamodb:PutItem" in as_list(s["Action"])]
            assert as_list(put["Action"]) == ["dynamodb:PutItem", "dynamodb:UpdateItem"]
            assert put["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["digest#*"]}}
            assert put["Resource"] == {"Fn::GetAtt": ["DedupTable", "Arn"]}
            continue
        assert grants["dynamodb:GetItem"] == grants["dynamodb:UpdateItem"] == [
            {"Fn::GetAtt": ["DedupTable", "Arn"]}], role

    off = Resolved(template, PolicyDocument="NONE", OnlyNewFindings="false")
    for name in ("PolicyParameter", "DedupTable", "FunctionPolicyAndDedupAccess", "DigestTableAccess"):
        assert name not in off.resources
    for name in HANDLERS:
        env = off.resources[name]["Properties"]["Environment"]["Variables"]
        assert "POLICY_PARAMETER_NAME" not in env and "DEDUP_TABLE_NAME" not in env


# -- least privilege and partitions ----------------------------------------------

ORGANISATION = {"MemberRoleName": "ecr-scan-alerts-reader", "OrganizationId": "o-abcdef1234"}


@pytest.mark.parametrize("variant", [*VARIANTS, "organisation"])
def test_resource_star_only_where_no_arn_exists_and_each_is_explained(template, variant):
    resolved = Resolved(template, **(ORGANISATION if variant == "organisation" else VARIANTS[variant]))
    assert wildcard_resource_problems(resolved) == []
    starred = {a for where, s in policy_statements(resolved.resources, "Resources")
               if "*" in as_list(s.get("Resource", [])) and "/KeyPolicy" not in where for a in as_list(s["Action"])}
    assert starred <= NO_RESOURCE_LEVEL
    assert uncommented_wildcard_resources(TEMPLATE) == []


@pytest.mark.parametrize("partition", PARTITIONS)
@pytest.mark.parametrize("params", [{}, {"RepositoryNames": "team/web", "RepositoryPrefix": "team/"}, ORGANISATION],
                         ids=["defaults", "prefix", "organisation"])
def test_every_arn_the_stack_builds_follows_the_partition(template, partition, params):
    assert partition_problems(template, **params) == []
    resolved = Resolved(template, pseudo=PARTITIONS[partition], **params)
    read = [s for s in resolved.resources["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            if s["Sid"] == "ReadScanFindingsOfWatchedRepositories"]
    assert read[0]["Resource"].startswith(f"arn:{partition}:ecr:")
    prefix = resolved.resources["FindingEventsRule"]["Properties"]["EventPattern"]["resources"][0]["prefix"]
    assert prefix.startswith(f"arn:{partition}:ecr:")


def test_the_operations_topic_may_be_in_any_partition(template):
    allowed = template["Parameters"]["OperationsTopicArn"]["AllowedPattern"]
    for arn in ("arn:aws:sns:us-east-1:123456789012:ops", "arn:aws-cn:sns:cn-north-1:123456789012:ops",
                "arn:aws-us-gov:sns:us-gov-west-1:123456789012:ops", ""):
        assert re.fullmatch(allowed, arn), arn
    assert not re.fullmatch(allowed, "arn:aws:sqs:us-east-1:123456789012:ops")


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_holds_the_central_boundaries(template, variant):
    assert central_problems(template, **VARIANTS[variant]) == []


def test_an_unexplained_resource_star_is_rejected(tmp_path):
    """The check above reads the comments: without them, every "*" is flagged."""
    stripped = tmp_path / "template.yaml"
    stripped.write_text("\n".join(re.sub(r"\s#.*$", "", line) for line in TEMPLATE.read_text().splitlines()
                                  if not line.lstrip().startswith("#")))
    flagged = uncommented_wildcard_resources(stripped)
    assert len(flagged) == TEMPLATE.read_text().count('Resource: "*"') > 0


def test_storms_are_counted_in_the_dedup_table_with_the_least_the_findings_function_needs(template):
    resolved = Resolved(template, StormThreshold="50")
    env = resolved.globals["Function"]["Environment"]["Variables"]
    assert (env["STORM_THRESHOLD"], env["STORM_TABLE_NAME"]) == ("50", {"Ref": "DedupTable"})
    storm = resolved.resources["FindingsStormAccess"]["Properties"]
    assert storm["Roles"] == [{"Ref": "FindingsFunctionRole"}], "the scan function counts no storm"
    assert storm["PolicyDocument"]["Statement"] == [{
        "Sid": "ReadStormCounts", "Effect": "Allow", "Action": "dynamodb:BatchGetItem",
        "Resource": {"Fn::GetAtt": ["DedupTable", "Arn"]}}]
    without = Resolved(template, OnlyNewFindings="false")
    assert "FindingsStormAccess" not in without.resources
    assert "STORM_TABLE_NAME" not in without.globals["Function"]["Environment"]["Variables"], \
        "without a table, storms are found within each batch"


# -- a lost Inspector2 Scan event: the findings function rechecks ---------------

def test_the_findings_function_waits_for_a_lost_scan_event_within_the_queues_receives(template):
    """An initial scan's finding events wait RECHECK_DELAY_SECONDS for the
    Inspector2 Scan alert: the findings function returns them to
    FindingsQueue (batchItemFailures), which delivers them again after its
    visibility timeout. The longest wait the stack allows must end before
    the redrive policy moves a waiting message to the dead-letter queue."""
    spec = template["Parameters"]["ScanEventRecheckSeconds"]
    assert (spec["Type"], spec["Default"], spec["MinValue"], spec["MaxValue"]) == ("Number", 900, 0, 900)
    resolved = Resolved(template, ScanEventRecheckSeconds=300)
    findings = resolved.resources[FINDINGS_FUNCTION]["Properties"]["Environment"]["Variables"]
    assert findings["RECHECK_DELAY_SECONDS"] == "300"
    assert "RECHECK_DELAY_SECONDS" not in resolved.resources[SCAN_FUNCTION]["Properties"]["Environment"]["Variables"]
    queue = resolved.resources["FindingsQueue"]["Properties"]
    batching = resolved.resources[FINDINGS_FUNCTION]["Properties"]["Events"]["FindingBatches"]["Properties"][
        "MaximumBatchingWindowInSeconds"]
    # Received at once (after the batching window), returned, received again
    # one visibility timeout later: by then the longest wait is over, with
    # receives to spare before maxReceiveCount.
    assert spec["MaxValue"] <= queue["VisibilityTimeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 3
    assert batching + queue["VisibilityTimeout"] < (queue["RedrivePolicy"]["maxReceiveCount"] - 1) * queue[
        "VisibilityTimeout"]
    # Nothing to send: the queue itself brings the messages back.
    assert "sqs:SendMessage" not in role_grants(resolved, "FindingsFunctionRole")
    assert Resolved(template, ScanEventRecheckSeconds=0).resources[FINDINGS_FUNCTION]["Properties"][
        "Environment"]["Variables"]["RECHECK_DELAY_SECONDS"] == "0", "0 turns the recheck off"


# -- permissions as AWS documents them ---------------------------------------------

# The Amazon ECR User Guide, "IAM permissions required for enhanced
# scanning": the Amazon Inspector actions a principal enabling and using
# enhanced scanning needs. Reading findings takes the read-only ones.
ENHANCED_SCANNING_READ = {"inspector2:ListFindings", "inspector2:ListCoverage", "inspector2:ListAccountPermissions"}
ENHANCED_SCANNING_ENABLE = {"inspector2:Enable", "inspector2:Disable", "iam:CreateServiceLinkedRole"}
# The digest's own reads of Amazon Inspector with enhanced scanning (Amazon
# Inspector API Reference, ListCoverage and ListFindingAggregations): the
# digest role's, and the member reader role's, through which it reads a
# member's registry.
DIGEST_INSPECTOR_READ = {"inspector2:ListCoverage", "inspector2:ListFindingAggregations"}


def test_reading_enhanced_findings_is_granted_as_the_ecr_guide_lists_it_and_cited(template):
    central = Resolved(template)
    member = Resolved(load(ROOT / "member.yaml"), CentralAccountId="999999999999")
    for name, resolved, expected in (("FunctionRole", central, ENHANCED_SCANNING_READ),
                                     ("DigestFunctionRole", central, ENHANCED_SCANNING_READ | DIGEST_INSPECTOR_READ),
                                     ("ReaderRole", member, ENHANCED_SCANNING_READ | DIGEST_INSPECTOR_READ)):
        grants = role_grants(resolved, name)
        inspector = {a for a in grants if a.startswith("inspector2:")}
        assert inspector == expected, name
        assert not ENHANCED_SCANNING_ENABLE & set(grants), f"{name} may enable or disable scanning"
        assert all(grants[a] == ["*"] for a in inspector), "no resource-level permissions"
    for path in (TEMPLATE, ROOT / "member.yaml"):
        comments = " ".join(line.split("#", 1)[1] for line in path.read_text().splitlines() if "#" in line)
        assert "IAM permissions required for enhanced scanning" in " ".join(comments.split()), path.name


# -- hardening ---------------------------------------------------------------------

@pytest.mark.parametrize("partition", ["aws", *PARTITIONS])
def test_the_functions_use_the_topic_key_through_sns_of_this_partition(template, partition):
    resolved = Resolved(template, pseudo=PARTITIONS.get(partition))
    (statement,) = [s for s in resolved.resources["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]
                    if s["Sid"] == "FunctionPublishesThroughSns"]
    region, suffix = resolved.pseudo["AWS::Region"], resolved.pseudo["AWS::URLSuffix"]
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"sns.{region}.{suffix}"}}
    if partition == "aws-cn":
        assert statement["Condition"]["StringEquals"]["kms:ViaService"] == "sns.cn-north-1.amazonaws.com.cn"


def test_only_chatbot_of_this_account_may_assume_the_chat_channel_role(template):
    resolved = Resolved(template, SlackWorkspaceId="T0123ABCD", SlackChannelId="C0123456789")
    (trust,) = resolved.resources["ChatChannelRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "chatbot.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


CHAT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@pytest.mark.parametrize("stack_name", ["ecr-scan-alerts", "s", "a" * 128, "team-" + "x" * 123])
def test_chat_configuration_names_fit_any_stack_name(template, stack_name):
    """Stack names take up to 128 characters; a configuration name too
    (AWS::Chatbot::*ChannelConfiguration, ConfigurationName)."""
    stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/9f8e7d6c-0000-4000-8000-000000000001"
    resolved = Resolved(template, pseudo={"AWS::StackName": stack_name, "AWS::StackId": stack_id},
                        SlackWorkspaceId="T0123ABCD", SlackChannelId="C0123456789", **TEAMS)
    names = {name: resolved.resources[name]["Properties"]["ConfigurationName"]
             for name in ("SlackChannel", "TeamsChannel")}
    for name, value in names.items():
        assert CHAT_NAME.fullmatch(value), (name, value)
        # Unique per stack: the stack id's first segment.
        assert value.endswith("-9f8e7d6c"), (name, value)
    assert len(set(names.values())) == 2


# -- who hears the alarms --------------------------------------------------------------

OPS_TOPIC = "arn:aws:sns:us-east-1:123456789012:ops"


@pytest.mark.parametrize("params, subscriber, reach", [
    ({}, None, "nobody"),
    ({"AlertEmail": "team@example.com"}, "team@example.com", "team@example.com"),
    ({"AlertEmail": "team@example.com", "OperationsEmail": "ops@example.com"}, "ops@example.com", "ops@example.com"),
    ({"OperationsEmail": "ops@example.com"}, "ops@example.com", "ops@example.com"),
    ({"AlertEmail": "team@example.com", "OperationsTopicArn": OPS_TOPIC}, None, OPS_TOPIC),
], ids=["nobody", "alert address", "operations address", "operations address alone", "given topic"])
def test_alarms_reach_the_operations_address_else_the_alert_address_and_the_output_says_who(
        template, params, subscriber, reach):
    resolved = Resolved(template, **params)
    topic = OPS_TOPIC if "OperationsTopicArn" in params else {"Ref": "OperationsTopic"}
    on_ops = [s["Properties"]["Endpoint"] for s in resolved.of_type("AWS::SNS::Subscription").values()
              if s["Properties"]["TopicArn"] == topic]
    assert on_ops == ([subscriber] if subscriber else [])
    said = resolved.outputs["AlarmsReach"]["Value"]
    assert reach in said, said
    if reach == "nobody":
        assert said.startswith("nobody") and "OperationsEmail" in said


def test_an_operations_address_goes_to_a_given_topic_too(template):
    resolved = Resolved(template, OperationsEmail="ops@example.com", OperationsTopicArn=OPS_TOPIC)
    (subscription,) = resolved.of_type("AWS::SNS::Subscription").values()
    assert (subscription["Properties"]["TopicArn"], subscription["Properties"]["Endpoint"]) == (
        OPS_TOPIC, "ops@example.com")
    assert "ops@example.com" in resolved.outputs["AlarmsReach"]["Value"]


# -- settings users change, as stack parameters ------------------------------------------

# Each parameter and the variable it sets; the allowed values are those of
# src/config.rs (and src/domain/commit_link.rs for the URL template).
SETTING_PARAMETERS = {
    "SourceUrlTemplate": "SOURCE_URL_TEMPLATE",
    "FindingsWaitSeconds": "FINDINGS_WAIT_SECONDS",
    "StormWindowMinutes": "STORM_WINDOW_MINUTES",
    "StormSummaryMinutes": "STORM_SUMMARY_MINUTES",
    "Metrics": "METRICS",
    "MetricsNamespace": "METRICS_NAMESPACE",
}


def test_each_setting_users_change_has_a_parameter_whose_default_is_the_functions(template):
    params = template["Parameters"]
    config = (ROOT / "src" / "config.rs").read_text()
    numbers = {"FindingsWaitSeconds": ("DEFAULT_FINDINGS_WAIT_SECONDS", 0, 60),
               "StormWindowMinutes": ("DEFAULT_STORM_WINDOW_MINUTES", 1, 1440),
               "StormSummaryMinutes": ("DEFAULT_STORM_SUMMARY_MINUTES", 0, 1440)}
    for name, (const, low, high) in numbers.items():
        default = int(re.search(rf"pub const {const}: u64 = (\d+);", config).group(1))
        spec = params[name]
        assert (spec["Type"], spec["Default"], spec["MinValue"], spec["MaxValue"]) == ("Number", default, low, high), name
    assert params["Metrics"]["AllowedValues"] == ["true", "false"] and params["Metrics"]["Default"] == "true"
    namespace = re.search(r'pub const DEFAULT_METRICS_NAMESPACE: &str = "([^"]+)";', config).group(1)
    assert params["MetricsNamespace"]["Default"] == namespace
    pattern = params["MetricsNamespace"]["AllowedPattern"]
    for good in (namespace, "Team/Scans", "a.b_c-d#e: f"):
        assert re.fullmatch(pattern, good), good
    for bad in ("", ":Scans", "Scans!", "x" * 256):
        assert not re.fullmatch(pattern, bad), bad
    assert params["SourceUrlTemplate"]["Default"] == ""


@pytest.mark.parametrize("good", [
    "", "https://git.example.com/{repository}/commit/{tag}", "https://github.com/acme/{repository}/tree/{tag}",
    "https://git.example.com/{account}/{region}/{repository}?ref={tag}",
])
def test_the_source_url_parameter_takes_what_the_function_takes(template, good):
    assert re.fullmatch(template["Parameters"]["SourceUrlTemplate"]["AllowedPattern"], good)


@pytest.mark.parametrize("bad", [
    "http://git.example.com/{tag}", "https://git.example.com/{repository}", "https://{repository}/{tag}",
    "https://git.example.com/{sha}/{tag}", "https://git.example.com/a b/{tag}", "https://user@git.example.com/{tag}",
])
def test_the_source_url_parameter_refuses_what_the_function_refuses(template, bad):
    assert not re.fullmatch(template["Parameters"]["SourceUrlTemplate"]["AllowedPattern"], bad)


@pytest.mark.parametrize("name", HANDLERS)
def test_the_setting_parameters_reach_both_functions_and_empty_leaves_the_default(template, name):
    given = {"SourceUrlTemplate": "https://git.example.com/{repository}/commit/{tag}", "FindingsWaitSeconds": 7,
             "StormWindowMinutes": 30, "StormSummaryMinutes": 5, "Metrics": "false", "MetricsNamespace": "Team/Scans"}
    variables = Resolved(template, **given).resources[name]["Properties"]["Environment"]["Variables"]
    assert {SETTING_PARAMETERS[p]: variables.get(SETTING_PARAMETERS[p]) for p in given} == {
        SETTING_PARAMETERS[p]: str(v) for p, v in given.items()}
    defaults = Resolved(template).resources[name]["Properties"]["Environment"]["Variables"]
    assert "SOURCE_URL_TEMPLATE" not in defaults, "empty: the function's default (no link)"


def test_owner_emails_subscribe_each_team_to_its_own_alerts(template):
    """One email subscription per OwnerEmails entry, filtered on the alerts'
    `owner` attribute; none without the parameter."""
    assert not [n for n in Resolved(template).resources if n.startswith("OwnerEmail")]
    resolved = Resolved(template, OwnerEmails="payments=pay-team@example.com,search=search@example.com")
    subscriptions = {n: r["Properties"] for n, r in resolved.resources.items() if n.startswith("OwnerEmail")}
    assert sorted(subscriptions) == ["OwnerEmailpaymentspayteamexamplecom", "OwnerEmailsearchsearchexamplecom"]
    by_endpoint = {p["Endpoint"]: p for p in subscriptions.values()}
    assert set(by_endpoint) == {"pay-team@example.com", "search@example.com"}
    for endpoint, owner in (("pay-team@example.com", "payments"), ("search@example.com", "search")):
        props = by_endpoint[endpoint]
        assert props["TopicArn"] == {"Ref": "AlertTopic"} and props["Protocol"] == "email"
        assert props["FilterPolicyScope"] == "MessageAttributes"
        assert props["FilterPolicy"] == {"owner": [owner]}
    pattern = re.compile(template["Parameters"]["OwnerEmails"]["AllowedPattern"])
    for good in ("", "payments=pay@example.com", "Team A/web=a@example.com"):
        assert pattern.fullmatch(good), good
    for bad in ("payments", "pay,ments=a@example.com", "=a@example.com", "a=b", "a*b=a@example.com"):
        assert not pattern.fullmatch(bad), bad


# -- the posture report's bucket (docs/report.md) ----------------------------------

def test_the_report_bucket_is_private_encrypted_tls_only_versioned_and_expires(template):
    on = Resolved(template, ReportRetentionDays=90)
    bucket = on.resources["ReportBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain"), \
        "reports are evidence: a deleted stack keeps them"
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["ReportKey", "Arn"]}}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], str(rule["ExpirationInDays"])) == ("Enabled", "90")
    assert template["Parameters"]["ReportRetentionDays"]["Default"] == 400
    [tls] = on.resources["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (tls["Effect"], tls["Principal"], tls["Action"]) == ("Deny", "*", "s3:*")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Resource"] == [{"Fn::GetAtt": ["ReportBucket", "Arn"]}, "${ReportBucket.Arn}/*"]
    # The key: only the digest role uses it directly, through S3.
    key = on.resources["ReportKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    users = [s for s in key["KeyPolicy"]["Statement"] if "kms:GenerateDataKey" in as_list(s["Action"])]
    assert [s["Principal"] for s in users] == [{"AWS": {"Fn::GetAtt": ["DigestFunctionRole", "Arn"]}}]
    for statement in key["KeyPolicy"]["Statement"]:
        if "kms:Decrypt" in as_list(statement["Action"]):
            assert statement["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    # The digest writes and reads under reports/ only, and lists that folder.
    grants = role_grants(on, ROLES[DIGEST_FUNCTION])
    assert grants["s3:PutObject"] == grants["s3:GetObject"] == ["${ReportBucket.Arn}/reports/*"]
    assert grants["s3:ListBucket"] == [{"Fn::GetAtt": ["ReportBucket", "Arn"]}]
    assert not [a for a in grants if a.startswith("s3:") and a not in ("s3:PutObject", "s3:GetObject", "s3:ListBucket")]
    env = on.resources[DIGEST_FUNCTION]["Properties"]["Environment"]["Variables"]
    assert env["REPORT_BUCKET_NAME"] == {"Ref": "ReportBucket"}

    for off in (Resolved(template, Report="false"), Resolved(template, DigestSchedule="none")):
        for name in ("ReportBucket", "ReportKey", "ReportBucketPolicy", "DigestReportAccess"):
            assert name not in off.resources
    env = Resolved(template, Report="false").resources[DIGEST_FUNCTION]["Properties"]["Environment"]["Variables"]
    assert "REPORT_BUCKET_NAME" not in env


def test_the_digest_reads_the_listed_regions_and_only_then_every_region(template):
    home = Resolved(template)
    env = home.resources[DIGEST_FUNCTION]["Properties"]["Environment"]["Variables"]
    assert "DIGEST_REGIONS" not in env
    reads = role_grants(home, ROLES[DIGEST_FUNCTION])["ecr:DescribeImages"]
    assert reads == ["arn:aws:ecr:us-east-1:123456789012:repository/*"], reads
    listed = Resolved(template, DigestRegions="us-east-1,eu-west-1")
    env = listed.resources[DIGEST_FUNCTION]["Properties"]["Environment"]["Variables"]
    assert env["DIGEST_REGIONS"] == "us-east-1,eu-west-1"
    reads = role_grants(listed, ROLES[DIGEST_FUNCTION])["ecr:DescribeImages"]
    assert reads == ["arn:aws:ecr:*:123456789012:repository/*"], reads
    # The scan function's reads stay in the stack's region.
    assert role_grants(listed, ROLES[SCAN_FUNCTION])["ecr:DescribeImageScanFindings"] == [
        "arn:aws:ecr:us-east-1:123456789012:repository/*"]


def test_the_digest_fans_out_through_its_own_queue_only_with_the_dedup_table(template):
    on = Resolved(template)
    queue = on.resources["DigestQueue"]["Properties"]
    # Six times the function's timeout, as Lambda's SQS guidance asks.
    assert queue["VisibilityTimeout"] == 6 * on.resources[DIGEST_FUNCTION]["Properties"]["Timeout"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DigestDeadLetterQueue", "Arn"]}, "maxReceiveCount": 3}
    mapping = on.resources["DigestWork"]["Properties"]
    assert (mapping["EventSourceArn"], mapping["FunctionName"], mapping["BatchSize"],
            mapping["FunctionResponseTypes"]) == (
        {"Fn::GetAtt": ["DigestQueue", "Arn"]}, {"Ref": DIGEST_FUNCTION}, 1, ["ReportBatchItemFailures"])
    assert mapping["ScalingConfig"]["MaximumConcurrency"] >= 2
    grants = role_grants(on, ROLES[DIGEST_FUNCTION])
    for action in ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert {"Fn::GetAtt": ["DigestQueue", "Arn"]} in grants[action], action
    # The schedule's time names the run (Scheduler fills the placeholder).
    target = on.resources["DigestScheduler"]["Properties"]["Target"]
    assert json.loads(target["Input"]) == {"digest": "scheduled",
                                           "scheduled_time": "<aws.scheduler.scheduled-time>"}
    for off in (Resolved(template, OnlyNewFindings="false"), Resolved(template, DigestSchedule="none")):
        for name in ("DigestQueue", "DigestDeadLetterQueue", "DigestQueueAccess", "DigestWork",
                     "DigestDeadLetterQueueAlarm"):
            assert name not in off.resources, name
    env = Resolved(template, OnlyNewFindings="false").resources[DIGEST_FUNCTION]["Properties"]["Environment"]
    assert "DIGEST_QUEUE_URL" not in env["Variables"]
