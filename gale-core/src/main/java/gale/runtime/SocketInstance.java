package gale.runtime;

import gale.util.Deadlines;
import gale.util.InPlace;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
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
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An instance that speaks the instance protocol (docs/protocol.md) over a socket: the Python
 * bootstrap or the Java one (gale-api). Its {@link InstanceProcess} is a local process, a child
 * of the JVM or forked by a Python zygote (on Gale's UNIX socket), or a pod (over TCP), and may
 * still be on its way when the instance is made.
 * The first failure recorded is the one every later call sees; a process exit and a
 * broken socket both end up here.
 */
public final class SocketInstance implements Instance {

    private static final Logger LOG = LoggerFactory.getLogger(SocketInstance.class);
    /** A frame that stopped arriving for this long at a call's deadline was abandoned, not slowly sent. */
    private static final Duration STALLED_FRAME = Duration.ofSeconds(1);
    /**
     * Requests are sent on the caller's thread while the bytes sent and not yet answered stay
     * within this: far below a socket's buffer (about 200 KB), so such a write never waits for
     * the instance to read (see {@link #invokeAsync}).
     */
    private static final long INLINE_BUDGET_BYTES = 64 * 1024;
    /** What a request costs in the socket's buffer besides its body: its header, and the kernel's bookkeeping. */
    private static final long FRAME_OVERHEAD_BYTES = 2 * 1024;
    /**
     * Platform threads that send requests which may block: large ones, or to an instance busy
     * with other calls whose socket may be full. Platform, so that instance sockets stay in
     * blocking mode (a virtual thread's I/O would switch them, and each reader would then poll).
     */
    private static final Executor SENDERS = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("gale-send-", 0).factory());

    /**
     * The operating-system process behind an instance.
     *
     * @param pid    its process id
     * @param handle the process, looked up while it surely ran (so a reused pid is never hit); empty when it had gone already
     * @param exit   completes once it has exited, saying how, e.g. "instance exited with code 3"; fails with
     *               {@link InstanceFailedException} when something else took it down (its zygote died), saying what
     */
    public record OsProcess(long pid, Optional<ProcessHandle> handle, CompletableFuture<String> exit) implements InstanceProcess {

        /** A child of the JVM, which reports its exit status. */
        public static OsProcess of(Process process) {
            return new OsProcess(process.pid(), Optional.of(process.toHandle()),
                    process.onExit().thenApply(p -> describeExitCode(p.exitValue())));
        }

        /** Kills the process and what it started; nothing once it has exited. */
        @Override
        public void destroy() {
            if (exit.isDone()) return;
            handle.ifPresent(h -> {
                ProcessTree.descendants(pid).forEach(child -> ProcessHandle.of(child).ifPresent(ProcessHandle::destroyForcibly));
                h.destroyForcibly();
            });
        }

        /** The resident memory of the process and its children. */
        @Override
        public long rssBytes() {
            return handle.isEmpty() ? 0 : ProcessTree.rssBytes(pid);
        }

        /** Gone from the process table while its exit is not known: its zygote, which reports it, may be busy. */
        @Override
        public boolean mayReportExitLate() {
            return !exit.isDone() && !ProcessTree.isRunning(pid);
        }

        @Override
        public String describe() {
            return "pid " + pid;
        }
    }

    /** How a process ended, from a shell-style status (above 128: killed by signal status - 128). */
    public static String describeExitCode(int code) {
        if (code > 128) return describeSignal(code - 128);
        return "instance exited with code " + code;
    }

    public static String describeSignal(int signal) {
        return "instance was killed by signal " + signal;
    }

    private final String id;
    private final InstanceSpec spec;
    private final CompletableFuture<? extends InstanceProcess> launching;
    private final CompletableFuture<Connection> connecting;
    private final InstanceObserver observer;
    private final FirstFailure life;
    private final UsageCounters usage;
    private final Map<String, CompletableFuture<InvokeResult>> pending = new ConcurrentHashMap<>();
    /** Bytes of requests sent, or being sent, and not answered yet: see {@link #INLINE_BUDGET_BYTES}. */
    private final AtomicLong unanswered = new AtomicLong();
    private final long startNanos = System.nanoTime();
    private volatile Connection connection;
    private volatile InstanceProcess process;
    private volatile long readyNanos;
    private volatile long lastRssBytes;

    /**
     * An instance whose process Gale started (a fresh interpreter, a JVM), maybe inside
     * {@code cgroup} (the kernel enforces its memory limit). What the process writes to its
     * stdout and stderr pipes is logged line by line.
     */
    public static SocketInstance ofProcess(String id, InstanceSpec spec, Process process, CompletableFuture<Connection> connecting,
                                           InstanceObserver observer, Optional<Isolation.Cgroup> cgroup) {
        var instance = new SocketInstance(id, spec, CompletableFuture.completedFuture(OsProcess.of(process)), connecting, observer, cgroup);
        instance.start();
        instance.logPipe(process.getInputStream(), "stdout");
        instance.logPipe(process.getErrorStream(), "stderr");
        return instance;
    }

    /**
     * An instance whose process is still being made (a zygote forks it). Whoever makes it
     * completes {@code launching}, and hands its output to {@link #logPipe} or
     * {@link #logSocket}; failing {@code launching} fails the instance.
     */
    public static SocketInstance launching(String id, InstanceSpec spec, CompletableFuture<? extends InstanceProcess> launching,
                                           CompletableFuture<Connection> connecting, InstanceObserver observer,
                                           Optional<Isolation.Cgroup> cgroup) {
        var instance = new SocketInstance(id, spec, launching, connecting, observer, cgroup);
        instance.start();
        return instance;
    }

    private SocketInstance(String id, InstanceSpec spec, CompletableFuture<? extends InstanceProcess> launching,
                           CompletableFuture<Connection> connecting, InstanceObserver observer, Optional<Isolation.Cgroup> cgroup) {
        this.id = id;
        this.spec = spec;
        this.launching = launching;
        this.connecting = connecting;
        this.observer = observer;
        this.life = new FirstFailure(id, spec, cgroup);
        this.usage = new UsageCounters(cgroup, this::pid);
    }

    private void start() {
        // The cgroup goes when the process has, whether it started or not, and once fail() has read its OOM count
        // and the usage counters their last reading.
        usage.retireAfter(CompletableFuture.allOf(launching.thenCompose(InstanceProcess::exit).handle((exit, error) -> null),
                life.terminated()));
        // A platform thread blocks in read(2) directly; a virtual one would go through the poller on every frame.
        Thread.ofPlatform().daemon().name("gale-instance-" + id).start(this::readLoop);
        launching.whenComplete((launched, error) -> {
            if (error != null) {
                fail(new InstanceFailure(InstanceFailure.Kind.CRASHED, "could not start the instance: " + messageOf(error)));
                return;
            }
            process = launched;
            launched.exit().whenComplete((how, lost) -> onProcessExit());
        });
    }

    private static String messageOf(Throwable error) {
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
        return cause.getMessage() == null ? cause.toString() : cause.getMessage();
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public InstanceSpec spec() {
        return spec;
    }

    /** The process id, or -1 while the process is still being made (or when it is not a local process). */
    public long pid() {
        return process instanceof OsProcess p ? p.pid() : -1;
    }

    /** Completes with the detected calling convention when user code has loaded; fails with {@link InstanceFailedException}. */
    @Override
    public CompletableFuture<String> ready() {
        return life.ready();
    }

    public boolean isReady() {
        return life.ready().isDone() && !life.ready().isCompletedExceptionally() && life.current() == null;
    }

    @Override
    public Optional<InstanceFailure> failure() {
        return life.get();
    }

    /** Completes once, with the reason, when the instance can serve no more. */
    @Override
    public CompletableFuture<InstanceFailure> terminated() {
        return life.terminated();
    }

    /** Time from process start to READY. */
    public Duration startupTime() {
        return Duration.ofNanos(readyNanos == 0 ? 0 : readyNanos - startNanos);
    }

    /**
     * Runs one call and waits for its result until the request's deadline. On timeout the
     * instance is killed, because the user's code may still be running and holding it. The
     * deadline bounds sending the request too: an instance that stopped reading its socket
     * (frozen, or stuck in C code that holds the GIL) would otherwise hold the call forever.
     */
    @Override
    public InvokeResult invoke(InvokeRequest request) {
        CompletableFuture<InvokeResult> result = invokeAsync(request);
        try {
            return result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "the call was interrupted"));
            return new InvokeResult.InstanceDied(life.current());
        } catch (ExecutionException e) {
            throw new IllegalStateException("call results are never completed exceptionally", e);
        }
    }

    /**
     * Sends the call and returns; the reader thread completes the result when the instance
     * answers, so no thread waits for it. The request's deadline bounds the call: past it the
     * instance is killed (on a virtual thread, as killing waits for nothing but may unblock a
     * stuck write).
     */
    @Override
    public CompletableFuture<InvokeResult> invokeAsync(InvokeRequest request) {
        InstanceFailure failed = life.current();
        if (failed != null) return CompletableFuture.completedFuture(new InvokeResult.InstanceDied(failed));
        var result = new CompletableFuture<InvokeResult>();
        pending.put(request.requestId(), result);
        failed = life.current();
        if (failed != null) result.complete(new InvokeResult.InstanceDied(failed));
        var timer = Deadlines.shared().at(request.deadline(), () -> result.complete(new InvokeResult.TimedOut()));
        long size = FRAME_OVERHEAD_BYTES + request.body().length;
        long unansweredBefore = unanswered.getAndAdd(size);
        CompletableFuture<InvokeResult> outcome = result.thenCompose(r -> {
            timer.cancel();
            unanswered.addAndGet(-size);
            pending.remove(request.requestId());
            return r instanceof InvokeResult.TimedOut
                    ? CompletableFuture.supplyAsync(this::deadlinePassed, Thread::startVirtualThread) : CompletableFuture.completedFuture(r);
        });
        var frame = new Frame(Frame.Type.INVOKE, invokeHeader(request), request.body());
        // The caller's thread sends when that cannot block it for long: a virtual thread may wait, and requests
        // within the budget fit in the socket's buffer however slowly the instance reads. Else a sender does.
        if (Thread.currentThread().isVirtual()) {
            send(frame, result, false);
        } else if (unansweredBefore + size > INLINE_BUDGET_BYTES || !send(frame, result, true)) {
            SENDERS.execute(() -> send(frame, result, false));
        }
        return outcome;
    }

    /** Writes the request; with {@code onlyIfFree}, returns false at once when another write is under way. */
    private boolean send(Frame frame, CompletableFuture<InvokeResult> result, boolean onlyIfFree) {
        try {
            if (onlyIfFree) return connection.tryWrite(frame);
            connection.write(frame);
            return true;
        } catch (IOException e) {
            // The reader meets the same broken socket and can say why (an exit status, a protocol error): let it.
            life.terminated().copy().completeOnTimeout(null, 2, TimeUnit.SECONDS).thenRun(() -> {
                fail(new InstanceFailure(InstanceFailure.Kind.CRASHED, "lost the connection to the instance: " + e.getMessage()));
                result.complete(new InvokeResult.InstanceDied(life.current()));
            });
            return true;
        }
    }

    /**
     * A call's deadline passed: the instance is killed. Usually user code is still running
     * (504); but when a frame began to arrive and then stopped, the instance broke the
     * protocol, and raising the timeout would not help (502).
     */
    private InvokeResult deadlinePassed() {
        Connection c = connection;
        Optional<String> stalled = c == null ? Optional.empty() : c.stalledFrame(STALLED_FRAME);
        fail(stalled.map(how -> brokeProtocol("it sent " + how))
                .orElseGet(() -> new InstanceFailure(InstanceFailure.Kind.TIMEOUT, "a call exceeded the timeout; instance killed")));
        InstanceFailure recorded = life.current();
        return recorded.kind() == InstanceFailure.Kind.TIMEOUT ? new InvokeResult.TimedOut() : new InvokeResult.InstanceDied(recorded);
    }

    /** What user code did when an instance sends bytes that are not frames; the cause, in Gale's words, is in {@code what}. */
    private static InstanceFailure brokeProtocol(String what) {
        return new InstanceFailure(InstanceFailure.Kind.CRASHED, "the instance broke Gale's protocol: " + what
                + " (did the function write to Gale's connection, a file descriptor it did not open?); instance killed");
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
        if (life.current() != null) return;
        life.stopping();
        Connection c = connection;
        if (c != null) {
            try {
                c.write(Frame.of(Frame.Type.SHUTDOWN, Frame.newHeader()));
            } catch (IOException ignored) {
                // already gone: the kill below records it as stopped
            }
        }
        awaitExit(grace);
        fail(new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped"));
    }

    /** Measures the resident memory of the instance and its children, in bytes; 0 once it is gone. */
    @Override
    public long rssBytes() {
        InstanceProcess p = process;
        if (p == null) return 0;
        long total = p.rssBytes();
        lastRssBytes = total;
        return total;
    }

    /** The last {@link #rssBytes()} measurement, without measuring again (cheap enough for every call). */
    @Override
    public long lastRssBytes() {
        return lastRssBytes;
    }

    /** True when the instance runs in a cgroup (its own, or its container's): the kernel enforces its memory limit, so the pool's watchdog need not. */
    @Override
    public boolean memoryLimitEnforced() {
        InstanceProcess p = process;
        return life.memoryLimitEnforced() || (p != null && p.limitsMemory());
    }

    @Override
    public UsageCounters usageCounters() {
        return usage;
    }

    private void fail(InstanceFailure given) {
        Optional<InstanceFailure> recorded = life.record(given);
        if (recorded.isEmpty()) return;
        InstanceFailure reason = recorded.get();
        launching.thenAccept(InstanceProcess::destroy); // now, or as soon as a zygote has forked it (or the pod exists)
        connecting.completeExceptionally(new InstanceFailedException(reason));
        Connection c = connection;
        if (c != null) c.close();
        var died = new InvokeResult.InstanceDied(reason);
        pending.values().forEach(f -> f.complete(died));
        life.end(reason);
    }

    private void readLoop() {
        InPlace.allowOnThisThread(); // it only reads, completes calls and writes responses without blocking
        try {
            connection = connecting.get();
            if (connection == null) return; // exited without connecting: onProcessExit reports it
            if (life.current() != null) connection.close();
            while (true) {
                handle(connection.read());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            // failed before it connected; fail() has recorded why
        } catch (Frame.ProtocolException e) {
            if (life.current() == null) fail(brokeProtocol(e.getMessage()));
        } catch (IOException e) {
            if (life.current() == null) {
                // The socket closed first; give the process a moment to report its exit status. A forked
                // instance's exit is reported by its zygote, which may be busy: wait longer once it is surely gone.
                awaitExit(Duration.ofSeconds(1));
                InstanceProcess p = process;
                if (p != null && p.mayReportExitLate()) awaitExit(Duration.ofSeconds(5));
                InstanceFailure exit = exitFailure();
                fail(e instanceof Frame.CutOff cut ? new InstanceFailure(exit.kind(), exit.message() + "; " + cut.getMessage()) : exit);
            }
        }
    }

    private void handle(Frame frame) {
        switch (frame.type()) {
            case READY -> {
                readyNanos = System.nanoTime();
                life.ready().complete(frame.text("signature"));
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

    /** Logs each line of {@code text}; a line longer than a pipe's ({@link ProcessOutput#MAX_LINE_BYTES}) goes in pieces, as from a pipe. */
    private void logLines(Optional<String> requestId, String stream, String text) {
        if (text == null || text.isEmpty()) return;
        for (String line : text.split("\n", -1)) {
            for (int start = 0; start < line.length(); start += ProcessOutput.MAX_LINE_BYTES) {
                observer.log(this, requestId, stream, line.substring(start, Math.min(line.length(), start + ProcessOutput.MAX_LINE_BYTES)));
            }
        }
    }

    /** Waits up to {@code limit} for the process to exit. */
    private void awaitExit(Duration limit) {
        launching.thenCompose(InstanceProcess::exit)
                .completeOnTimeout(null, limit.toMillis(), TimeUnit.MILLISECONDS)
                .exceptionally(error -> null)
                .join();
    }

    /** Logs what the process writes to one of its pipes, line by line, with the instance id only. */
    public void logPipe(InputStream stream, String name) {
        ProcessOutput.read(stream, "gale-" + name + "-" + id, line -> observer.log(this, Optional.empty(), name, line));
    }

    /** Logs what a forked process writes to its stdout or stderr, which it connected to Gale's socket. */
    public void logSocket(InputStream stream, String name) {
        ProcessOutput.readSocket(stream, "gale-" + name + "-" + id, line -> observer.log(this, Optional.empty(), name, line));
    }

    /**
     * A process that exits before connecting has failed now. One that was connected may
     * have sent frames (LOAD_FAILED, a last RESPONSE) that the reader has not handled yet:
     * the reader reports the exit when it reaches the end of the stream, and this is only
     * the fallback should it not.
     */
    private void onProcessExit() {
        var exited = exitFailure();
        // The HELLO it sent may still be on its way through the listener; give it a moment.
        connecting.completeOnTimeout(null, 1, TimeUnit.SECONDS).whenComplete((connection, error) -> {
            if (connection == null) {
                fail(exited);
            } else {
                CompletableFuture.delayedExecutor(2, TimeUnit.SECONDS).execute(() -> fail(exited));
            }
        });
    }

    /** How the process ended (CRASHED, or LOST with its zygote); while it still runs, that it closed its connection. */
    private InstanceFailure exitFailure() {
        InstanceProcess p = process;
        if (p != null && p.exit().isDone()) {
            return p.exit().handle((how, error) -> {
                if (error == null) return new InstanceFailure(InstanceFailure.Kind.CRASHED, how);
                Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
                return cause instanceof InstanceFailedException taken ? taken.failure()
                        : new InstanceFailure(InstanceFailure.Kind.CRASHED, "instance ended: " + messageOf(cause));
            }).join();
        }
        return new InstanceFailure(InstanceFailure.Kind.CRASHED,
                p != null ? p.connectionClosedWhileRunning() : InstanceProcess.CLOSED_ITS_CONNECTION);
    }

    @Override
    public String toString() {
        InstanceProcess p = process;
        return "Instance[" + id + " " + spec.label() + " " + (p == null ? "starting" : p.describe()) + "]";
    }
}
