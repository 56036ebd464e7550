package gale.runtime;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An instance that is a local process (the Python bootstrap) speaking the instance
 * protocol over the UNIX socket. The first failure recorded is the one every later
 * call sees; a process exit and a broken socket both end up here.
 */
public final class ProcessInstance implements Instance {

    private static final Logger LOG = LoggerFactory.getLogger(ProcessInstance.class);

    private final String id;
    private final InstanceSpec spec;
    private final Process process;
    private final CompletableFuture<Connection> connecting;
    private final InstanceObserver observer;
    private final CompletableFuture<String> ready = new CompletableFuture<>();
    private final CompletableFuture<InstanceFailure> terminated = new CompletableFuture<>();
    private final AtomicReference<InstanceFailure> failure = new AtomicReference<>();
    private final Map<String, CompletableFuture<InvokeResult>> pending = new ConcurrentHashMap<>();
    private final long startNanos = System.nanoTime();
    private volatile Connection connection;
    private volatile long readyNanos;
    private volatile boolean stopping;
    private volatile long lastRssBytes;

    ProcessInstance(String id, InstanceSpec spec, Process process, CompletableFuture<Connection> connecting, InstanceObserver observer) {
        this.id = id;
        this.spec = spec;
        this.process = process;
        this.connecting = connecting;
        this.observer = observer;
        pipe(process.getInputStream(), "stdout");
        pipe(process.getErrorStream(), "stderr");
        Thread.ofVirtual().name("gale-instance-" + id).start(this::readLoop);
        process.onExit().thenRun(this::onProcessExit);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public InstanceSpec spec() {
        return spec;
    }

    public long pid() {
        return process.pid();
    }

    /** Completes with the detected calling convention when user code has loaded; fails with {@link InstanceFailedException}. */
    @Override
    public CompletableFuture<String> ready() {
        return ready;
    }

    public boolean isReady() {
        return ready.isDone() && !ready.isCompletedExceptionally() && failure.get() == null;
    }

    @Override
    public Optional<InstanceFailure> failure() {
        return Optional.ofNullable(failure.get());
    }

    /** Completes once, with the reason, when the instance can serve no more. */
    @Override
    public CompletableFuture<InstanceFailure> terminated() {
        return terminated;
    }

    /** Time from process start to READY. */
    public Duration startupTime() {
        return Duration.ofNanos(readyNanos == 0 ? 0 : readyNanos - startNanos);
    }

    /**
     * Runs one call and waits for its result until the request's deadline. On timeout the
     * instance is killed, because the user's code may still be running and holding it.
     */
    @Override
    public InvokeResult invoke(InvokeRequest request) {
        InstanceFailure failed = failure.get();
        if (failed != null) return new InvokeResult.InstanceDied(failed);
        var result = new CompletableFuture<InvokeResult>();
        pending.put(request.requestId(), result);
        failed = failure.get();
        if (failed != null) result.complete(new InvokeResult.InstanceDied(failed));
        try {
            connection.write(new Frame(Frame.Type.INVOKE, invokeHeader(request), request.body()));
            long remaining = Duration.between(Instant.now(), request.deadline()).toMillis();
            return result.get(Math.max(0, remaining), TimeUnit.MILLISECONDS);
        } catch (IOException e) {
            fail(new InstanceFailure(InstanceFailure.Kind.CRASHED, "lost the connection to the instance: " + e.getMessage()));
            return result.getNow(new InvokeResult.InstanceDied(failure.get()));
        } catch (TimeoutException e) {
            kill(new InstanceFailure(InstanceFailure.Kind.TIMEOUT, "a call exceeded the timeout; instance killed"));
            return new InvokeResult.TimedOut();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "the call was interrupted"));
            return new InvokeResult.InstanceDied(failure.get());
        } catch (ExecutionException e) {
            throw new IllegalStateException("call results are never completed exceptionally", e);
        } finally {
            pending.remove(request.requestId());
        }
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode invokeHeader(InvokeRequest r) {
        var h = Frame.newHeader();
        h.put("id", r.requestId()).put("method", r.method()).put("path", r.path()).put("query", r.query());
        var headers = h.putArray("headers");
        for (var e : r.headers()) headers.addArray().add(e.getKey()).add(e.getValue());
        h.put("remoteAddr", r.remoteAddr()).put("scheme", r.scheme()).put("host", r.host());
        h.put("deadlineMs", r.deadline().toEpochMilli());
        h.put("timeoutMs", Math.max(0, Duration.between(Instant.now(), r.deadline()).toMillis()));
        return h;
    }

    /** Stops the instance at once with a reason every pending and later call will see. */
    @Override
    public void kill(InstanceFailure reason) {
        fail(reason);
    }

    /** Asks the instance to exit and waits up to {@code grace}, then kills it. In-flight calls should be finished first. */
    @Override
    public void stop(Duration grace) {
        if (failure.get() != null) return;
        stopping = true;
        Connection c = connection;
        if (c != null) {
            try {
                c.write(Frame.of(Frame.Type.SHUTDOWN, Frame.newHeader()));
            } catch (IOException ignored) {
                // already gone: the kill below records it as stopped
            }
        }
        process.onExit().completeOnTimeout(process, grace.toMillis(), TimeUnit.MILLISECONDS).join();
        fail(new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped"));
    }

    /** Measures the resident memory of the instance and its children, in bytes; 0 once it is gone. */
    @Override
    public long rssBytes() {
        long total = rssOf(process.pid());
        for (ProcessHandle child : process.descendants().toList()) total += rssOf(child.pid());
        lastRssBytes = total;
        return total;
    }

    /** The last {@link #rssBytes()} measurement, without measuring again (cheap enough for every call). */
    @Override
    public long lastRssBytes() {
        return lastRssBytes;
    }

    private static long rssOf(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    String kb = line.substring(6).trim().split("\\s+")[0];
                    return Long.parseLong(kb) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process exited between listing and reading
        }
        return 0;
    }

