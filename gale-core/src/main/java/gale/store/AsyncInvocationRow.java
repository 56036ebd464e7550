package gale.store;

import java.time.Instant;
import java.util.Optional;

/**
 * An async call as stored: the whole request as the gateway received it, where it stands, and how its
 * last attempt ended.
 *
 * @param state       QUEUED, RUNNING, SUCCEEDED or DEAD
 * @param headersJson the request's headers, a JSON array of [name, value] pairs in arrival order (no admin token)
 * @param attempts    attempts made so far (an attempt is a call the function received)
 * @param nextAttempt when a QUEUED call may run next
 * @param version     the version that served the last attempt
 * @param resultStatus the function's status code, once it answered
 * @param triggerId   the trigger whose event this is, for an event's delivery (docs/triggers.md)
 */
public record AsyncInvocationRow(String id, String function, String state, String method, String path, String query,
                                 String headersJson, byte[] body, String remoteAddr, String scheme, String host,
                                 int attempts, Instant nextAttempt, Instant createdAt, Instant updatedAt,
                                 Optional<Instant> finishedAt, Optional<Integer> version, Optional<Integer> resultStatus,
                                 Optional<String> resultHeadersJson, Optional<byte[]> resultBody, Optional<String> error,
                                 Optional<String> traceback, Optional<String> triggerId) {

    /** WAITING: a trigger event behind an earlier pending event of its key; it becomes QUEUED when that one ends. */
    public enum State { WAITING, QUEUED, RUNNING, SUCCEEDED, DEAD }

    /** A call just accepted: queued to run at once. */
    public static AsyncInvocationRow accepted(String id, String function, String method, String path, String query,
                                              String headersJson, byte[] body, String remoteAddr, String scheme,
                                              String host, Instant now) {
        return new AsyncInvocationRow(id, function, State.QUEUED.name(), method, path, query, headersJson, body, remoteAddr,
                scheme, host, 0, now, now, now, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    }
}
