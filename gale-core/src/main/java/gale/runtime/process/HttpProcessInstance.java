package gale.runtime.process;

import gale.config.Durations;
import gale.runtime.Instance;
import gale.runtime.FirstFailure;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceObserver;
import gale.runtime.InstanceSpec;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.runtime.Isolation;
import gale.runtime.OutputTail;
import gale.runtime.ProcessOutput;
import gale.runtime.UsageCounters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * An instance that is any command serving HTTP on {@code $PORT} (the Cloud Run container
 * contract). It is ready once it answers an HTTP request to {@code /}; each call is
 * forwarded to it over its own loopback connection; it is stopped with SIGTERM, then
 * SIGKILL after the grace period, and both reach every process it started.
 *
 * <p>In a cgroup the kernel enforces the memory limit: when it kills any process of the
 * instance (the server, or a helper the server started), the instance is killed with a
 * memory failure, as the pool's RSS watchdog would kill it without a cgroup.
 *
 * <p>As with every {@link Instance}, the first failure recorded is the one all later
 * calls see: a process exit, a timeout kill and a stop all end up in {@link #fail}.
 */
final class HttpProcessInstance implements Instance {

    private static final Logger LOG = LoggerFactory.getLogger(HttpProcessInstance.class);
    /** First wait between startup probes; doubles up to {@link #PROBE_MAX_BACKOFF}. */
    private static final Duration PROBE_FIRST_BACKOFF = Duration.ofMillis(10);
    private static final Duration PROBE_MAX_BACKOFF = Duration.ofMillis(500);
    /** A probe that connected but got no status line this soon is retried: the server may still be starting. */
    private static final Duration PROBE_ATTEMPT = Duration.ofSeconds(5);
    /** A crash closes the call's connection a moment before the JVM sees the exit; wait this long for it. */
    private static final Duration EXIT_NOTICE = Duration.ofSeconds(1);
    /** How long the output readers may take to pass on what a process printed before it exited. */
    private static final Duration OUTPUT_DRAIN = Duration.ofMillis(500);

    private final String id;
    private final InstanceSpec spec;
    private final Process process;
    private final ProcessGroup group;
    private final boolean sandboxed;
    private final FirstFailure life;
    private final int port;
    private final Duration startupTimeout;
    private final InstanceObserver observer;
    private final ScheduledExecutorService deadlines;
    private final OutputTail lastOutput = new OutputTail();
    private CompletableFuture<Void> outputDrained = CompletableFuture.completedFuture(null);
    private final Set<Http1Exchange> inFlight = ConcurrentHashMap.newKeySet();
    private volatile long lastRssBytes;
    private final UsageCounters usage;

    /**
     * @param process        {@code setsid /bin/sh -c COMMAND}, just started, maybe in bubblewrap
     * @param sandboxed      the process is bubblewrap, holding the shell in its sandbox
     * @param cgroup         the cgroup the process joined before anything else ran; removed once the instance is over
     * @param startupTimeout how long the command may take to answer HTTP on its port
     * @param deadlines      runs the timers that end calls at their deadline
     */
    HttpProcessInstance(String id, InstanceSpec spec, Process process, boolean sandboxed, Optional<Isolation.Cgroup> cgroup,
                        int port, Duration startupTimeout, InstanceObserver observer, ScheduledExecutorService deadlines) {
        this.id = id;
        this.spec = spec;
        this.process = process;
        this.group = new ProcessGroup(process.toHandle(), sandboxed);
        this.sandboxed = sandboxed;
        this.life = new FirstFailure(id, spec, cgroup);
        this.usage = new UsageCounters(cgroup, process::pid);
        this.port = port;
        this.startupTimeout = startupTimeout;
        this.observer = observer;
        this.deadlines = deadlines;
    }

    /** Starts watching the process: its output is logged, it is probed until it answers HTTP, its exit is noticed. */
    void start() {
        outputDrained = CompletableFuture.allOf(logOutput(process.getInputStream(), "stdout"), logOutput(process.getErrorStream(), "stderr"));
        Thread.ofVirtual().name("gale-probe-" + id).start(this::probeUntilReady);
        process.onExit().thenRun(this::onProcessExit);
        // fail() has killed every member by then; the kernel may take a moment to let the cgroup go.
        usage.retireAfter(life.terminated());
    }

    private CompletableFuture<Void> logOutput(java.io.InputStream pipe, String stream) {
        return ProcessOutput.read(pipe, "gale-" + stream + "-" + id, line -> {
            lastOutput.add(line);
            observer.log(this, Optional.empty(), stream, line);
        }).drained();
    }

    @Override
    public UsageCounters usageCounters() {
        return usage;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public InstanceSpec spec() {
        return spec;
    }

    int port() {
        return port;
    }

    @Override
    public CompletableFuture<String> ready() {
        return life.ready();
    }

    @Override
    public Optional<InstanceFailure> failure() {
        return life.get();
    }

    @Override
    public CompletableFuture<InstanceFailure> terminated() {
        return life.terminated();
    }

    // ---- start

    /** Polls with backoff until {@code GET /} gets any HTTP answer, the process exits, or the startup timeout passes. */
    private void probeUntilReady() {
        Instant deadline = Instant.now().plus(startupTimeout);
        Duration backoff = PROBE_FIRST_BACKOFF;
        boolean connected = false;
        while (life.current() == null) {
            Duration left = Duration.between(Instant.now(), deadline);
            if (left.isNegative() || left.isZero()) {
                fail(new InstanceFailure(InstanceFailure.Kind.LOAD_FAILED, neverAnswered(connected)));
                return;
            }
            try (var probe = new Http1Exchange()) {
                probe.connect(port, left);
                connected = true;
                Duration attempt = left.compareTo(PROBE_ATTEMPT) < 0 ? left : PROBE_ATTEMPT;
                ScheduledFuture<?> timer = deadlines.schedule(probe::abort, attempt.toNanos(), TimeUnit.NANOSECONDS);
                try {
                    probe.send("GET", "/", List.of(Map.entry("Host", "127.0.0.1:" + port),
                            Map.entry("User-Agent", "Gale-StartupProbe")), new byte[0]);
                    probe.status();
                } finally {
                    timer.cancel(false);
                }
                if (life.ready().complete("http")) LOG.debug("instance {} ({}) answers HTTP on port {}", id, spec.label(), port);
                return;
            } catch (IOException notYet) {
                // not listening yet, or not speaking HTTP yet: try again
            }
            sleep(backoff.compareTo(left) < 0 ? backoff : left);
            backoff = backoff.multipliedBy(2).compareTo(PROBE_MAX_BACKOFF) < 0 ? backoff.multipliedBy(2) : PROBE_MAX_BACKOFF;
        }
    }

    private String neverAnswered(boolean connected) {
        String limit = Durations.format(startupTimeout);
        String what = connected
                ? "the command accepted connections on $PORT (" + port + ") but never answered an HTTP request to / within "
                : "the command never listened on $PORT (" + port + ") within ";
        return what + limit + "; last output: " + lastOutput + ". Make it serve HTTP on the port in $PORT (the startup"
                + " limit is the function's timeout, at most " + Durations.format(ProcessRuntime.MAX_STARTUP) + ")";
    }

    // ---- calls

    /** Forwards the call to the command's port and waits for the answer until the request's deadline. */
    @Override
    public InvokeResult invoke(InvokeRequest request) {
        InstanceFailure failed = life.current();
        if (failed != null) return new InvokeResult.InstanceDied(failed);
        Duration left = Duration.between(Instant.now(), request.deadline());
        if (left.isNegative() || left.isZero()) return new InvokeResult.TimedOut(); // nothing reached user code
        var exchange = new Http1Exchange();
        inFlight.add(exchange);
        ScheduledFuture<?> timer = deadlines.schedule(exchange::abort, left.toNanos(), TimeUnit.NANOSECONDS);
        try {
            if (life.current() != null) return new InvokeResult.InstanceDied(life.current()); // fail() may have missed it
            exchange.connect(port, left);
            exchange.send(request.method(), ForwardedRequest.target(request), ForwardedRequest.headers(request,
                    spec.config().isPublic() || spec.config().requireKey(), ProcessRuntime.urlPrefix(spec), port), request.body());
            var response = exchange.receive("HEAD".equals(request.method()));
            return outOfMemory().orElse(new InvokeResult.Response(response.status(), response.headers(), response.body()));
        } catch (IOException e) {
            return broken(request, exchange, e);
        } finally {
            timer.cancel(false);
            inFlight.remove(exchange);
            exchange.close();
        }
    }

    /** Why a call's exchange failed: the instance went away, the deadline passed, or the server answered badly. */
    private InvokeResult broken(InvokeRequest request, Http1Exchange exchange, IOException e) {
        InstanceFailure failed = life.current();
        if (failed != null) return new InvokeResult.InstanceDied(failed); // killed (memory, stop, another call's timeout)
        Optional<InvokeResult> outOfMemory = outOfMemory();
        if (outOfMemory.isPresent()) return outOfMemory.get();
        if (exchange.aborted()) {
            kill(new InstanceFailure(InstanceFailure.Kind.TIMEOUT, "a call exceeded the timeout; instance killed"));
            return new InvokeResult.TimedOut();
        }
        process.onExit().completeOnTimeout(process, EXIT_NOTICE.toMillis(), TimeUnit.MILLISECONDS).join();
        if (!process.isAlive()) {
            fail(new InstanceFailure(InstanceFailure.Kind.CRASHED, describeExit()));
            return new InvokeResult.InstanceDied(life.current());
        }
        if (e instanceof ConnectException) {
            kill(new InstanceFailure(InstanceFailure.Kind.CRASHED, "the command stopped listening on $PORT (" + port + ")"));
            return new InvokeResult.InstanceDied(life.current());
        }
        String error = "an invalid HTTP response (" + e.getMessage() + ")";
        observer.log(this, Optional.of(request.requestId()), "gale", spec.label() + " answered " + request.method() + " "
                + request.path() + " with " + error);
        return new InvokeResult.FunctionError(error, "");
    }

    /**
     * After a call: when the kernel killed a process of the instance for its memory limit
     * (during the call or before), the instance is killed and the call fails with why, even
     * if the server survived and answered.
     */
    private Optional<InvokeResult> outOfMemory() {
        Optional<InstanceFailure> memory = life.cgroup().flatMap(Isolation.Cgroup::memoryFailure);
        if (memory.isEmpty()) return Optional.empty();
        kill(memory.get());
        return Optional.of(new InvokeResult.InstanceDied(life.current()));
    }

    // ---- stop

    @Override
    public void kill(InstanceFailure reason) {
        fail(reason);
    }

    /** SIGTERM to every process of the instance; SIGKILL to those still running after {@code grace}. */
    @Override
    public void stop(Duration grace) {
        if (life.current() != null) return;
        life.stopping();
        long until = System.nanoTime() + grace.toNanos();
        group.terminate();
        process.onExit().completeOnTimeout(process, grace.toMillis(), TimeUnit.MILLISECONDS).join();
        while (System.nanoTime() < until && group.anyAlive()) sleep(Duration.ofMillis(50));
        if (group.anyAlive()) {
            observer.log(this, Optional.empty(), "gale", "instance " + id + " did not exit within "
                    + Durations.format(grace) + " of SIGTERM; killed");
        }
        fail(new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped"));
    }

    /** Resident memory of the command and every process it started, in bytes; 0 once they are gone. */
    @Override
    public long rssBytes() {
        long total = group.rssBytes();
        lastRssBytes = total;
        return total;
    }

    @Override
    public long lastRssBytes() {
        return lastRssBytes;
    }

    /** True in a cgroup: the kernel enforces the memory limit, so the pool's watchdog need not. */
    @Override
    public boolean memoryLimitEnforced() {
        return life.memoryLimitEnforced();
    }

    private void fail(InstanceFailure reason) {
        Optional<InstanceFailure> recorded = life.record(reason);
        if (recorded.isEmpty()) return;
        group.kill();
        process.destroyForcibly();
        inFlight.forEach(Http1Exchange::close);
        life.end(recorded.get());
    }

    /** Before it answered, an exit is a failed start whose reason carries the last output; after, a crash. */
    private void onProcessExit() {
        if (life.isStopping()) return; // stop() waits out the grace period for the rest of the group, then records it
        if (life.ready().isDone()) {
            fail(new InstanceFailure(InstanceFailure.Kind.CRASHED, describeExit()));
            return;
        }
        outputDrained.copy().completeOnTimeout(null, OUTPUT_DRAIN.toMillis(), TimeUnit.MILLISECONDS).join();
        String hint = process.exitValue() != 127 ? ""
                : sandboxed ? " (command not found: install it, or fix --command; the sandbox shows the system folders, such as"
                        + " /usr and /bin, and the bundle: name a program installed elsewhere by its absolute path, or deploy"
                        + " with --sandbox off)"
                : " (command not found: install it, or fix --command)";
        String memory = life.cgroup().flatMap(Isolation.Cgroup::memoryFailure).map(m -> " (" + m.message() + ")").orElse("");
        fail(new InstanceFailure(InstanceFailure.Kind.LOAD_FAILED, describeExit() + memory + " before listening on $PORT ("
                + port + ")" + hint + "; last output: " + lastOutput));
    }

    /** Only once the process has exited. */
    private String describeExit() {
        int code = process.exitValue();
        if (code > 128) return "the command was killed by signal " + (code - 128);
        return "the command exited with code " + code;
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "Instance[" + id + " " + spec.label() + " pid " + process.pid() + " port " + port + "]";
    }
}