    private void fail(InstanceFailure reason) {
        if (stopping && reason.kind() == InstanceFailure.Kind.CRASHED) {
            reason = new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped");
        }
        if (!failure.compareAndSet(null, reason)) return;
        if (reason.kind() != InstanceFailure.Kind.STOPPED) {
            LOG.info("instance {} ({}) down: {}", id, spec.label(), reason.message());
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        connecting.completeExceptionally(new InstanceFailedException(reason));
        Connection c = connection;
        if (c != null) c.close();
        ready.completeExceptionally(new InstanceFailedException(reason));
        var died = new InvokeResult.InstanceDied(reason);
        pending.values().forEach(f -> f.complete(died));
        terminated.complete(reason);
    }

    private void readLoop() {
        try {
            connection = connecting.get();
            if (connection == null) return; // exited without connecting: onProcessExit reports it
            if (failure.get() != null) connection.close();
            while (true) {
                handle(connection.read());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            // failed before it connected; fail() has recorded why
        } catch (IOException e) {
            if (failure.get() == null) {
                // The socket closed first; give the process a moment to report its exit status.
                process.onExit().completeOnTimeout(process, 1, TimeUnit.SECONDS).join();
                fail(new InstanceFailure(InstanceFailure.Kind.CRASHED, describeExit()));
            }
        }
    }

    private void handle(Frame frame) {
        switch (frame.type()) {
            case READY -> {
                readyNanos = System.nanoTime();
                ready.complete(frame.text("signature"));
            }
            case LOAD_FAILED -> {
                logLines(Optional.empty(), "stderr", frame.text("traceback"));
                fail(new InstanceFailure(InstanceFailure.Kind.LOAD_FAILED, loadFailure(frame)));
            }
            case RESPONSE -> complete(frame, new InvokeResult.Response(frame.header().path("status").asInt(500),
                    headerPairs(frame), frame.body()));
            case ERROR -> {
                logLines(Optional.of(frame.text("id")), "stderr", frame.text("traceback"));
                complete(frame, new InvokeResult.FunctionError(frame.text("error"), frame.text("traceback")));
            }
            case LOG -> {
                var requestId = Optional.of(frame.text("id")).filter(s -> !s.isEmpty());
                logLines(requestId, frame.text("stream"), new String(frame.body(), StandardCharsets.UTF_8));
            }
            default -> LOG.warn("instance {} sent an unexpected {} frame; ignored", id, frame.type());
        }
    }

    private static String loadFailure(Frame frame) {
        String kind = frame.text("kind");
        String label = switch (kind) {
            case "syntax" -> "syntax error";
            case "import" -> "import error";
            case "entry_point" -> "entry point error";
            case "dependency" -> "missing dependency";
            default -> "error while loading";
        };
        return label + ": " + frame.text("error");
    }

    private void complete(Frame frame, InvokeResult result) {
        var waiting = pending.get(frame.text("id"));
        if (waiting != null) waiting.complete(result);
    }

    private static List<Map.Entry<String, String>> headerPairs(Frame frame) {
        var list = new ArrayList<Map.Entry<String, String>>();
        for (var pair : frame.header().path("headers")) {
            list.add(Map.entry(pair.path(0).asText(), pair.path(1).asText()));
        }
        return list;
    }

    private void logLines(Optional<String> requestId, String stream, String text) {
        if (text == null || text.isEmpty()) return;
        for (String line : text.split("\n", -1)) {
            if (!line.isEmpty()) observer.log(this, requestId, stream, line);
        }
    }

    private void pipe(InputStream stream, String name) {
        Thread.ofVirtual().name("gale-" + name + "-" + id).start(() -> {
            try (var reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) observer.log(this, Optional.empty(), name, line);
            } catch (IOException ignored) {
                // the process is gone
            }
        });
    }

    /**
     * A process that exits before connecting has failed now. One that was connected may
     * have sent frames (LOAD_FAILED, a last RESPONSE) that the reader has not handled yet:
     * the reader reports the exit when it reaches the end of the stream, and this is only
     * the fallback should it not.
     */
    private void onProcessExit() {
        var exited = new InstanceFailure(InstanceFailure.Kind.CRASHED, describeExit());
        // The HELLO it sent may still be on its way through the listener; give it a moment.
        connecting.completeOnTimeout(null, 1, TimeUnit.SECONDS).whenComplete((connection, error) -> {
            if (connection == null) {
                fail(exited);
            } else {
                CompletableFuture.delayedExecutor(2, TimeUnit.SECONDS).execute(() -> fail(exited));
            }
        });
    }

    private String describeExit() {
        if (process.isAlive()) return "instance closed its connection unexpectedly";
        int code = process.exitValue();
        if (code > 128) return "instance was killed by signal " + (code - 128);
        return "instance exited with code " + code;
    }

    @Override
    public String toString() {
        return "Instance[" + id + " " + spec.label() + " pid " + process.pid() + "]";
    }
}
