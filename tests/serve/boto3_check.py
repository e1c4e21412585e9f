"""boto3 against `bridge dev --serve` (run by tests/tests/serve.rs with AWS_ENDPOINT_URL set).

Exits non-zero with the failed check; prints "boto3: all checks passed" at the end.
"""
import json
import os
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3

endpoint = os.environ["AWS_ENDPOINT_URL"]
bucket_dir = os.environ["BRIDGE_BUCKET_DIR"]
s3 = boto3.client("s3", region_name="us-east-1")
sqs = boto3.client("sqs", region_name="us-east-1")
sns = boto3.client("sns", region_name="us-east-1")
events = boto3.client("events", region_name="us-east-1")


def take(queue_url):
    out = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10,
                              MessageAttributeNames=["All"], AttributeNames=["All"])
    messages = out.get("Messages", [])
    assert messages, f"no message in {queue_url}"
    m = messages[0]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return m


events_q = sqs.get_queue_url(QueueName="events-q")["QueueUrl"]
native_q = sqs.get_queue_url(QueueName="native-q")["QueueUrl"]
work_q = sqs.get_queue_url(QueueName="work-q")["QueueUrl"]
alerts_q = sqs.get_queue_url(QueueName="alerts-q")["QueueUrl"]

# Upload (boto3's own checksums, aws-chunked or not) -> EventBridge rule queue + native notification.
s3.put_object(Bucket="media", Key="py/hello.txt", Body=b"from boto3")
with open(os.path.join(bucket_dir, "py", "hello.txt"), "rb") as f:
    assert f.read() == b"from boto3"
event = json.loads(take(events_q)["Body"])
assert event["detail"]["reason"] == "PutObject", event
assert event["detail"]["object"]["key"] == "py/hello.txt", event
# First, the s3:TestEvent S3 sends when the notification configuration is saved.
test_event = json.loads(take(native_q)["Body"])
assert test_event["Event"] == "s3:TestEvent", test_event
records = json.loads(take(native_q)["Body"])
assert records["Records"][0]["eventName"] == "ObjectCreated:Put", records
assert s3.get_object(Bucket="media", Key="py/hello.txt")["Body"].read() == b"from boto3"
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="media", Prefix="py/")["Contents"]]
assert keys == ["py/hello.txt"], keys
s3.upload_file(__file__, "media", "py/with space+plus.py")
event = json.loads(take(events_q)["Body"])
assert event["detail"]["object"]["key"] == "py/with space+plus.py", event
take(native_q)
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="media", Prefix="py/")["Contents"]]
assert keys == ["py/hello.txt", "py/with space+plus.py"], keys

# SQS over JSON, with attributes (botocore checks MD5OfMessageBody and MD5OfMessageAttributes).
sqs.send_message(QueueUrl=work_q, MessageBody="hi",
                 MessageAttributes={"n": {"DataType": "Number", "StringValue": "3"},
                                    "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
m = take(work_q)
assert m["Body"] == "hi"
assert m["MessageAttributes"]["n"]["StringValue"] == "3", m
assert m["MessageAttributes"]["b"]["BinaryValue"] == b"\x00\x01", m
assert m["Attributes"]["ApproximateReceiveCount"] == "1", m

# SQS over the query protocol (older SDKs): form POST, XML answer.
def query(params):
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(endpoint + "/", data=data,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())

ns = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}
status, doc = query({"Action": "SendMessage", "QueueUrl": work_q, "MessageBody": "via query",
                     "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
                     "MessageAttribute.1.Value.StringValue": "v"})
assert status == 200, ET.tostring(doc)
assert doc.find(".//q:MessageId", ns) is not None
status, doc = query({"Action": "ReceiveMessage", "QueueUrl": work_q, "WaitTimeSeconds": "5",
                     "MessageAttributeName.1": "All"})
assert status == 200
assert doc.find(".//q:Message/q:Body", ns).text == "via query", ET.tostring(doc)
assert doc.find(".//q:Message/q:MessageAttribute/q:Name", ns).text == "k"
handle = doc.find(".//q:Message/q:ReceiptHandle", ns).text
status, doc = query({"Action": "DeleteMessage", "QueueUrl": work_q, "ReceiptHandle": handle})
assert status == 200, ET.tostring(doc)
status, doc = query({"Action": "GetQueueUrl", "QueueName": "nope"})
assert status == 400
assert doc.find(".//q:Error/q:Code", ns).text == "AWS.SimpleQueueService.NonExistentQueue"

# PutEvents -> rule -> SNS topic -> subscribed queue; SNS publish (query protocol).
out = events.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": '{"py": true}'}])
assert out["FailedEntryCount"] == 0, out
envelope = json.loads(take(alerts_q)["Body"])
assert json.loads(envelope["Message"])["detail"] == {"py": True}, envelope
topic = sns.list_topics()["Topics"][0]["TopicArn"]
sns.publish(TopicArn=topic, Message="from boto3",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "x"}})
envelope = json.loads(take(alerts_q)["Body"])
assert envelope["Message"] == "from boto3", envelope
assert envelope["MessageAttributes"]["kind"]["Value"] == "x", envelope

