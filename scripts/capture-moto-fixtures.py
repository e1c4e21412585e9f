#!/usr/bin/env python3
"""Capture real SQS message bodies from an AWS-compatible server (moto) as normalize fixtures.

Starts nothing itself: it talks to the server named by BRIDGE_TEST_ENDPOINT, e.g.

    scripts/moto-server.sh start 5077
    BRIDGE_TEST_ENDPOINT=http://127.0.0.1:5077 scripts/capture-moto-fixtures.py
    scripts/moto-server.sh stop 5077

It builds every delivery path `bridge normalize` reads:
  - a versioned bucket with a native S3 -> SQS notification (queue `native`),
  - the same bucket -> SNS topic -> SQS, once enveloped (queue `sns`) and once with raw
    message delivery (queue `sns-raw`),
  - the bucket's EventBridge delivery -> default bus -> rule {source: aws.s3} -> SQS (`eventbridge`),
  - a custom `com.quiltdata` / `package-revision` event -> rule -> SQS (`custom`),
then puts, copies, tags and deletes objects whose keys have spaces, `+`, unicode and `%`,
receives every body and writes it verbatim to
bridge/tests/fixtures/normalize/moto-<queue>-<nn>-<what>.body.json (old moto-* files are
replaced). Golden outputs are written by the Rust test with BLESS=1.
"""

import json
import os
import pathlib
import re
import sys
import time
from urllib.parse import unquote_plus

import boto3

REGION = "us-east-1"
KEYS = [
    "reports/monthly report.csv",  # space
    "math/1+1=2.txt",  # plus
    "unicode/café-€-日本.txt",  # non-ASCII
    "percent/100%25 done%.txt",  # literal percent signs (and a %25 sequence)
]
OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "bridge/tests/fixtures/normalize"


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def drain(sqs, url):
    """Every body on the queue, in arrival order (moto keeps FIFO order for a standard queue)."""
    bodies = []
    idle = 0
    while idle < 3:
        out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = out.get("Messages", [])
        if not messages:
            idle += 1
            time.sleep(0.2)
            continue
        idle = 0
        for m in messages:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def describe(body):
    """A short file-name slug for a body: what it is and which key it is about."""
    try:
        value = json.loads(body)
    except ValueError:
        return "not-json"
    if value.get("Type") == "Notification":
        try:
            value = json.loads(value["Message"])
        except (KeyError, ValueError):
            return "sns"
    if "Records" in value:
        record = value["Records"][0]
        what = record.get("eventName", "record")
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
    elif value.get("Event") == "s3:TestEvent":
        what, key = "test-event", ""
    elif "detail-type" in value:
        what = value["detail-type"]
        detail = value.get("detail") or {}
        key = (detail.get("object") or {}).get("key", "") if isinstance(detail, dict) else ""
    else:
        what, key = "unknown", ""
    slug = f"{what}-{key}".lower()
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")
    return slug[:60] or "body"


def main():
    endpoint = os.environ.get("BRIDGE_TEST_ENDPOINT")
    if not endpoint:
        sys.exit(
            "BRIDGE_TEST_ENDPOINT is not set; start a server with "
            "`scripts/moto-server.sh start 5077` and export "
            "BRIDGE_TEST_ENDPOINT=http://127.0.0.1:5077"
        )
    s3 = client("s3", endpoint)
    sqs = client("sqs", endpoint)
    sns = client("sns", endpoint)
    events = client("events", endpoint)

    suffix = str(int(time.time()))
    bucket = f"bridge-fixtures-{suffix}"
    queues = {
        name: queue(sqs, f"bridge-fixtures-{name}-{suffix}")
        for name in ["native", "sns", "sns-raw", "eventbridge", "custom"]
    }

    topic_arn = sns.create_topic(Name=f"bridge-fixtures-{suffix}")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queues["sns"][1])
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queues["sns-raw"][1],
        Attributes={"RawMessageDelivery": "true"},
    )

    rule = f"bridge-fixtures-s3-{suffix}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queues["eventbridge"][1]}])
    custom_rule = f"bridge-fixtures-custom-{suffix}"
    events.put_rule(
        Name=custom_rule,
        EventPattern=json.dumps({"source": ["com.quiltdata"], "detail-type": ["package-revision"]}),
    )
    events.put_targets(Rule=custom_rule, Targets=[{"Id": "q", "Arn": queues["custom"][1]}])

    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "native-to-sqs",
                    "QueueArn": queues["native"][1],
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectTagging:*"],
                }
            ],
            "TopicConfigurations": [
                {
                    "Id": "native-to-sns",
                    "TopicArn": topic_arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ],
            "EventBridgeConfiguration": {},
        },
    )

    for i, key in enumerate(KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=f"object {i}: {key}\n".encode())
    s3.copy_object(
        Bucket=bucket, Key="copies/monthly report (copy).csv", CopySource={"Bucket": bucket, "Key": KEYS[0]}
    )
    s3.put_object_tagging(
        Bucket=bucket, Key=KEYS[1], Tagging={"TagSet": [{"Key": "stage", "Value": "raw"}]}
    )
    # Versioned bucket: a plain delete creates a delete marker; deleting a version is permanent.
    s3.delete_object(Bucket=bucket, Key=KEYS[2])
    version = s3.list_object_versions(Bucket=bucket, Prefix=KEYS[3])["Versions"][0]["VersionId"]
    s3.delete_object(Bucket=bucket, Key=KEYS[3], VersionId=version)

    events.put_events(
        Entries=[
            {
                "Source": "com.quiltdata",
                "DetailType": "package-revision",
                "Detail": json.dumps(
                    {
                        "type": "created",
                        "bucket": bucket,
                        "handle": "team/monthly report",
                        "topHash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    }
                ),
            }
        ]
    )

    for old in OUT_DIR.glob("moto-*.body.json"):
        old.unlink()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, (url, _) in queues.items():
        bodies = drain(sqs, url)
        if not bodies:
            print(f"warning: queue {name} received nothing", file=sys.stderr)
        for n, body in enumerate(bodies):
            path = OUT_DIR / f"moto-{name}-{n:02}-{describe(body)}.body.json"
            path.write_text(body + "\n", encoding="utf-8")
            written += 1
    print(f"wrote {written} fixtures to {OUT_DIR}")


if __name__ == "__main__":
    main()
