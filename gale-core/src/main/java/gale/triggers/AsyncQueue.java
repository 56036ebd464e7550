package gale.triggers;

import gale.config.Durations;
import gale.config.FunctionConfig;
import gale.logs.LogSink;
import gale.registry.ActiveFunction;
import gale.registry.Registry;
import gale.runtime.InvokeResult;
import gale.store.AsyncInvocationRow;
import gale.store.AsyncInvocationRow.State;
import gale.store.AsyncStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Async calls (docs/async.md): the gateway {@link #accept stores} a call before it answers 202; one
 * platform thread leases due calls from the store ({@link AsyncStore#claim}) and runs each on a
 * virtual thread through the function's pool ({@link AsyncAttempt}). A failed attempt is queued again
 * after the function's backoff (doubling); after its last attempt, or past its max age, the call is a
 * dead letter with its input, error and traceback, until it is redriven or purged.
 *
 * <p>At least once: a lease expires at the function's timeout plus {@link #LEASE_MARGIN}, so a call
 * whose worker died (Gale killed) runs again; one cut off by a stop goes back to the queue at once,
 * without counting as an attempt.
 *
 * <p>Calls in flight are bounded per function by twice its max-instances x concurrency (one running and one
 * waiting in its pool per slot; more would only wait longer), and in all by {@link #MAX_IN_FLIGHT}.
 */
public final class AsyncQueue implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AsyncQueue.class);
    static final Duration LEASE_MARGIN = Duration.ofSeconds(30);
    private static final int MAX_IN_FLIGHT = 512;
    private static final int BATCH = 256;
    private static final int MAX_WRITE_BATCH = 512;
    /** Calls in flight per slot of a function's pool: one running, one waiting in its queue, so no slot idles while the poller leases. */
    private static final int IN_FLIGHT_PER_SLOT = 2;
    /** How long a call waits when it could not run (the pool was full, the function is restoring). */
    private static final Duration NOT_RUN_DELAY = Duration.ofMillis(500);
    private static final long MAX_SLEEP_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final AsyncStore store;
    private final Registry registry;
    private final LogSink logs;
    /**
     * Whose lease a row holds: this node's id (lease_owner, 40 characters at most), so a node that died is known by
     * its leases, which the node that notices hands back (NodeStore.removeDead).
     */
    private final String owner;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final Map<String, AtomicInteger> inFlightByFunction = new ConcurrentHashMap<>();
    private final Set<String> running = ConcurrentHashMap.newKeySet();
    private final AtomicInteger inFlight = new AtomicInteger();
    private boolean poked;
    private volatile boolean stopping;
    private Thread poller;
    private Thread writer;
    private volatile boolean writerStopped;
    private final LinkedBlockingQueue<Pending> toStore = new LinkedBlockingQueue<>();
    private volatile Guard guard = (call, fn) -> Optional.empty();

    /** Why a stored call may no longer run on the function's active version; empty when it may. */
    public interface Guard {
        Optional<String> refusal(AsyncInvocationRow call, ActiveFunction fn);
    }

    /** @param node this node's id: the owner of the leases it takes */
    public AsyncQueue(AsyncStore store, Registry registry, LogSink logs, String node) {
        if (node.length() > 40) throw new IllegalArgumentException("a node id has at most 40 characters: " + node);
        this.owner = node;
        this.store = store;
        this.registry = registry;
        this.logs = logs;
    }

    /** Starts taking calls: {@link #accept} stores them from now on. */
    public void open() {
        writer = Thread.ofPlatform().name("gale-async-writer").daemon().start(this::writeLoop);
    }

    /**
     * Starts leasing calls. Calls this node leased before it stopped (killed) are queued again at once rather than
     * when their leases expire.
     *
     * @param soleWorker true when no other node shares the store (the embedded store): every call left RUNNING is
     *                   queued again at once, whoever leased it (a run before node ids were owners)
     */
    public void start(boolean soleWorker) {
        if (stopping) return; // closed before the functions of the last run were back
        int released = soleWorker ? store.releaseAllLeases(Instant.now()) : store.releaseLeasesOf(owner, Instant.now());
        if (released > 0) LOG.info("{} async calls that were running when this node stopped are queued again", released);
        poller = Thread.ofPlatform().name("gale-async-poller").daemon().start(this::pollLoop);
    }

    /**
     * Stores a call as QUEUED. The future completes once it is durable (then the 202 may go), or fails when
     * the store refused it or Gale is stopping. Calls arriving together are written in one transaction.
     */
    public CompletableFuture<Void> accept(AsyncInvocationRow call) {
        if (stopping) return CompletableFuture.failedFuture(new IllegalStateException("Gale is stopping"));
        return write(w -> {
            w.insert(call);
            return true;
        }).thenApply(stored -> null);
    }

    /** One write for the writer thread, and who waits for it. */
    private record Pending(Function<AsyncStore.Writes, Boolean> write, CompletableFuture<Boolean> done) {
    }

    private CompletableFuture<Boolean> write(Function<AsyncStore.Writes, Boolean> write) {
        if (writerStopped) return CompletableFuture.failedFuture(new IllegalStateException("Gale's async queue has stopped"));
        var pending = new Pending(write, new CompletableFuture<>());
        toStore.add(pending);
        return pending.done();
    }

    /**
     * Group commit: takes every write that has arrived (accepted calls, attempts' ends), runs them in one
     * transaction, tells each caller. SQLite has one writer at a time; one commit for many is what keeps
     * accepting and settling calls from queueing behind each other's commits.
     */
    private void writeLoop() {
        List<Pending> batch = new ArrayList<>();
        while (!writerStopped || !toStore.isEmpty()) {
            try {
                Pending first = toStore.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) continue;
                batch.add(first);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            toStore.drainTo(batch, MAX_WRITE_BATCH - 1);
            try {
                List<Boolean> results = store.writeAll(batch.stream().map(Pending::write).toList());
                for (int i = 0; i < batch.size(); i++) batch.get(i).done().complete(results.get(i));
                poke();
            } catch (RuntimeException e) {
                LOG.warn("could not store {} async calls' changes; accepted calls' callers are told to send them again, "
                        + "running calls run again when their leases expire", batch.size(), e);
                batch.forEach(p -> p.done().completeExceptionally(e));
            }
            batch.clear();
        }
    }

    public Optional<AsyncInvocationRow> find(String id) {
        return store.find(id);
    }

    public List<AsyncInvocationRow> deadLetters(String function, int limit) {
        return store.deadLetters(function, limit);
    }

    /** Queues the function's dead letters again (all, or those named), attempts and max age counted afresh. */
    public AsyncStore.Redriven redrive(String function, Optional<Collection<String>> ids) {
        AsyncStore.Redriven done = store.redrive(function, ids, Instant.now());
        if (!done.queued().isEmpty()) {
            LOG.info("function '{}': {} dead letters queued again", function, done.queued().size());
            poke();
        }
        return done;
    }

    public int purge(String function) {
        return store.purge(function);
    }

    /** The stored headers of a call, in order. */
    public static List<Map.Entry<String, String>> headers(String headersJson) {
        return AsyncAttempt.fromJson(headersJson);
    }

    public static String headersJson(List<Map.Entry<String, String>> headers) {
        return AsyncAttempt.toJson(headers);
    }

    /** From now on each call is checked by {@code guard} before it runs; a refused one is a dead letter with the reason. */
    public void guardWith(Guard guard) {
        this.guard = guard;
    }

    /** Looks for due calls now: trigger events were just stored (docs/triggers.md). */
    public void wake() {
        poke();
    }

    private void poke() {
        lock.lock();
        try {
            poked = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
    }

    private void pollLoop() {
        while (!stopping) {
            try {
                // Leased some and more may be due: look again at once. Leased none: every due call waits for a slot
                // (a call that ends pokes) or for its time; looking again at once would spin.
                if (claimDue() > 0) continue;
                sleepUntilDue();
            } catch (RuntimeException e) {
                LOG.error("async calls: could not lease due calls from the store; trying again in a second", e);
                sleepQuietly();
            }
        }
    }

    /** Leases due calls as far as the limits allow and starts each; returns how many it leased. */
    private int claimDue() {
        Instant now = Instant.now();
        List<AsyncStore.Candidate> due = store.due(now, BATCH);
        List<AsyncStore.Claim> claims = new ArrayList<>();
        Map<String, Integer> planned = new HashMap<>();
        for (AsyncStore.Candidate candidate : due) {
            if (stopping || inFlight.get() + claims.size() >= MAX_IN_FLIGHT) break;
            if (running.contains(candidate.id())) continue;
            Optional<ActiveFunction> fn = registry.active(candidate.function());
            int limit = fn.map(f -> IN_FLIGHT_PER_SLOT * f.config().maxInstances() * f.config().concurrency()).orElse(1);
            int busy = inFlightByFunction.computeIfAbsent(candidate.function(), k -> new AtomicInteger()).get();
            if (busy + planned.getOrDefault(candidate.function(), 0) >= limit) continue;
            planned.merge(candidate.function(), 1, Integer::sum);
            Duration timeout = fn.map(f -> f.config().timeout()).orElse(Duration.ofMinutes(1));
            claims.add(new AsyncStore.Claim(candidate.id(), now.plus(timeout).plus(LEASE_MARGIN)));
        }
        List<AsyncInvocationRow> leased = store.claimAll(claims, owner, now);
        leased.forEach(this::start);
        return leased.size();
    }

    private void start(AsyncInvocationRow call) {
        AtomicInteger count = inFlightByFunction.computeIfAbsent(call.function(), k -> new AtomicInteger());
        count.incrementAndGet();
        inFlight.incrementAndGet();
        running.add(call.id());
        Thread.ofVirtual().name("gale-async-" + call.id()).start(() -> {
            try {
                runOne(call);
            } catch (RuntimeException e) {
                LOG.error("async call {} of '{}' failed in Gale; it runs again when its lease expires", call.id(), call.function(), e);
            } finally {
                running.remove(call.id());
                count.decrementAndGet();
                inFlight.decrementAndGet();
                poke();
            }
        });
    }

    private void sleepUntilDue() {
        long sleep = MAX_SLEEP_NANOS;
        Optional<Instant> next = store.earliestDue();
        if (next.isPresent()) {
            long untilNext = TimeUnit.MILLISECONDS.toNanos(next.get().toEpochMilli() - System.currentTimeMillis());
            if (untilNext > 0) sleep = Math.min(sleep, untilNext); // due now: those are waiting for a slot, which pokes
        }
        lock.lock();
        try {
            while (!poked && !stopping && sleep > 0) sleep = wake.awaitNanos(sleep);
            poked = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopping = true;
        } finally {
            lock.unlock();
        }
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs one leased call's attempt and stores what comes of it. */
    private void runOne(AsyncInvocationRow call) {
        Instant now = Instant.now();
        // As a call through the gateway: the traffic split picks the version (docs/traffic.md).
        Optional<ActiveFunction> found = registry.route(call.function(), "", gale.registry.TrafficSplit.randomBucket());
        if (found.isEmpty()) {
            if (registry.function(call.function()).isPresent() || registry.isRestoring(call.function())) {
                requeueNotRun(call, now); // no ACTIVE version yet, or restoring after a restart
            } else {
                write(w -> w.finish(call.id(), owner, State.DEAD, call.attempts(), Optional.empty(), Optional.empty(),
                        Optional.empty(), Optional.empty(), Optional.of("function '" + call.function() + "' no longer exists"),
                        Optional.empty(), now, Optional.empty())).join();
            }
            return;
        }
        FunctionConfig config = found.get().config();
        if (now.isAfter(call.createdAt().plus(config.asyncMaxAge()))) {
            dead(call, call.attempts(), Optional.empty(), "not run within its async-max-age of "
                    + Durations.format(config.asyncMaxAge()) + call.error().map(e -> "; last error: " + e).orElse(""),
                    call.traceback(), Optional.empty(), config.asyncOnFailure());
            return;
        }
        Optional<String> refused = guard.refusal(call, found.get());
        if (refused.isPresent()) {
            dead(call, call.attempts(), Optional.of(found.get().version()), refused.get(), Optional.empty(), Optional.empty(),
                    config.asyncOnFailure());
            return;
        }
        int attempt = call.attempts() + 1;
        AsyncAttempt.Ended ended = AsyncAttempt.run(found.get(), call, attempt, logs);
        settle(call, attempt, config, ended);
    }

    private void settle(AsyncInvocationRow call, int attempt, FunctionConfig config, AsyncAttempt.Ended ended) {
        Instant now = Instant.now();
        switch (ended) {
            case AsyncAttempt.Ended.Answered a -> {
                Optional<AsyncInvocationRow> record = destination(config.asyncOnSuccess(), call).map(to -> DestinationRecord.of(
                        to, call, "Success", attempt, a.version(), Optional.of(a.response().status()),
                        Optional.of(a.response().body()), Optional.empty(), Optional.empty(), now));
                write(w -> w.finish(call.id(), owner, State.SUCCEEDED, attempt, Optional.of(a.version()),
                        Optional.of(a.response().status()), Optional.of(headersJson(a.response().headers())),
                        Optional.of(a.response().body()), Optional.empty(), Optional.empty(), now, record)).join();
            }
            case AsyncAttempt.Ended.NotRun n -> {
                LOG.debug("async call {} of '{}' did not run ({}); queued again", call.id(), call.function(), n.why());
                requeueNotRun(call, now);
            }
            case AsyncAttempt.Ended.Failed f when stopping -> {
                LOG.debug("async call {} of '{}' cut off by the stop ({}); queued again", call.id(), call.function(), f.error());
                requeueNotRun(call, now);
            }
            case AsyncAttempt.Ended.Failed f -> {
                Duration backoff = config.asyncBackoff().multipliedBy(1L << Math.min(20, attempt - 1));
                Instant next = now.plus(backoff);
                boolean expires = next.isAfter(call.createdAt().plus(config.asyncMaxAge()));
                if (attempt >= config.asyncMaxAttempts() || expires) {
                    String why = attempt >= config.asyncMaxAttempts()
                            ? " (attempt " + attempt + " of " + config.asyncMaxAttempts() + ")"
                            : " (attempt " + attempt + "; the next would be past its async-max-age of "
                            + Durations.format(config.asyncMaxAge()) + ")";
                    dead(call, attempt, Optional.of(f.version()), f.error() + why, f.traceback(), f.response(),
                            config.asyncOnFailure());
                } else {
                    LOG.debug("async call {} of '{}': attempt {} failed ({}); next in {}", call.id(), call.function(),
                            attempt, f.error(), Durations.format(backoff));
                    write(w -> w.requeue(call.id(), owner, attempt, next, Optional.of(f.version()), Optional.of(f.error()),
                            f.traceback(), now)).join();
                }
            }
        }
    }

    private void requeueNotRun(AsyncInvocationRow call, Instant now) {
        write(w -> w.requeue(call.id(), owner, call.attempts(), stopping ? now : now.plus(NOT_RUN_DELAY), Optional.empty(),
                Optional.empty(), Optional.empty(), now)).join();
    }

    private void dead(AsyncInvocationRow call, int attempts, Optional<Integer> version, String error,
                      Optional<String> traceback, Optional<InvokeResult.Response> response, String onFailure) {
        LOG.info("async call {} of '{}' is a dead letter: {}", call.id(), call.function(), error);
        Instant now = Instant.now();
        Optional<AsyncInvocationRow> record = destination(onFailure, call).map(to -> DestinationRecord.of(to, call,
                "RetriesExhausted", attempts, version.orElse(0), response.map(InvokeResult.Response::status),
                response.map(InvokeResult.Response::body), Optional.of(error), traceback, now));
        write(w -> w.finish(call.id(), owner, State.DEAD, attempts, version, response.map(InvokeResult.Response::status),
                response.map(r -> headersJson(r.headers())), response.map(InvokeResult.Response::body), Optional.of(error),
                traceback, now, record)).join();
    }

    /** The function a record of {@code call}'s end goes to: none when unset, for a record itself, or when it is not deployed. */
    private Optional<String> destination(String function, AsyncInvocationRow call) {
        if (function.isEmpty() || DestinationRecord.isRecord(call)) return Optional.empty();
        if (registry.function(function).isEmpty()) {
            LOG.warn("async call {} of '{}': its destination function '{}' is not deployed; no record is sent",
                    call.id(), call.function(), function);
            return Optional.empty();
        }
        return Optional.of(function);
    }

    /**
     * Waits up to {@code timeout} for the calls in flight to be stored as they ended (after the pools drained),
     * then stops the writer once what waits is written.
     */
    public void awaitIdleAndStopWriting(Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        try {
            while (inFlight.get() > 0 && System.nanoTime() < end) Thread.sleep(20);
            writerStopped = true;
            if (writer != null) writer.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops accepting and leasing; calls in flight end with the pools' drain (an attempt cut off by it goes back
     * to the queue uncounted, through the writer, which {@link #awaitIdleAndStopWriting} stops after the drain).
     */
    @Override
    public void close() {
        stopping = true; // no new calls accepted, none leased; the writer stays for the calls in flight
        poke();
        try {
            if (poller != null) poller.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
