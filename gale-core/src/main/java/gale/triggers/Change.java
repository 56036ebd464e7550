package gale.triggers;

import java.util.Optional;

/** One write that triggers may follow, as the store saw it inside the write's transaction. */
public sealed interface Change {

    /** A namespace or bucket. */
    String name();

    String key();

    /** The event kind a trigger's filter names: put / delete for state, finalize / delete for blobs. */
    String kind();

    /**
     * A state key written or deleted; its value before and after (compact JSON), with their versions.
     *
     * @param expired true for a delete by the TTL sweep
     */
    record State(String name, String key, Optional<String> oldValueJson, Optional<Long> oldVersion,
                 Optional<String> newValueJson, Optional<Long> newVersion, Optional<Long> expiresAtMillis, boolean expired)
            implements Change {
        @Override
        public String kind() {
            return newVersion.isPresent() ? "put" : "delete";
        }
    }

    /**
     * A blob version written (finalize) or deleted (a version, or a key's latest when the whole key goes).
     *
     * @param metadataJson the version's metadata (a JSON object), if it has some
     */
    record Blob(String name, String key, String kind, int version, String digest, long bytes, String contentType,
                Optional<String> metadataJson, long createdAtMillis) implements Change {
    }
}
