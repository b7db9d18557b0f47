"""Puts repositories, images, scan findings, a topic and a queue into the
local emulator, and reads back the alerts that arrived."""

import datetime
import hashlib
import json
import time
import urllib.request
from pathlib import Path

from .local import ACCOUNT, REGION, ROOT

EVENTS = ROOT / "events"
# The severities ECR's findingSeverityCounts may name (its service model);
# Inspector's UNTRIAGED findings are listed but not counted there.
ECR_COUNTED = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNDEFINED"}
# digest -> the findings of its latest scan, so that scan events count what
# the scan has, as AWS's do.
SCANS = {}


def push_image(ecr, repository, tag=None, seed=None):
    """Pushes a small image and returns its digest. moto derives the digest
    from the layer digests, so each seed gives a distinct image."""
    seed = seed or f"{repository}:{tag}"
    layer = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
    config = "sha256:" + hashlib.sha256(f"config-{seed}".encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1000, "digest": config},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2000, "digest": layer}],
    }
    kwargs = {"repositoryName": repository, "imageManifest": json.dumps(manifest)}
    if tag:
        kwargs["imageTag"] = tag
    return ecr.put_image(**kwargs)["image"]["imageId"]["imageDigest"]


def ensure_repository(ecr, name):
    try:
        ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass


def scan_result(repository, digest, status="COMPLETE", description=None, basic=(), enhanced=(), account=ACCOUNT,
                completed_at=None):
    """A DescribeImageScanFindings answer for this image with these findings.
    A finished scan says when it completed (`imageScanCompletedAt`, epoch
    seconds on the wire; default: now), as ECR's answers do."""
    SCANS[digest] = list(basic) + list(enhanced)
    counts = {}
    for finding in list(basic) + list(enhanced):
        if finding["severity"] in ECR_COUNTED:
            counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    result = {
        "registryId": account,
        "repositoryName": repository,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status, "description": description or f"The scan status is {status}."},
        "imageScanFindings": {"findingSeverityCounts": counts, "findings": list(basic), "enhancedFindings": list(enhanced)},
    }
    if status in ("COMPLETE", "ACTIVE"):
        # AWS CLI reference, describe-image-scan-findings example output.
        now = int(time.time())
        result["imageScanFindings"]["imageScanCompletedAt"] = now if completed_at is None else completed_at
        result["imageScanFindings"]["vulnerabilitySourceUpdatedAt"] = now
    return result


