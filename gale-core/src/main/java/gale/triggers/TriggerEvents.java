package gale.triggers;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import gale.store.TriggerRow;
import gale.store.TriggerStore;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The request a trigger's function gets for one change: a CloudEvent in HTTP binary mode, as Eventarc sends
 * one to Cloud Run ({@code ce-*} headers, the event's data as the JSON body), plus {@code X-Gale-Trigger}.
 * The Python bootstrap turns it into what each calling convention expects (a CloudEvent, a Cloud Functions
 * background event, or Lambda's S3 / DynamoDB Streams records); other runtimes get the request as it is.
 * docs/triggers.md shows every shape.
 */
final class TriggerEvents {

    static final String TRIGGER_HEADER = "X-Gale-Trigger";
    static final String STATE_WRITTEN = "gale.state.v1.written";
    static final String STATE_DELETED = "gale.state.v1.deleted";
    static final String OBJECT_FINALIZED = "google.cloud.storage.object.v1.finalized";
    static final String OBJECT_DELETED = "google.cloud.storage.object.v1.deleted";
    private static final JsonFactory JSON = new JsonFactory();

    private TriggerEvents() {
    }

    /** The event of {@code change} for {@code trigger}, numbered {@code seq} among all events. */
    static TriggerStore.Event of(TriggerRow trigger, Change change, long seq, long nowMillis) {
        String id = UUID.randomUUID().toString();
        List<Map.Entry<String, String>> headers = new ArrayList<>(10);
        headers.add(Map.entry("Content-Type", "application/json"));
        headers.add(Map.entry("ce-specversion", "1.0"));
        headers.add(Map.entry("ce-id", id));
        byte[] body;
        switch (change) {
            case Change.State s -> {
                headers.add(Map.entry("ce-source", "//gale/state/namespaces/" + encode(s.name())));
                headers.add(Map.entry("ce-type", s.kind().equals("put") ? STATE_WRITTEN : STATE_DELETED));
                headers.add(Map.entry("ce-subject", "keys/" + encode(s.key())));
                headers.add(Map.entry("ce-time", Instant.ofEpochMilli(nowMillis).toString()));
                body = stateData(s);
            }
            case Change.Blob b -> {
                headers.add(Map.entry("ce-source", "//gale/blobs/buckets/" + encode(b.name())));
                headers.add(Map.entry("ce-type", b.kind().equals("finalize") ? OBJECT_FINALIZED : OBJECT_DELETED));
                headers.add(Map.entry("ce-subject", "objects/" + encode(b.key())));
                headers.add(Map.entry("ce-time", Instant.ofEpochMilli(b.kind().equals("finalize") ? b.createdAtMillis() : nowMillis).toString()));
                body = blobData(b, nowMillis);
            }
        }
        headers.add(Map.entry("ce-sequence", Long.toString(seq)));
        headers.add(Map.entry(TRIGGER_HEADER, trigger.id()));
        return new TriggerStore.Event(id, trigger.id(), orderKey(trigger.id(), change), AsyncAttempt.toJson(headers), body, seq);
    }

    /** Modelled on DynamoDB Streams' NEW_AND_OLD_IMAGES: the key, its value and version before and after. */
    private static byte[] stateData(Change.State s) {
        return write(g -> {
            g.writeStringField("namespace", s.name());
            g.writeStringField("key", s.key());
            g.writeStringField("kind", s.kind());
            g.writeFieldName("newValue");
            if (s.newValueJson().isPresent()) g.writeRawValue(s.newValueJson().get()); else g.writeNull();
            if (s.newVersion().isPresent()) g.writeNumberField("newVersion", s.newVersion().get()); else g.writeNullField("newVersion");
            g.writeFieldName("oldValue");
            if (s.oldValueJson().isPresent()) g.writeRawValue(s.oldValueJson().get()); else g.writeNull();
            if (s.oldVersion().isPresent()) g.writeNumberField("oldVersion", s.oldVersion().get()); else g.writeNullField("oldVersion");
            if (s.expiresAtMillis().isPresent()) {
                g.writeStringField("expiresAt", Instant.ofEpochMilli(s.expiresAtMillis().get()).toString());
            } else {
                g.writeNullField("expiresAt");
            }
            g.writeBooleanField("expired", s.expired());
        });
    }

    /** Cloud Storage's object resource (what google.storage.object.finalize handlers read), with Gale's version as its generation. */
    private static byte[] blobData(Change.Blob b, long nowMillis) {
        return write(g -> {
            g.writeStringField("kind", "storage#object");
            g.writeStringField("id", b.name() + "/" + b.key() + "/" + b.version());
            g.writeStringField("bucket", b.name());
            g.writeStringField("name", b.key());
            g.writeStringField("generation", Integer.toString(b.version()));
            g.writeStringField("metageneration", "1");
            g.writeStringField("contentType", b.contentType());
            g.writeStringField("size", Long.toString(b.bytes()));
            g.writeStringField("storageClass", "STANDARD");
            g.writeStringField("timeCreated", Instant.ofEpochMilli(b.createdAtMillis()).toString());
            g.writeStringField("updated", Instant.ofEpochMilli(b.createdAtMillis()).toString());
            if (b.kind().equals("delete")) g.writeStringField("timeDeleted", Instant.ofEpochMilli(nowMillis).toString());
            g.writeStringField("etag", b.digest());
            g.writeStringField("digest", b.digest());
            if (b.metadataJson().isPresent()) {
                g.writeFieldName("metadata");
                g.writeRawValue(b.metadataJson().get());
            }
        });
    }

    private interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private static byte[] write(Fields fields) {
        var out = new ByteArrayOutputStream(256);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            fields.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("writing an event's JSON to memory failed", e);
        }
        return out.toByteArray();
    }

    /** The namespace or bucket an event's request says it comes from (its ce-source), as a source with no prefix. */
    static java.util.Optional<gale.config.TriggerSpec> sourceOf(String headersJson) {
        for (Map.Entry<String, String> h : AsyncAttempt.fromJson(headersJson)) {
            if (!h.getKey().equalsIgnoreCase("ce-source")) continue;
            String value = java.net.URLDecoder.decode(h.getValue().replace("+", "%2B"), StandardCharsets.UTF_8);
            for (var prefix : List.of(Map.entry("//gale/state/namespaces/", "state"), Map.entry("//gale/blobs/buckets/", "blob"))) {
                if (value.startsWith(prefix.getKey())) {
                    return java.util.Optional.of(new gale.config.TriggerSpec(prefix.getValue(), value.substring(prefix.getKey().length()),
                            "", List.of()));
                }
            }
        }
        return java.util.Optional.empty();
    }

    /** The events of one key of one trigger share it: only one of them is delivered at a time, in order. */
    static String orderKey(String triggerId, Change change) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update((triggerId + "\n" + change.name() + "\n" + change.key()).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** Percent-encodes what a CloudEvents HTTP header value may not hold as it is: non-printable ASCII, space, '"' and '%'. */
    static String encode(String value) {
        StringBuilder sb = null;
        byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < utf8.length; i++) {
            int b = utf8[i] & 0xff;
            boolean plain = b > 0x20 && b < 0x7f && b != '"' && b != '%';
            if (plain && sb == null) continue;
            if (sb == null) sb = new StringBuilder(new String(utf8, 0, i, StandardCharsets.US_ASCII));
            if (plain) sb.append((char) b); else sb.append('%').append(HexFormat.of().withUpperCase().toHexDigits((byte) b));
        }
        return sb == null ? value : sb.toString();
    }
}
