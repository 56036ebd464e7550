"""What a trigger's function receives, in each calling convention (docs/triggers.md).

Gale delivers a trigger's event as a CloudEvent in HTTP binary mode, as Eventarc does to Cloud Run:
``ce-*`` headers and the event's data as the JSON body, plus ``X-Gale-Trigger`` (which the gateway
passes on only from callers with the admin token). The bootstrap asks :func:`from_request` whether an
INVOKE is such an event, and then hands the function what its cloud would:

- ``def f(cloud_event)``: a :class:`CloudEvent` (``cloud_event.data``, ``cloud_event["type"]``), as
  Cloud Functions' Functions Framework passes one;
- ``def f(data, context)`` with ``signature = "background"``: Cloud Storage's object (or the state
  change) and a context with ``event_id``, ``timestamp``, ``event_type``, ``resource``;
- ``def lambda_handler(event, context)``: S3 event notification records for blobs, DynamoDB Streams
  records (NEW_AND_OLD_IMAGES) for state.

Standard library only.
"""

import json
from urllib.parse import quote_plus, unquote

TRIGGER_HEADER = "x-gale-trigger"
STATE_WRITTEN = "gale.state.v1.written"
STATE_DELETED = "gale.state.v1.deleted"
OBJECT_FINALIZED = "google.cloud.storage.object.v1.finalized"
OBJECT_DELETED = "google.cloud.storage.object.v1.deleted"
# The Cloud Functions (1st gen) names of the same events, what background functions compare context.event_type with.
LEGACY_TYPES = {
    OBJECT_FINALIZED: "google.storage.object.finalize",
    OBJECT_DELETED: "google.storage.object.delete",
}


class CloudEvent:
    """A CloudEvent as the Functions Framework hands one to ``def f(cloud_event)``: attributes by
    subscript (``event["type"]``, ``event["id"]``, ``event.get("subject")``), the payload as ``.data``."""

    def __init__(self, attributes, data):
        self._attributes = dict(attributes)
        self.data = data

    def __getitem__(self, key):
        return self._attributes[key]

    def __contains__(self, key):
        return key in self._attributes

    def get(self, key, default=None):
        return self._attributes.get(key, default)

    def get_attributes(self):
        return dict(self._attributes)

    def get_data(self):
        return self.data

    def __repr__(self):
        return f"CloudEvent({self._attributes!r}, data={self.data!r})"


def from_request(header, body):
    """The CloudEvent an INVOKE carries when it is a trigger's event; None for any other call."""
    attributes = {}
    trigger = None
    for name, value in header.get("headers") or ():
        lower = name.lower()
        if lower == TRIGGER_HEADER:
            trigger = value
        elif lower.startswith("ce-"):
            attributes[lower[3:]] = unquote(value)  # CloudEvents percent-encodes what a header cannot hold
        elif lower == "content-type":
            attributes["datacontenttype"] = value
    if trigger is None or "type" not in attributes:
        return None
    attributes["trigger"] = trigger
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = body
    return CloudEvent(attributes, data)


# --------------------------------------------------------------------------- Cloud Functions background events

class BackgroundContext:
    """The ``context`` of a Cloud Functions background function."""

    def __init__(self, event_id, timestamp, event_type, resource):
        self.event_id = event_id
        self.timestamp = timestamp
        self.event_type = event_type
        self.resource = resource

    def __repr__(self):
        return (f"BackgroundContext(event_id={self.event_id!r}, timestamp={self.timestamp!r}, "
                f"event_type={self.event_type!r}, resource={self.resource!r})")


def background(event):
    """(data, context) for ``def f(data, context)``, as a 1st gen Cloud Function gets them."""
    data = event.data
    if event["type"] in LEGACY_TYPES:
        resource = {"service": "storage.googleapis.com",
                    "name": f"projects/_/buckets/{data['bucket']}/objects/{data['name']}",
                    "type": "storage#object"}
        event_type = LEGACY_TYPES[event["type"]]
    else:
        resource = {"service": "gale.state", "name": f"namespaces/{data['namespace']}/keys/{data['key']}",
                    "type": "gale.state#entry"}
        event_type = event["type"]
    return data, BackgroundContext(event["id"], event.get("time"), event_type, resource)


# --------------------------------------------------------------------------- Lambda records

def lambda_event(event, region="gale"):
    """What a Lambda handler gets: S3 event notification records, or DynamoDB Streams records."""
    if event["type"] in (OBJECT_FINALIZED, OBJECT_DELETED):
        return {"Records": [_s3_record(event, region)]}
    if event["type"] in (STATE_WRITTEN, STATE_DELETED):
        return {"Records": [_dynamodb_record(event, region)]}
    return {"Records": [{"eventSource": "gale", "eventID": event["id"], "eventName": event["type"],
                         "data": event.data}]}


def _sequencer(event):
    return format(int(event.get("sequence") or 0), "016X")


def _s3_record(event, region):
    data = event.data
    created = event["type"] == OBJECT_FINALIZED
    obj = {"key": quote_plus(data["name"], safe="/"), "versionId": data["generation"], "sequencer": _sequencer(event)}
    if created:  # S3 leaves size and eTag out of a delete's record
        obj["size"] = int(data["size"])
        obj["eTag"] = data["etag"].split(":", 1)[-1]
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event.get("time"),
        "eventName": "ObjectCreated:Put" if created else "ObjectRemoved:Delete",
        "userIdentity": {"principalId": "gale"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": event["id"], "x-amz-id-2": event["id"]},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": event.get("trigger"),
            "bucket": {"name": data["bucket"], "ownerIdentity": {"principalId": "gale"},
                       "arn": f"arn:gale:s3:::{data['bucket']}"},
            "object": obj,
        },
    }


def _dynamodb_record(event, region):
    data = event.data
    keys = {"namespace": {"S": data["namespace"]}, "key": {"S": data["key"]}}
    stream = {"ApproximateCreationDateTime": _epoch_seconds(event.get("time")), "Keys": keys,
              "SequenceNumber": str(event.get("sequence") or 0), "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if data.get("newVersion") is not None:
        stream["NewImage"] = dict(keys, value=attribute(data.get("newValue")), version={"N": str(data["newVersion"])})
    if data.get("oldVersion") is not None:
        stream["OldImage"] = dict(keys, value=attribute(data.get("oldValue")), version={"N": str(data["oldVersion"])})
    stream["SizeBytes"] = len(json.dumps(stream, separators=(",", ":")))
    if data.get("oldVersion") is None:
        name = "INSERT"
    elif data.get("newVersion") is None:
        name = "REMOVE"
    else:
        name = "MODIFY"
    record = {"eventID": event["id"], "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
              "awsRegion": region, "dynamodb": stream,
              "eventSourceARN": f"arn:gale:dynamodb:{region}::table/{data['namespace']}/stream"}
    if data.get("expired"):  # as DynamoDB marks deletes by its TTL
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def attribute(value):
    """A JSON value as a DynamoDB attribute value, what boto3's TypeDeserializer reads."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": json.dumps(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [attribute(v) for v in value]}
    return {"M": {k: attribute(v) for k, v in value.items()}}


def _epoch_seconds(iso):
    if not iso:
        return 0
    from datetime import datetime
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