# Errors come back as botocore exceptions with AWS's codes.
try:
    sqs.get_queue_url(QueueName="nope")
    raise AssertionError("no error for a missing queue")
except sqs.exceptions.QueueDoesNotExist:
    pass
try:
    s3.get_object(Bucket="media", Key="missing")
    raise AssertionError("no error for a missing key")
except s3.exceptions.NoSuchKey:
    pass

# Object metadata: kept by PutObject and CopyObject, returned by HeadObject/GetObject.
s3.put_object(Bucket="media", Key="py/meta.json", Body=b"{}", ContentType="application/json",
              CacheControl="no-cache", ContentDisposition="attachment", Metadata={"Source": "py"})
head = s3.head_object(Bucket="media", Key="py/meta.json")
assert head["ContentType"] == "application/json", head
assert head["CacheControl"] == "no-cache", head
assert head["ContentDisposition"] == "attachment", head
assert head["Metadata"] == {"source": "py"}, head
got = s3.get_object(Bucket="media", Key="py/meta.json")
assert got["ContentType"] == "application/json" and got["Metadata"] == {"source": "py"}, got
s3.copy_object(Bucket="media", Key="py/meta-copy.json", CopySource="media/py/meta.json",
               MetadataDirective="REPLACE", Metadata={"copied": "yes"})
head = s3.head_object(Bucket="media", Key="py/meta-copy.json")
assert head["Metadata"] == {"copied": "yes"}, head
assert head["ContentType"] == "binary/octet-stream", head
for _ in range(2):  # the two uploads' events
    take(events_q)
    take(native_q)

# The control plane: queues and rules made over the wire, with AWS's error codes.
url = sqs.create_queue(QueueName="py-wire", Attributes={"VisibilityTimeout": "40"},
                       tags={"k": "v"})["QueueUrl"]
assert url.endswith("/py-wire"), url
assert sqs.create_queue(QueueName="py-wire", Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
try:
    sqs.create_queue(QueueName="py-wire", Attributes={"VisibilityTimeout": "41"})
    raise AssertionError("no error for a queue that exists with other attributes")
except sqs.exceptions.QueueNameExists as e:
    assert e.response["Error"]["Code"] == "QueueAlreadyExists", e.response
assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
sqs.tag_queue(QueueUrl=url, Tags={"k2": "v2"})
assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v", "k2": "v2"}
status, doc = query({"Action": "ListQueueTags", "QueueUrl": url})
assert status == 200 and doc.find(".//q:Tag/q:Key", ns).text == "k", ET.tostring(doc)
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
try:
    events.put_rule(Name="py-rule", EventPattern='{"source": "py"}')
    raise AssertionError("no error for an invalid pattern")
except events.exceptions.InvalidEventPatternException as e:
    assert e.response["Error"]["Message"].startswith("Event pattern is not valid. Reason: "), e.response
events.put_rule(Name="py-rule", EventPattern='{"source": ["py.wire"]}')
events.put_targets(Rule="py-rule", Targets=[{"Id": "q", "Arn": arn, "Input": '{"fixed": 1}'}])
events.put_events(Entries=[{"Source": "py.wire", "DetailType": "x", "Detail": "{}"}])
assert json.loads(take(url)["Body"]) == {"fixed": 1}
try:
    events.remove_targets(Rule="no-such-rule", Ids=["q"])
    raise AssertionError("no error for a missing rule")
except events.exceptions.ResourceNotFoundException:
    pass
events.remove_targets(Rule="py-rule", Ids=["q"])
events.delete_rule(Name="py-rule")
sqs.delete_queue(QueueUrl=url)
try:
    sqs.delete_queue(QueueUrl=url)
    raise AssertionError("no error for a deleted queue")
except sqs.exceptions.QueueDoesNotExist:
    pass

print("boto3: all checks passed")
