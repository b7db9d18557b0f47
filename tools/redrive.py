"""Replays events that ended in a failure queue after an outage.

Two kinds of message are understood:
- records from the function's asynchronous-invocation OnFailure destination
  (`requestPayload` holds the original event);
- events from the EventBridge rule target's dead-letter queue (the body is
  the event itself).

Each scan event is sent to the scan-events function with a synchronous
invoke; the message is deleted only when the function succeeded, so nothing
is lost, and a failed event stays in the queue with its error printed. With
DEDUP_TABLE_NAME set on the function, running it twice sends no alert twice.

The rule dead-letter queue also holds `Inspector2 Finding` events that
EventBridge could not put on the findings queue. Those belong to the
finding-batches function, which reads the findings queue: with
--findings-queue-url they are sent back there (then deleted here); without
it they are left in the queue, never replayed into the scan function, which
would acknowledge them without an alert.

    python tools/redrive.py --queue-url URL --function-name NAME [--findings-queue-url URL] [--max N] [--dry-run]

Credentials and region come from the usual AWS environment; AWS_ENDPOINT_URL
and AWS_ENDPOINT_URL_LAMBDA point it at local emulators.
"""

import argparse
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def event_of(body):
    """The original event inside a failure-queue message body, or None."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    if "requestPayload" in message:  # Lambda OnFailure destination record
        return message["requestPayload"]
    if "detail-type" in message and "source" in message:  # EventBridge DLQ
        return message
    return None


def is_finding_event(event):
    return event.get("source") == "aws.inspector2" and event.get("detail-type") == "Inspector2 Finding"


def redrive(sqs, lam, queue_url, function_name, limit, dry_run, out=sys.stdout, findings_queue_url=None):
    """Returns (replayed, failed, skipped)."""
    replayed = failed = skipped = 0
    seen = set()
    while replayed + failed + skipped < limit:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=120)
        messages = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            break
        for msg in messages:
            seen.add(msg["MessageId"])
            event = event_of(msg["Body"])
            if event is None:
                skipped += 1
                print(f"skip  {msg['MessageId']}: not a failure record or an event; left in the queue", file=out)
                continue
            name = f"{event.get('detail-type')} {(event.get('detail') or {}).get('repository-name')}"
            if is_finding_event(event):
                if not findings_queue_url:
                    skipped += 1
                    print(f"skip  {msg['MessageId']}: an Inspector2 Finding event; give --findings-queue-url "
                          "(FindingsQueueUrl) to send it back to the findings queue; left in the queue", file=out)
                    continue
                if dry_run:
                    replayed += 1
                    print(f"would send {msg['MessageId']} to the findings queue: {name}", file=out)
                    continue
                sqs.send_message(QueueUrl=findings_queue_url, MessageBody=json.dumps(event))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
                replayed += 1
                print(f"ok    {msg['MessageId']}: {name}: sent to the findings queue", file=out)
                continue
            if dry_run:
                replayed += 1
                print(f"would replay {msg['MessageId']}: {name}", file=out)
                continue
            try:
                result = lam.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                    Payload=json.dumps(event).encode())
                payload = result["Payload"].read().decode(errors="replace")
                function_error = result.get("FunctionError")
            except ClientError as err:  # throttled, or an emulator that answers errors with 5xx
                error = err.response.get("Error") or {}
                payload = json.dumps({"errorType": error.get("Code"), "errorMessage": error.get("Message")})
                function_error = "InvokeError"
            if function_error:
                failed += 1
                print(f"FAIL  {msg['MessageId']}: {name}: {payload}; left in the queue", file=out)
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
            replayed += 1
            print(f"ok    {msg['MessageId']}: {name}: {payload}", file=out)
    return replayed, failed, skipped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True, help="failure queue or rule dead-letter queue")
    parser.add_argument("--function-name", required=True, help="the scan-events function (FunctionName)")
    parser.add_argument("--findings-queue-url", help="where Inspector2 Finding events go back (FindingsQueueUrl)")
    parser.add_argument("--max", type=int, default=1000, help="stop after this many messages")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    args = parser.parse_args(argv)
    # One attempt per event: a function error is reported, not re-run.
    lam = boto3.client("lambda", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    replayed, failed, skipped = redrive(boto3.client("sqs"), lam, args.queue_url,
                                        args.function_name, args.max, args.dry_run,
                                        findings_queue_url=args.findings_queue_url)
    print(f"{replayed} replayed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
