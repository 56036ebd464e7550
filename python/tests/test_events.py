"""gale._events: what a trigger's event looks like in each calling convention (docs/triggers.md)."""

import json
import unittest

from gale import _events

STORAGE_HEADERS = [
    ["Content-Type", "application/json"], ["ce-specversion", "1.0"], ["ce-id", "ev-1"],
    ["ce-source", "//gale/blobs/buckets/models"], ["ce-type", _events.OBJECT_FINALIZED],
    ["ce-subject", "objects/churn/v%202.pkl"], ["ce-time", "2026-12-06T02:17:50.120Z"], ["ce-sequence", "42"],
    ["X-Gale-Trigger", "tr-0123456789ab"],
]
STORAGE_DATA = {"kind": "storage#object", "bucket": "models", "name": "churn/v 2.pkl", "generation": "3",
                "size": "1234", "etag": "sha256:ab12", "contentType": "application/octet-stream"}


def state_event(old_version, new_version, old=None, new=None, expired=False):
    data = {"namespace": "survey", "key": "responses/17", "kind": "put" if new_version else "delete",
            "newValue": new, "newVersion": new_version, "oldValue": old, "oldVersion": old_version,
            "expiresAt": None, "expired": expired}
    headers = [["ce-id", "ev-2"], ["ce-type", _events.STATE_WRITTEN if new_version else _events.STATE_DELETED],
               ["ce-time", "2026-12-06T02:17:50Z"], ["ce-sequence", "7"], ["x-gale-trigger", "tr-1"]]
    return _events.from_request({"headers": headers}, json.dumps(data).encode())


class FromRequestTest(unittest.TestCase):

    def test_a_call_without_the_trigger_header_is_no_event(self):
        headers = [h for h in STORAGE_HEADERS if h[0] != "X-Gale-Trigger"]
        self.assertIsNone(_events.from_request({"headers": headers}, json.dumps(STORAGE_DATA).encode()))

    def test_a_trigger_delivery_is_a_cloudevent_with_decoded_attributes_and_json_data(self):
        event = _events.from_request({"headers": STORAGE_HEADERS}, json.dumps(STORAGE_DATA).encode())
        self.assertEqual(event["type"], _events.OBJECT_FINALIZED)
        self.assertEqual(event["subject"], "objects/churn/v 2.pkl")
        self.assertEqual(event.get("trigger"), "tr-0123456789ab")
        self.assertEqual(event.get("missing", "default"), "default")
        self.assertEqual(event.data, STORAGE_DATA)
        self.assertEqual(event.get_data(), STORAGE_DATA)
        self.assertEqual(event.get_attributes()["datacontenttype"], "application/json")


class LambdaEventTest(unittest.TestCase):

    def test_a_finalized_blob_is_an_s3_put_record_with_the_key_url_encoded(self):
        event = _events.from_request({"headers": STORAGE_HEADERS}, json.dumps(STORAGE_DATA).encode())
        record = _events.lambda_event(event)["Records"][0]
        self.assertEqual(record["eventSource"], "aws:s3")
        self.assertEqual(record["eventName"], "ObjectCreated:Put")
        self.assertEqual(record["eventTime"], "2026-12-06T02:17:50.120Z")
        self.assertEqual(record["s3"]["bucket"]["name"], "models")
        self.assertEqual(record["s3"]["configurationId"], "tr-0123456789ab")
        self.assertEqual(record["s3"]["object"], {"key": "churn/v+2.pkl", "size": 1234, "eTag": "ab12",
                                                  "versionId": "3", "sequencer": "000000000000002A"})

    def test_a_deleted_blob_is_an_s3_delete_record_without_size_or_etag(self):
        headers = [h if h[0] != "ce-type" else ["ce-type", _events.OBJECT_DELETED] for h in STORAGE_HEADERS]
        record = _events.lambda_event(_events.from_request({"headers": headers}, json.dumps(STORAGE_DATA).encode()))["Records"][0]
        self.assertEqual(record["eventName"], "ObjectRemoved:Delete")
        self.assertNotIn("size", record["s3"]["object"])
        self.assertNotIn("eTag", record["s3"]["object"])

    def test_state_changes_are_dynamodb_stream_records_insert_modify_remove(self):
        insert = _events.lambda_event(state_event(None, 5, new={"score": 3}))["Records"][0]
        self.assertEqual(insert["eventName"], "INSERT")
        self.assertEqual(insert["eventSource"], "aws:dynamodb")
        self.assertEqual(insert["dynamodb"]["Keys"], {"namespace": {"S": "survey"}, "key": {"S": "responses/17"}})
        self.assertEqual(insert["dynamodb"]["NewImage"]["value"], {"M": {"score": {"N": "3"}}})
        self.assertEqual(insert["dynamodb"]["NewImage"]["version"], {"N": "5"})
        self.assertNotIn("OldImage", insert["dynamodb"])
        self.assertEqual(insert["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES")
        self.assertEqual(insert["dynamodb"]["SequenceNumber"], "7")
        modify = _events.lambda_event(state_event(5, 9, old={"score": 3}, new={"score": 4}))["Records"][0]
        self.assertEqual(modify["eventName"], "MODIFY")
        self.assertEqual(modify["dynamodb"]["OldImage"]["value"], {"M": {"score": {"N": "3"}}})
        remove = _events.lambda_event(state_event(9, None, old={"score": 4}))["Records"][0]
        self.assertEqual(remove["eventName"], "REMOVE")
        self.assertNotIn("NewImage", remove["dynamodb"])
        self.assertNotIn("userIdentity", remove)

    def test_a_delete_by_the_ttl_sweep_is_marked_as_dynamodb_marks_its_ttl_deletes(self):
        record = _events.lambda_event(state_event(9, None, old=1, expired=True))["Records"][0]
        self.assertEqual(record["userIdentity"], {"type": "Service", "principalId": "dynamodb.amazonaws.com"})

    def test_json_values_become_dynamodb_attribute_values(self):
        self.assertEqual(_events.attribute({"a": [1, "x", True, None, 2.5]}),
                         {"M": {"a": {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": True}, {"NULL": True}, {"N": "2.5"}]}}})


class BackgroundTest(unittest.TestCase):

    def test_a_finalized_blob_is_the_storage_object_with_a_first_generation_context(self):
        event = _events.from_request({"headers": STORAGE_HEADERS}, json.dumps(STORAGE_DATA).encode())
        data, context = _events.background(event)
        self.assertEqual(data, STORAGE_DATA)
        self.assertEqual(context.event_id, "ev-1")
        self.assertEqual(context.event_type, "google.storage.object.finalize")
        self.assertEqual(context.timestamp, "2026-12-06T02:17:50.120Z")
        self.assertEqual(context.resource, {"service": "storage.googleapis.com",
                                            "name": "projects/_/buckets/models/objects/churn/v 2.pkl",
                                            "type": "storage#object"})

    def test_a_state_change_keeps_its_type_and_names_the_key(self):
        data, context = _events.background(state_event(None, 5, new=1))
        self.assertEqual(data["newValue"], 1)
        self.assertEqual(context.event_type, _events.STATE_WRITTEN)
        self.assertEqual(context.resource["name"], "namespaces/survey/keys/responses/17")


if __name__ == "__main__":
    unittest.main()
