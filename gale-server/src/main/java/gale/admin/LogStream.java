package gale.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import gale.logs.LogLevel;
import gale.logs.LogSink;
import gale.registry.Registry;
import gale.store.LogEntry;
import gale.store.Store;
import gale.util.Signal;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * {@code GET /v1/functions/{name}/logs/stream}: a function's log lines as server-sent events, the
 * console's live logs. First the newest {@code tail} lines, then each line as it is written; with
 * {@code requestId}, only that call's lines; with {@code level}, only lines of that level or above
 * ({@link LogLevel}). Each line is an event {@code log} whose id is its seq, so a client that
 * reconnects with {@code Last-Event-ID} gets what it missed and nothing twice. A comment every
 * {@link #HEARTBEAT} keeps an idle connection open through proxies and Jetty's idle timeout.
 */
final class LogStream {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final Duration HEARTBEAT = Duration.ofSeconds(15);
    /** How often a quiet stream checks that the server is not stopping. */
    private static final Duration CHECK = Duration.ofSeconds(1);
    private static final int MAX_TAIL = 1000;
    /** Recent lines read to find the last {@code tail} that pass a level filter. */
    private static final int SCAN = 5000;
    private static final int PAGE = 1000;

    private record Filter(Optional<String> requestId, LogLevel level) {
        boolean passes(LogEntry e) {
            return requestId.map(id -> id.equals(e.requestId().orElse(null))).orElse(true)
                    && LogLevel.of(e.stream(), e.message()).compareTo(level) >= 0;
        }
    }

    private final Registry registry;
    private final Store store;
    private final LogSink logs;

    LogStream(Registry registry, Store store, LogSink logs) {
        this.registry = registry;
        this.store = store;
        this.logs = logs;
    }

    void register(RoutesConfig routes) {
        routes.get("/v1/functions/{name}/logs/stream", this::stream);
    }

    private void stream(Context ctx) throws IOException, InterruptedException {
        String name = ctx.pathParam("name");
        if (registry.function(name).isEmpty()) throw new NotFoundResponse("function '" + name + "' not found");
        Filter filter = filter(ctx);
        int tail = tail(ctx);
        ctx.status(200).contentType("text/event-stream; charset=utf-8");
        ctx.header("Cache-Control", "no-cache");
        ctx.header("X-Accel-Buffering", "no"); // a proxy in front must not hold events back
        OutputStream out = ctx.res().getOutputStream();
        long after;
        try {
            Optional<Long> resumed = lastEventId(ctx);
            after = resumed.isPresent() ? resumed.get() : sendBacklog(out, name, filter, tail);
            out.write(": following\n\n".getBytes(StandardCharsets.UTF_8)); // the client knows the stream is open
            out.flush();
            follow(out, name, filter, after);
        } catch (IOException clientGone) {
            // the console tab closed or moved on: nothing to clean up
        }
    }

    /** Sends the newest matching lines; returns the seq to follow from. */
    private long sendBacklog(OutputStream out, String name, Filter filter, int tail) throws IOException {
        List<LogEntry> recent = store.tailLogs(name, SCAN);
        long after = recent.isEmpty() ? 0 : recent.getLast().seq();
        List<LogEntry> candidates = filter.requestId().isPresent()
                ? store.logsOfRequest(name, filter.requestId().get(), SCAN) : recent; // a call's lines, older ones too
        List<LogEntry> matching = candidates.stream().filter(filter::passes).toList();
        for (LogEntry e : matching.subList(Math.max(0, matching.size() - tail), matching.size())) send(out, e);
        if (!candidates.isEmpty()) after = Math.max(after, candidates.getLast().seq());
        return after;
    }

    private void follow(OutputStream out, String name, Filter filter, long after) throws IOException, InterruptedException {
        long quietSince = System.nanoTime();
        while (!registry.isStopping()) {
            Signal.Next written = logs.nextWrite(); // before reading: a batch written meanwhile ends the wait at once
            List<LogEntry> entries = store.readLogs(name, after, PAGE);
            boolean sent = false;
            for (LogEntry e : entries) {
                after = e.seq();
                if (filter.passes(e)) {
                    send(out, e);
                    sent = true;
                }
            }
            if (sent) {
                out.flush();
                quietSince = System.nanoTime();
            } else if (System.nanoTime() - quietSince >= HEARTBEAT.toNanos()) {
                out.write(": heartbeat\n\n".getBytes(StandardCharsets.UTF_8));
                out.flush(); // fails once the client is gone
                quietSince = System.nanoTime();
            }
            if (entries.size() < PAGE) written.await(CHECK);
        }
    }

    private static void send(OutputStream out, LogEntry e) throws IOException {
        out.write(("id: " + e.seq() + "\nevent: log\ndata: ").getBytes(StandardCharsets.UTF_8));
        out.write(JSON.writeValueAsBytes(AdminApi.logEntry(e))); // one line: newlines in a message are escaped
        out.write("\n\n".getBytes(StandardCharsets.UTF_8));
    }

    private static Filter filter(Context ctx) {
        String requestId = ctx.queryParam("requestId");
        String level = ctx.queryParam("level");
        LogLevel min = LogLevel.DEBUG;
        if (level != null && !level.isBlank()) {
            min = LogLevel.named(level).orElseThrow(() -> new BadRequestResponse("level must be one of "
                    + Arrays.stream(LogLevel.values()).map(LogLevel::wire).toList() + ", got '" + level + "'"));
        }
        return new Filter(Optional.ofNullable(requestId).map(String::trim).filter(s -> !s.isEmpty()), min);
    }

    private static int tail(Context ctx) {
        String v = ctx.queryParam("tail");
        if (v == null) return 200;
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 0 && n <= MAX_TAIL) return n;
        } catch (NumberFormatException e) {
            // said below
        }
        throw new BadRequestResponse("tail must be a number of lines between 0 and " + MAX_TAIL + ", got '" + v + "'");
    }

    /** The seq a reconnecting client had last (EventSource sends it as Last-Event-ID). */
    private static Optional<Long> lastEventId(Context ctx) {
        String v = ctx.header("Last-Event-ID");
        if (v == null || v.isBlank()) return Optional.empty();
        try {
            return Optional.of(Long.parseLong(v.trim()));
        } catch (NumberFormatException e) {
            throw new BadRequestResponse("Last-Event-ID must be the seq of a log line, got '" + v + "'");
        }
    }
}