def store_scan(moto_url, repository, digest, account=ACCOUNT, region=REGION, **scan):
    """Makes moto answer DescribeImageScanFindings for this image (in this
    account and region) with these findings."""
    result = scan_result(repository, digest, account=account, **scan)
    body = json.dumps({"results": [result], "region": region, "account_id": account}).encode()
    req = urllib.request.Request(f"{moto_url}/moto-api/static/ecr/scan-finding-results", data=body,
                                 method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()


def scanned_image(stack, repository, tag=None, seed=None, **scan):
    """Repository + image + started scan + stored findings. Returns the digest."""
    ecr = stack.client("ecr")
    ensure_repository(ecr, repository)
    digest = push_image(ecr, repository, tag, seed)
    ecr.start_image_scan(repositoryName=repository, imageId={"imageDigest": digest})
    store_scan(stack.moto_url, repository, digest, **scan)
    return digest


def member_client(stack, service, account, region=REGION, role="OrganizationAccountAccessRole"):
    """A client acting in another account of the organisation. moto lets STS
    assume a role in any account id and keeps each account's resources apart.
    It talks to moto directly, past the proxy's checks of the function."""
    import boto3

    sts = boto3.client("sts", endpoint_url=stack.moto_url, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="seed")["Credentials"]
    return boto3.client(service, endpoint_url=stack.moto_url, region_name=region,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


def member_role(stack, account, name, central=ACCOUNT):
    """The read-only role of a member account, trusting the central account
    (as the member template creates it)."""
    iam = member_client(stack, "iam", account)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{central}:root"}, "Action": "sts:AssumeRole"}]}
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        pass


def role_exists(stack, role_arn):
    """Whether IAM in the role's account has this role."""
    parts = role_arn.split(":")
    account, name = parts[4], parts[5].split("/")[-1]
    iam = member_client(stack, "iam", account)
    try:
        iam.get_role(RoleName=name)
        return True
    except iam.exceptions.NoSuchEntityException:
        return False


def scanned_image_in(stack, account, region, repository, tag=None, seed=None, **scan):
    """Like `scanned_image`, in another account and region. Returns the digest."""
    ecr = member_client(stack, "ecr", account, region=region)
    ensure_repository(ecr, repository)
    digest = push_image(ecr, repository, tag, seed or f"{account}/{region}/{repository}:{tag}")
    ecr.start_image_scan(repositoryName=repository, imageId={"imageDigest": digest})
    store_scan(stack.moto_url, repository, digest, account=account, region=region, **scan)
    return digest


def basic_finding(cve, severity, package="openssl", version="3.0.2", score=None, description=None):
    attributes = [{"key": "package_name", "value": package}, {"key": "package_version", "value": version}]
    if score is not None:
        attributes.append({"key": "CVSS3_SCORE", "value": str(score)})
    return {
        "name": cve,
        "description": description or f"{cve} in {package}",
        "uri": f"https://security-tracker.debian.org/tracker/{cve}",
        "severity": severity,
        "attributes": attributes,
    }


def image_usage(in_use, idle_days=None, pushed_days_ago=400):
    """ECR's image details of an enhanced finding (ECR API reference,
    AwsEcrContainerImageDetails): running in `in_use` places now, or, with
    `in_use=0`, last running `idle_days` ago (None: never recorded).
    Times are epoch seconds, as ECR's JSON writes them."""
    now = int(time.time())
    usage = {"inUseCount": in_use, "pushedAt": now - pushed_days_ago * 86400}
    if idle_days is not None:
        usage["lastInUseAt"] = now - idle_days * 86400
    return usage


def enhanced_finding(cve, severity, package="libcurl", version="7.88.1", fixed_in="8.5.0", score=7.5,
                     exploit="NO", usage=None):
    """An ECR enhanced finding; `usage` (see image_usage) adds the image's
    details to its resource, as ECR's findings carry them."""
    finding = {
        "title": f"{cve} - {package}",
        "description": f"{cve} affects {package}",
        "severity": severity,
        "score": score,
        "status": "ACTIVE",
        "type": "PACKAGE_VULNERABILITY",
        "fixAvailable": "YES" if fixed_in else "NO",
        "exploitAvailable": exploit,
        "packageVulnerabilityDetails": {
            "vulnerabilityId": cve,
            "source": "NVD",
            "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{cve}",
            "vulnerablePackages": [dict(name=package, version=version, **({"fixedInVersion": fixed_in} if fixed_in else {}))],
        },
    }
    if usage is not None:
        finding["resources"] = [{"type": "AWS_ECR_CONTAINER_IMAGE", "id": f"{cve}-image",
                                 "details": {"awsEcrContainerImage": dict(usage)}}]
    return finding


def inspector_findings(stack, repository, digest, scores, account=ACCOUNT, region=REGION):
    """Queues moto's answer to the next new ListFindings request: the
    image's Inspector findings with these EPSS scores ({cve: score}), in
    the Finding shape of the Inspector API reference (timestamps as epoch
    seconds). moto hands the queued answer to the first request it has not
    seen (its `list_findings` docstring), so queue it right before the
    event that reads it."""
    sample = json.loads((EVENTS / "inspector-finding.json").read_text())["detail"]
    now = int(time.time())
    findings = []
    for cve, score in sorted(scores.items(), key=lambda kv: -kv[1]):
        finding = json.loads(json.dumps(sample))
        finding.update(firstObservedAt=now, lastObservedAt=now, updatedAt=now, title=f"{cve} - openssl",
                       epss={"score": score},
                       findingArn=f"arn:aws:inspector2:{region}:{account}:finding/{hashlib.md5(cve.encode()).hexdigest()}")  # noqa: S324 - an id
        finding["packageVulnerabilityDetails"]["vulnerabilityId"] = cve
        resource = finding["resources"][0]
        resource["id"] = f"arn:aws:ecr:{region}:{account}:repository/{repository}/{digest}"
        resource["details"]["awsEcrContainerImage"].update(repositoryName=repository, imageHash=digest, pushedAt=now)
        findings.append(finding)
    body = json.dumps({"results": [findings], "region": region, "account_id": account}).encode()
    req = urllib.request.Request(f"{stack.moto_url}/moto-api/static/inspector2/findings-results", data=body,
                                 method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()


def subscribe_queue(stack, topic_arn, queue_name, filter_policy=None):
    """An SQS queue subscribed to the topic (optionally with a filter policy
    on the message attributes). Returns the queue URL."""
    sns, sqs = stack.client("sns"), stack.client("sqs")
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return queue_url


def alert_queue(stack, name="scan-alerts"):
    """An SNS topic with an SQS queue subscribed. Returns (topic_arn, queue_url)."""
    topic_arn = stack.client("sns").create_topic(Name=name)["TopicArn"]
    return topic_arn, subscribe_queue(stack, topic_arn, f"{name}-inbox")


def received_alerts(stack, queue_url, wait_seconds=1):
    """Every alert waiting on the queue, removed from it, as dicts with
    subject, message and attributes (as SNS delivered them)."""
    sqs = stack.client("sqs")
    alerts = []
    while True:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        messages = resp.get("Messages", [])
        if not messages:
            return alerts
        for msg in messages:
            envelope = json.loads(msg["Body"])
            alerts.append({
                "subject": envelope.get("Subject"),
                "message": envelope.get("Message"),
                "attributes": {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()},
            })
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
        wait_seconds = 0


def scanned_long_ago(stack, repository, digest, days, **rescan):
    """The image's last scan completed `days` ago. moto cannot date a scan
    back (nor allow a second one the same day), so the proxy shows the old
    completion time and answers StartImageScan for the image as ECR would
    for an image last scanned that long ago; the new scan then completes
    with `rescan`'s findings (default: the same findings)."""
    stack.proxy.age_scan(digest, int(time.time()) - days * 86_400,
                         scan_result(repository, digest, **rescan) if rescan else None)


def rescan(stack, repository, digest, **scan):
    """The same image scanned again with other findings (served by the proxy)."""
    stack.proxy.overrides[digest] = scan_result(repository, digest, **scan)


def image_details(stack, digest, **members):
    """What DescribeImages says of this image beyond moto's answer: these
    ImageDetail members replace the image's own (e.g.
    lastRecordedPullTime=epoch seconds, imagePushedAt=..., imageScanStatus=
    {"status": "SCAN_ELIGIBILITY_EXPIRED", "description": ...});
    harness.registry.OMIT leaves a member out."""
    stack.proxy.image_details[digest] = {**stack.proxy.image_details.get(digest, {}), **members}


def synthetic_image(repository, n, tags=None, scan=None, account=ACCOUNT, **detail):
    """Image `n` of a repository of a synthetic registry (see
    synthetic_registry): its digest derived from both, tagged `v{n}` unless
    `tags` says otherwise (() for an untagged image), scanned when `scan`
    gives scan_result's arguments (basic=..., enhanced=..., status=...,
    completed_at=...; None: never scanned). `detail`: more ImageDetail
    members (imagePushedAt, lastRecordedPullTime, imageSizeInBytes...)."""
    digest = "sha256:" + hashlib.sha256(f"synthetic/{account}/{repository}@{n}".encode()).hexdigest()
    image = {"imageDigest": digest, "registryId": account, **detail}
    tags = (f"v{n}",) if tags is None else tags
    if tags:
        image["imageTags"] = list(tags)
    if scan is not None:
        image["scan"] = scan_result(repository, digest, account=account, **scan)
    return image


def synthetic_fleet(repositories, images, scan=lambda r, i: {}, prefix="fleet", account=ACCOUNT, **repository):
    """A registry of `repositories` repositories (`{prefix}/team-NNNN`) of
    `images` images each, for synthetic_registry: `scan(r, i)` gives the
    scan_result arguments of image i of repository r (None: never scanned;
    default: a completed basic scan without findings); `repository`: more
    Repository members of each (e.g. imageScanningConfiguration)."""
    fleet = []
    for r in range(repositories):
        name = f"{prefix}/team-{r:04d}"
        fleet.append({"repositoryName": name, **repository,
                      "images": [synthetic_image(name, i, scan=scan(r, i), account=account) for i in range(images)]})
    return fleet


def synthetic_registry(stack, repositories, account=ACCOUNT, region=REGION):
    """Hands the proxy a whole registry held in memory (a list of Repository
    dicts with their `images`, as synthetic_fleet and synthetic_image build
    them): DescribeRepositories, DescribeImages and DescribeImageScanFindings
    answer for it without moto, still paged and checked against the ECR
    model. Far faster than pushing each image to moto. Returns the proxy's
    SyntheticRegistry; stack.proxy.drop_synthetic_registry(account, region)
    forgets it."""
    return stack.proxy.synthetic_registry(repositories, account=account, region=region)


def alerted_then_rescanned(stack, inbox, repository, tag, old, new):
    """An image alerted on for its basic findings `old` (that alert taken
    off the inbox), then scanned again with `new` added. Returns the scan
    event, to invoke again."""
    digest = scanned_image(stack, repository, tag, basic=old)
    event = event_for("basic-scan-complete.json", digest)
    event["detail"]["repository-name"] = repository
    event["detail"]["image-tags"] = [tag]
    ok, result = stack.invoke(event)
    assert ok, result
    received_alerts(stack, inbox)
    rescan(stack, repository, digest, basic=old + new)
    return event


def dedup_table(stack, name="scan-alerts-dedup"):
    """The DynamoDB table the function remembers alerts in (as the template creates it)."""
    ddb = stack.client("dynamodb")
    try:
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    except ddb.exceptions.ResourceInUseException:
        pass
    return name


def put_policy(stack, document, name="/scan-alerts/policy"):
    """Writes the policy document to SSM Parameter Store."""
    text = document if isinstance(document, str) else json.dumps(document)
    stack.client("ssm").put_parameter(Name=name, Value=text, Type="String", Overwrite=True)
    return name


def event_for(name, digest):
    """A sample event from events/, pointed at the digest moto gave the image,
    counting the findings its scan has (as AWS's events do: per severity,
    plus TOTAL from Inspector)."""
    event = json.loads((EVENTS / name).read_text())
    event["detail"]["image-digest"] = digest
    findings = SCANS.get(digest)
    if findings is not None and "finding-severity-counts" in event["detail"]:
        counts = {}
        for finding in findings:
            counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
        if event["detail-type"] == "Inspector2 Scan":
            counts["TOTAL"] = len(findings)
        event["detail"]["finding-severity-counts"] = counts
    return event


def finding_event_of(repository, digest, finding, **when):
    """The `Inspector2 Finding` event of an enhanced finding stored in ECR."""
    vuln = finding["packageVulnerabilityDetails"]
    package = vuln["vulnerablePackages"][0]
    return finding_event(repository, digest, vuln["vulnerabilityId"], finding["severity"], package=package["name"],
                         version=package["version"], fixed_in=package.get("fixedInVersion"), **when)


def inspector_time(moment, form="ecr-guide"):
    """A time as AWS's samples of Inspector's events write it: `ecr-guide`
    (Amazon ECR User Guide, `Nov 27, 2026, 11:01:15 AM`), `inspector-guide`
    (Amazon Inspector User Guide, `Fri Nov 27 11:01:15.411 UTC 2026`), or
    the API's forms `rfc3339` and `epoch-ms`."""
    if form == "ecr-guide":
        return f"{moment:%b} {moment.day}, {moment:%Y}, {moment.hour % 12 or 12}:{moment:%M:%S %p}"
    if form == "inspector-guide":
        return f"{moment:%a %b %d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC {moment:%Y}"
    if form == "rfc3339":
        return moment.isoformat().replace("+00:00", "Z")
    if form == "epoch-ms":
        return int(moment.timestamp() * 1000)
    raise ValueError(f"unknown time form {form!r}")


# The sample each time form's events start from: the guide that writes it.
SAMPLE_OF_FORM = {
    "ecr-guide": "inspector-finding.json",
    "inspector-guide": "inspector-finding-inspector-guide.json",
    "rfc3339": "inspector-finding-inspector-guide.json",
    "epoch-ms": "inspector-finding-inspector-guide.json",
}
TIME_FORMS = tuple(SAMPLE_OF_FORM)


def enhanced_push(stack, repository, findings, tag="v1", seed=None, time_form="ecr-guide", pushed_ago=0):
    """An image pushed to a registry on enhanced scanning, as Inspector
    reports it (ECR user guide, "EventBridge events sent for enhanced
    scanning"): one `Inspector2 Finding` event per finding, first observed
    seconds after the push, then the `Inspector2 Scan` event. `time_form`
    says how the finding events write their times (`inspector_time`);
    `pushed_ago`, how many seconds ago the image was pushed.
    Returns (digest, finding events, scan event)."""
    digest = scanned_image(stack, repository, tag, seed=seed, enhanced=findings, status="ACTIVE")
    pushed = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
              - datetime.timedelta(seconds=pushed_ago))
    finding_events = [
        finding_event_of(repository, digest, f, tags=(tag,), time_form=time_form,
                         pushed_at=pushed, first_observed_at=pushed + datetime.timedelta(seconds=17, milliseconds=411))
        for f in findings
    ]
    scan = event_for("enhanced-scan-complete.json", digest)
    scan["detail"]["repository-name"] = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"
    scan["resources"] = [scan["detail"]["repository-name"]]
    scan["detail"]["image-tags"] = [tag]
    return digest, finding_events, scan


def finding_event(repository, digest, cve, severity="HIGH", status="ACTIVE", package="openssl",
                  version="3.0.11", fixed_in="3.0.15", tags=("v1",), pushed_at=None, first_observed_at=None,
                  exploit=None, epss=None, in_use=None, time_form="ecr-guide", updated_at=None, account=ACCOUNT):
    """An `Inspector2 Finding` event for an ECR image, from the AWS sample in
    events/ that writes times in `time_form` (the ECR guide's: the resource's
    region and partition "N/A"; the Inspector guide's: real ones).
    By default a rescan's: first observed a week after the push."""
    event = json.loads((EVENTS / SAMPLE_OF_FORM[time_form]).read_text())
    detail = event["detail"]
    observed = first_observed_at or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    pushed = pushed_at or observed - datetime.timedelta(days=7)
    updated = updated_at or observed
    detail.update(firstObservedAt=inspector_time(observed, time_form),
                  lastObservedAt=inspector_time(updated, time_form),
                  updatedAt=inspector_time(updated, time_form), awsAccountId=account)
    event["account"] = account
    image = detail["resources"][0]
    image["id"] = f"arn:aws:ecr:{REGION}:{account}:repository/{repository}/{digest}"
    image["details"]["awsEcrContainerImage"].update(repositoryName=repository, imageHash=digest, registry=account,
                                                     imageTags=list(tags), pushedAt=inspector_time(pushed, time_form))
    if "image" in image["details"]:
        image["details"]["image"].update(repositoryName=repository, imageDigest=digest, registry=account,
                                         imageTags=list(tags), pushedAt=inspector_time(pushed, time_form))
    if "providerAccountId" in image:
        image["providerAccountId"] = account
    event["resources"] = [image["id"]]
    detail.update(severity=severity, status=status, title=f"{cve} - {package}")
    vuln = detail["packageVulnerabilityDetails"]
    vuln.update(vulnerabilityId=cve, sourceUrl=f"https://nvd.nist.gov/vuln/detail/{cve}")
    vuln["vulnerablePackages"][:] = vuln["vulnerablePackages"][:1]
    vuln["vulnerablePackages"][0].update(name=package, version=version)
    if fixed_in:
        vuln["vulnerablePackages"][0]["fixedInVersion"] = fixed_in
    else:
        vuln["vulnerablePackages"][0].pop("fixedInVersion", None)
        detail["fixAvailable"] = "NO"
    if exploit is not None:
        detail["exploitAvailable"] = exploit
    if epss is not None:
        detail["epss"] = {"score": epss}
    if in_use is not None:
        image["details"]["awsEcrContainerImage"]["inUseCount"] = in_use
    return event


def sqs_batch(bodies, queue="scan-alerts-findings"):
    """An SQS event as Lambda's event source mapping delivers it: one record
    per body (a dict is sent as JSON, a string as it is)."""
    records = []
    for i, body in enumerate(bodies):
        text = body if isinstance(body, str) else json.dumps(body)
        records.append({
            "messageId": f"msg-{i:04d}-{hashlib.sha256(text.encode()).hexdigest()[:8]}",
            "receiptHandle": f"handle-{i}",
            "body": text,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764240000000",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1764240000001"},
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
            "awsRegion": REGION,
        })
    return {"Records": records}
