package gale.access;

import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One administrative action in the audit log: who did what to what, from where, when, and how it ended.
 *
 * @param actor    {@code admin-token}, or the name of the access key used
 * @param keyId    the key's id ({@code gk_...}) when a key was used
 * @param action   what was done: {@code function.deploy}, {@code key.create}, ...
 * @param target   the request path after {@code /v1/}: {@code functions/scorer/versions}
 * @param function the function acted on, when there is one
 * @param client   the caller's address
 * @param status   the HTTP status of the answer, once there is one
 * @param detail   what the action did or why it was refused: {@code version 4}, the error message
 */
public record AuditEntry(String id, Instant at, String actor, Optional<String> keyId, String action, String target,
                         Optional<String> function, String client, Outcome outcome, OptionalInt status,
                         Optional<String> detail, Optional<Instant> finishedAt) {

    public enum Outcome {
        /** Written before the action runs; the outcome follows. */
        PENDING,
        OK,
        /** The action was tried and failed (4xx other than 401/403, 5xx). */
        FAILED,
        /** The caller was not allowed: the key lacks the scope (403). */
        REFUSED,
        /** Gale stopped while the action ran: it may or may not have taken effect. */
        INTERRUPTED;

        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Outcome ofStatus(int status) {
            if (status < 400) return OK;
            return status == 401 || status == 403 ? REFUSED : FAILED;
        }
    }

    /** What a caller is about to do, before it has an id, a time or an outcome. */
    public record Action(String actor, Optional<String> keyId, String action, String target, Optional<String> function,
                         String client) {
    }
}
