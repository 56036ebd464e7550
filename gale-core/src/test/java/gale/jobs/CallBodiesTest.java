package gale.jobs;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The bodies of a job's calls, as docs/jobs.md writes them down. */
class CallBodiesTest {

    private static final JobContext CONTEXT = JobContext.of("{\"scale\":10,\"name\":\"Zoë\"}");
    private static final List<Map.Entry<String, String>> MISSING = List.of(Map.entry("x-gale-context", "missing"));

    @Test
    void withoutAContextTheBodyIsTheBareInput() {
        CallBodies bodies = CallBodies.of(Optional.empty(), true);

        assertThat(text(bodies.body("[1,2]"))).isEqualTo("[1,2]");
        assertThat(bodies.bodyWithContext("[1,2]", 428, MISSING)).isEmpty();
    }

    @Test
    void withAContextEveryBodyCarriesIt() {
        CallBodies bodies = CallBodies.of(Optional.of(CONTEXT), false);

        assertThat(text(bodies.body("3"))).isEqualTo("{\"context\":" + CONTEXT.json() + ",\"input\":3}");
        assertThat(bodies.bodyWithContext("3", 428, MISSING)).as("a 428 is then the function's own answer").isEmpty();
    }

    @Test
    void withContextOnceABodyCarriesTheIdAndTheContextOnlyWhenTheInstanceAsks() {
        CallBodies bodies = CallBodies.of(Optional.of(CONTEXT), true);
        String id = CONTEXT.id();

        assertThat(id).matches("[0-9a-f]{64}");
        assertThat(text(bodies.body("3"))).isEqualTo("{\"contextId\":\"" + id + "\",\"input\":3}");
        assertThat(bodies.bodyWithContext("3", 428, MISSING)).map(CallBodiesTest::text)
                .contains("{\"contextId\":\"" + id + "\",\"context\":" + CONTEXT.json() + ",\"input\":3}");
    }

    @Test
    void only428WithXGaleContextMissingAsksForTheContext() {
        CallBodies bodies = CallBodies.of(Optional.of(CONTEXT), true);

        assertThat(bodies.bodyWithContext("3", 428, List.of())).isEmpty();
        assertThat(bodies.bodyWithContext("3", 428, List.of(Map.entry("X-Gale-Context", "other")))).isEmpty();
        assertThat(bodies.bodyWithContext("3", 400, MISSING)).isEmpty();
        assertThat(bodies.bodyWithContext("3", 428, List.of(Map.entry("X-Gale-Context", "missing")))).isPresent();
    }

    @Test
    void theIdIsTheSha256OfTheContextsUtf8() {
        assertThat(JobContext.of("{}").id()).isEqualTo("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        assertThat(CONTEXT.id()).isEqualTo(JobContext.of(CONTEXT.json()).id())
                .isNotEqualTo(JobContext.of("{\"scale\":11,\"name\":\"Zoë\"}").id());
    }

    private static String text(byte[] body) {
        return new String(body, StandardCharsets.UTF_8);
    }
}
