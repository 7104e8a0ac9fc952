"""moto's server, with DynamoDB requests made atomic as they are on AWS.

moto serves requests on threads and checks a conditional write's condition, then
writes, without a lock: two concurrent `PutItem`s with `attribute_not_exists(pk)`
(or a transaction and a put on the same item) can both succeed, and concurrent
`UpdateItem ADD`s can lose counts. DynamoDB guarantees each item write (and each
transaction) is atomic, and Tern's exactly-once sending, throttles and audit chain
rest on that. So this wrapper serialises moto's DynamoDB requests (one at a time,
each whole); the other services keep moto's threads (SQS long polls must not block
the table). Usage is exactly moto_server's: `python moto_server.py -H 127.0.0.1 -p N`.
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_dynamodb = threading.RLock()
_call_action = DynamoHandler.call_action


def _serialised_call_action(self):
    with _dynamodb:
        return _call_action(self)


DynamoHandler.call_action = _serialised_call_action

if __name__ == "__main__":
    main()
