package gale.jobs;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a job's calls send (docs/jobs.md), built in this one place: the bare input; or
 * {@code {"context": CONTEXT, "input": INPUT}}; or, with {@code contextOnce},
 * {@code {"contextId": ID, "input": INPUT}}, and the full {@code {"contextId", "context", "input"}}
 * for an instance that answered {@value #MISSING_STATUS} with {@code X-Gale-Context: missing}.
 * The context can be megabytes, so it is encoded once per job, not once per call.
 */
final class CallBodies {

    static final int MISSING_STATUS = 428;
    static final String MISSING_HEADER = "X-Gale-Context";

    /** Everything before INPUT in a call's body; empty for bare inputs. */
    private final byte[] prefix;
    /** The context for the instances that lack it; empty without contextOnce. */
    private final Optional<JobContext> sentOnce;

    private CallBodies(byte[] prefix, Optional<JobContext> sentOnce) {
        this.prefix = prefix;
        this.sentOnce = sentOnce;
    }

    static CallBodies of(Optional<JobContext> context, boolean contextOnce) {
        if (context.isEmpty()) return new CallBodies(new byte[0], Optional.empty());
        JobContext c = context.get();
        if (!contextOnce) return new CallBodies(concat(utf8("{\"context\":"), c.utf8(), utf8(",\"input\":")), Optional.empty());
        return new CallBodies(utf8("{\"contextId\":\"" + c.id() + "\",\"input\":"), context);
    }

    /** The body of a call of this input. */
    byte[] body(String inputJson) {
        return prefix.length == 0 ? utf8(inputJson) : concat(prefix, utf8(inputJson), utf8("}"));
    }

    /**
     * The body to send again when the instance answered that it lacks the context; empty when
     * the job does not send its context once (then such an answer is the function's own).
     */
    Optional<byte[]> bodyWithContext(String inputJson, int status, List<Map.Entry<String, String>> headers) {
        if (sentOnce.isEmpty() || status != MISSING_STATUS) return Optional.empty();
        boolean missing = headers.stream().anyMatch(h -> h.getKey().equalsIgnoreCase(MISSING_HEADER)
                && h.getValue().trim().equalsIgnoreCase("missing"));
        if (!missing) return Optional.empty();
        JobContext c = sentOnce.get();
        return Optional.of(concat(utf8("{\"contextId\":\"" + c.id() + "\",\"context\":"), c.utf8(),
                utf8(",\"input\":"), utf8(inputJson), utf8("}")));
    }

    private static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] part : parts) length += part.length;
        byte[] joined = new byte[length];
        int at = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, joined, at, part.length);
            at += part.length;
        }
        return joined;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
