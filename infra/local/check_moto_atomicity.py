"""Checks that the local stand-in keeps every acknowledged DynamoDB write.

Plain moto restores a snapshot of the table when a transaction fails, so a write
acknowledged meanwhile by another thread is silently lost (seen: 3 of 80). Tern's
tests race transactions against writes on purpose (send claims, audit appends), so
scripts/test runs this against the moto it started (infra/local/moto_server.py,
which serialises DynamoDB requests) and stops on a lost write.
Usage: python check_moto_atomicity.py ENDPOINT
"""

import sys
import threading
import uuid

import boto3

endpoint = sys.argv[1]
client = boto3.client(
    "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
)
table = "atomicity-" + uuid.uuid4().hex[:10]
client.create_table(
    TableName=table,
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)
# A table of some size makes moto's snapshot slow enough for writes to land meanwhile.
for i in range(300):
    client.put_item(TableName=table, Item={"pk": {"S": f"fill-{i}"}, "v": {"S": "x" * 200}})
client.put_item(TableName=table, Item={"pk": {"S": "taken"}})


def failing_transactions():
    for _ in range(10):
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "taken"}}, "ConditionExpression": "attribute_not_exists(pk)"}}
                ]
            )
        except client.exceptions.TransactionCanceledException:
            pass


acknowledged = []


def writes(n):
    for i in range(20):
        key = f"w-{n}-{i}"
        client.put_item(TableName=table, Item={"pk": {"S": key}})
        acknowledged.append(key)


threads = [threading.Thread(target=failing_transactions) for _ in range(4)]
threads += [threading.Thread(target=writes, args=(n,)) for n in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
lost = [key for key in acknowledged if "Item" not in client.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)]
client.delete_table(TableName=table)
if lost:
    sys.exit(f"the stand-in lost {len(lost)} of {len(acknowledged)} acknowledged writes: {lost[:5]}")
print(f"moto atomicity: {len(acknowledged)} writes raced against failing transactions, none lost")
