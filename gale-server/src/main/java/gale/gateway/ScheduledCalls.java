package gale.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.triggers.Scheduler;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Makes a schedule's calls the way any client calls a function: an HTTP POST to this server's own
 * gateway with the admin token. So a scheduled call scales the function from zero, waits in its
 * queue, counts in its metrics and leaves an invocation record, exactly like any other call.
 *
 * <p>The call carries {@code X-Gale-Schedule: NAME} and {@code X-Gale-Schedule-Time: SLOT} (as Cloud
 * Scheduler sends X-CloudScheduler-JobName and -ScheduleTime), and the payload, if any, as a JSON
 * body. A Lambda-style handler gets an EventBridge-like event built from them by the bootstrap.
 */
public final class ScheduledCalls implements Scheduler.Caller, AutoCloseable {

    public static final String SCHEDULE_HEADER = "X-Gale-Schedule";
    public static final String SLOT_HEADER = "X-Gale-Schedule-Time";
    /** The gateway enforces each function's timeout (504); this only guards against a hung connection. */
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(30);
    private static final int MAX_ERROR_CHARS = 500;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Supplier<String> baseUrl;
    private final String token;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final HttpClient http;

    /** @param baseUrl this server, e.g. http://127.0.0.1:8080 (read per call: the port is known once the server listens) */
    public ScheduledCalls(Supplier<String> baseUrl, String token) {
        this.baseUrl = baseUrl;
        this.token = token;
        this.http = HttpClient.newBuilder().executor(executor).connectTimeout(Duration.ofSeconds(5))
                .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1).build();
    }

    @Override
    public CompletableFuture<Scheduler.CallOutcome> call(Scheduler.ScheduledCall call) {
        String base = baseUrl.get();
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + Gateway.PREFIX + call.function()))
                .timeout(CALL_TIMEOUT)
                .header("Authorization", "Bearer " + token)
                .header("User-Agent", "gale-scheduler")
                .header(SCHEDULE_HEADER, call.schedule())
                .header(SLOT_HEADER, call.slot().toString());
        if (call.payload().isPresent()) {
            request.header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(call.payload().get(), StandardCharsets.UTF_8));
        } else {
            request.POST(HttpRequest.BodyPublishers.noBody());
        }
        return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray())
                .thenApply(ScheduledCalls::outcome)
                .exceptionally(e -> Scheduler.CallOutcome.unreachable("could not call " + base + ": "
                        + (e.getCause() != null ? e.getCause() : e)));
    }

    private static Scheduler.CallOutcome outcome(HttpResponse<byte[]> response) {
        int status = response.statusCode();
        Optional<String> requestId = response.headers().firstValue("X-Gale-Request-Id");
        if (status < 400) return new Scheduler.CallOutcome(Optional.of(status), "ok", requestId, Optional.empty());
        String body = new String(response.body(), StandardCharsets.UTF_8);
        try {
            JsonNode error = JSON.readTree(body).path("error");
            if (error.isTextual()) body = error.asText();
        } catch (Exception notJson) {
            // the function's own error body, shown as it is
        }
        if (body.length() > MAX_ERROR_CHARS) body = body.substring(0, MAX_ERROR_CHARS) + "...";
        return new Scheduler.CallOutcome(Optional.of(status), "error", requestId,
                Optional.of(body.isBlank() ? "HTTP " + status : body));
    }

    /** Aborts calls still under way (closed after the server drained them): HttpClient.close would wait for them. */
    @Override
    public void close() {
        http.shutdownNow();
        executor.shutdown();
    }
}
