"""The comparator of `make bench`: the same work as the function's scan-event
path, written the way a Python Lambda would be (boto3, run by the AWS Lambda
Python runtime interface client, awslambdaric): read every page of the
image's findings, count them by severity, list those at or above the
threshold, and publish one alert to SNS. No dedup, policy document or chat
format: a lower bound on what the Python version of the function would cost.
"""

import os

import boto3

RANK = {"INFORMATIONAL": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
THRESHOLD = RANK[os.environ.get("SEVERITY_THRESHOLD", "HIGH")]
TOPIC = os.environ["ALERT_TOPIC_ARN"]
SNS_LIMIT = 256 * 1024

# Clients at init, as the function builds its own.
ecr = boto3.client("ecr")
sns = boto3.client("sns")


def handler(event, context):
    detail = event["detail"]
    # Basic scan events name the repository; Inspector's give its ARN.
    repository = detail["repository-name"].split(":repository/", 1)[-1]
    digest = detail["image-digest"]
    counts, listed, pages = {}, [], 0
    for page in ecr.get_paginator("describe_image_scan_findings").paginate(
            repositoryName=repository, imageId={"imageDigest": digest}, PaginationConfig={"PageSize": 1000}):
        pages += 1
        scan = page.get("imageScanFindings", {})
        for finding in scan.get("findings", []) + scan.get("enhancedFindings", []):
            severity = finding.get("severity", "UNDEFINED")
            counts[severity] = counts.get(severity, 0) + 1
            if RANK.get(severity, 0) >= THRESHOLD:
                listed.append((RANK[severity], finding.get("name") or finding.get("packageVulnerabilityDetails", {})
                               .get("vulnerabilityId", "?"), severity))
    listed.sort(reverse=True)
    subject = f"{len(listed)} finding(s) at or above threshold in {repository}"[:100]
    lines = [subject, "", ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), ""]
    size = sum(len(line) + 1 for line in lines)
    for _, name, severity in listed:
        line = f"{severity:<9} {name}"
        if size + len(line) + 1 > SNS_LIMIT - 1024:
            break
        lines.append(line)
        size += len(line) + 1
    if listed:
        sns.publish(TopicArn=TOPIC, Subject=subject, Message="\n".join(lines))
    return {"outcome": "alerted" if listed else "clean", "pages": pages}
