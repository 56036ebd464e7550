package gale.runtime.python;

import gale.runtime.InstanceSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The zygotes of the Python runtime: at most one serving per function version, and a budget
 * on how many stay. A zygote costs memory for as long as it lives (its interpreter, its
 * imports, a spare child), so one that has forked nothing for {@link ZygoteBudget#idleTimeout()}
 * is retired, and when starting one would go over {@link ZygoteBudget#maxZygotes()}, the least
 * recently used one without running instances is retired first. A retired version starts a
 * new zygote at its next cold start. Zygotes with running instances (or forking one) are never retired here
 * (their instances die with them), so the budget is a target that running instances may
 * exceed for a while.
 */
final class Zygotes implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Zygotes.class);
    /** After a zygote failed before it was ready, the version's instances start fresh for this long. */
    static final Duration RETRY_AFTER = Duration.ofSeconds(30);
    /** How long a spare instance may take to exit when the server stops, before it is killed. */
    private static final Duration SPARE_STOP_GRACE = Duration.ofSeconds(2);

    private final ZygoteBudget budget;
    private final Function<InstanceSpec, PythonZygote> starter;
    private final Map<String, PythonZygote> serving = new ConcurrentHashMap<>();
    private final Map<String, Instant> brokenUntil = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** @param starter starts a version's zygote; throws UncheckedIOException when it cannot */
    Zygotes(ZygoteBudget budget, Function<InstanceSpec, PythonZygote> starter) {
        this.budget = budget;
        this.starter = starter;
    }

    static String key(InstanceSpec spec) {
        return spec.function() + "@" + spec.version();
    }

    /** The version's serving zygote, started if there is none; empty when its zygote failed recently. */
    Optional<PythonZygote> forVersion(InstanceSpec spec) {
        if (closed) return Optional.empty();
        String key = key(spec);
        Instant broken = brokenUntil.get(key);
        if (broken != null && Instant.now().isBefore(broken)) return Optional.empty();
        PythonZygote current = serving.get(key);
        if (current != null && current.isServing()) return Optional.of(current.touch());
        makeRoomFor(key);
        try {
            return Optional.of(serving.compute(key, (k, existing) ->
                    existing != null && existing.isServing() ? existing.touch() : starter.apply(spec)));
        } catch (UncheckedIOException e) {
            LOG.warn("{}: cannot start a zygote ({}); instances start fresh for {} s", spec.label(), e.getMessage(),
                    RETRY_AFTER.toSeconds());
            brokenUntil.put(key, Instant.now().plus(RETRY_AFTER));
            return Optional.empty();
        }
    }

    /** The version's zygote, if one serves now (without starting one). */
    Optional<PythonZygote> find(InstanceSpec spec) {
        return Optional.ofNullable(serving.get(key(spec))).filter(PythonZygote::isServing);
    }

    /** The zygotes serving now. */
    java.util.Collection<PythonZygote> serving() {
        return java.util.List.copyOf(serving.values());
    }

    /** How many zygotes serve now. */
    int size() {
        return serving.size();
    }

    /** The version's zygote forks nothing more; it goes once its instances have. */
    void retire(InstanceSpec spec) {
        brokenUntil.remove(key(spec));
        PythonZygote zygote = serving.remove(key(spec));
        if (zygote != null) zygote.retire();
    }

    /** Retires {@code zygote} if it still serves its version (a version whose code does not load, say). */
    void retire(PythonZygote zygote) {
        if (serving.remove(key(zygote.spec()), zygote)) zygote.retire();
    }

    /** A zygote has exited: it serves no more; one that failed is not started again for a while. */
    void onGone(PythonZygote zygote) {
        String key = key(zygote.spec());
        if (zygote.failed() && serving.get(key) == zygote) brokenUntil.put(key, Instant.now().plus(RETRY_AFTER));
        serving.remove(key, zygote);
    }

    /**
     * Retires the zygotes that forked nothing for the idle timeout and have no running instances,
     * then, while more zygotes serve than the budget allows, the least recently used without instances
     * (a zygote kept over the budget because its instances ran goes once they have stopped).
     */
    void retireIdle() {
        long now = System.nanoTime();
        long idle = budget.idleTimeout().toNanos();
        for (PythonZygote zygote : serving.values()) {
            if (!zygote.inUse() && now - zygote.lastUsedNanos() > idle) {
                LOG.info("{}: zygote unused for {}; retired (the next cold start makes a new one)", zygote.spec().label(),
                        gale.config.Durations.format(budget.idleTimeout()));
                retire(zygote);
            }
        }
        while (serving.size() > budget.maxZygotes() && retireLeastRecentlyUsed("")) {
            // one at a time, until within the budget or only zygotes with instances are left
        }
    }

    /** Before a new zygote starts: at the budget, the least recently used one without instances goes. */
    private void makeRoomFor(String key) {
        if (serving.size() >= budget.maxZygotes()) retireLeastRecentlyUsed(key);
    }

    /** Retires the least recently used zygote without running instances (other than {@code spared}'s); false when there is none. */
    private boolean retireLeastRecentlyUsed(String spared) {
        var lru = serving.values().stream()
                .filter(z -> !key(z.spec()).equals(spared) && !z.inUse())
                .min(Comparator.comparingLong(PythonZygote::lastUsedNanos));
        lru.ifPresent(z -> {
            LOG.info("{}: zygote retired to stay within the budget of {} zygotes (least recently used)", z.spec().label(),
                    budget.maxZygotes());
            retire(z);
        });
        return lru.isPresent();
    }

    /** Stops every zygote now (the server stops; their instances are stopped by their pools first, their spares here). */
    @Override
    public void close() {
        closed = true;
        var stopping = serving.values().stream()
                .map(z -> java.util.concurrent.CompletableFuture.runAsync(() -> z.stopSpare(SPARE_STOP_GRACE), Thread::startVirtualThread))
                .toArray(java.util.concurrent.CompletableFuture[]::new);
        java.util.concurrent.CompletableFuture.allOf(stopping).join(); // each waits its grace at most
        serving.values().forEach(PythonZygote::stop);
        serving.clear();
    }
}
