package gale.registry;

import gale.config.FunctionConfig;
import gale.pool.InstancePool;
import gale.runtime.DeployFailure;
import gale.runtime.InstanceFailure;
import gale.store.FunctionRow;
import gale.store.TrafficStore.TrafficRow;
import gale.store.VersionRow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Brings what this node serves in line with what other nodes of a shared store changed (docs/postgresql.md): a
 * function another node deployed or rolled back serves that version here too, one deleted there stops serving here,
 * and a split or tags set there route the calls here the same way. A changed version takes over as a rollback does:
 * its first instance is up before the old version drains, so no call fails; a function new to this node answers 503
 * "starting" while its bundle is fetched and prepared. Each follow-up runs on a virtual thread under the function's
 * deploy lock, so a deploy or rollback made here finishes first.
 */
final class Follower {

    private static final Logger LOG = LoggerFactory.getLogger(Follower.class);
    /** How long a node waits before it tries again to serve a version that another node made serve and it could not. */
    private static final Duration RETRY = Duration.ofSeconds(5);
    private static final Duration RETRY_MAX = Duration.ofMinutes(5);

    private final Registry registry;
    /** Follow-ups queued or running, by what they follow; true when asked again while running (it runs once more). */
    private final Map<String, Boolean> followUps = new ConcurrentHashMap<>();
    /** A version this node could not make serve, and when it tries again. */
    private final Map<String, Retry> retries = new ConcurrentHashMap<>();

    private record Retry(Registry.Applied target, int failures, Instant after, String reason) {
    }

    Follower(Registry registry) {
        this.registry = registry;
    }

    // ---- what changed

    /** One poll of the functions table (cheap): each function whose serving version changed elsewhere is followed up. */
    void lookForChanges() {
        if (registry.isStopping()) return;
        Map<String, FunctionRow> rows = new HashMap<>();
        for (FunctionRow fn : registry.store.listFunctions()) rows.put(fn.name(), fn);
        Set<String> changed = new HashSet<>();
        rows.values().forEach(fn -> fn.activeVersion().ifPresent(v -> {
            if (!new Registry.Applied(fn.createdAt(), v).equals(registry.applied.get(fn.name()))) changed.add(fn.name());
        }));
        registry.applied.keySet().stream().filter(name -> !rows.containsKey(name)).forEach(changed::add); // deleted elsewhere
        for (String name : changed) followUp("function:" + name, () -> follow(name));
        registry.resumeDeploysOfDeadNodes();
    }

    /**
     * The traffic tables changed (their counter moved): each function serving here whose split or tags differ from the
     * store's takes the store's. A function that does not serve here yet takes them when it loads.
     */
    void lookForTrafficChanges() {
        if (registry.isStopping()) return;
        Map<String, TrafficRow> stored = registry.store.traffic().all();
        Set<String> names = new HashSet<>(stored.keySet());
        names.addAll(registry.routes.keySet());
        for (String name : names) {
            if (registry.active.containsKey(name) && !stored.getOrDefault(name, TrafficRow.NONE).equals(registry.trafficHere(name))) {
                followUp("traffic:" + name, () -> followTraffic(name));
            }
        }
    }

    /**
     * Runs {@code work} on a virtual thread unless a follow-up of {@code key} is queued or running; then that one runs
     * once more when it ends, so a change that came while it ran is never left unfollowed.
     */
    private void followUp(String key, Runnable work) {
        boolean[] start = {false};
        followUps.compute(key, (k, again) -> {
            if (again == null) {
                start[0] = true;
                return false;
            }
            return true;
        });
        if (!start[0]) return;
        try {
            registry.deployer.submit(() -> {
                try {
                    do {
                        try {
                            work.run();
                        } catch (RuntimeException e) {
                            LOG.warn("following {} as another node changed it failed: {}", key, e.toString());
                        }
                    } while (followUps.compute(key, (k, again) -> again ? false : null) != null);
                } catch (Error e) {
                    followUps.remove(key); // the next change follows it up again
                    throw e;
                }
            });
        } catch (RejectedExecutionException e) {
            followUps.remove(key); // stopping
        }
    }

    // ---- following up

    /** Brings the function in line with the store, under its deploy lock. */
    private void follow(String name) {
        ReentrantLock lock = registry.lockOf(name);
        lock.lock();
        try {
            if (registry.isStopping()) return;
            Optional<FunctionRow> fn = registry.store.findFunction(name);
            Registry.Applied here = registry.applied.get(name);
            if (fn.isEmpty() || (fn.get().activeVersion().isEmpty() && here != null && !here.created().equals(fn.get().createdAt()))) {
                unload(name);
                return;
            }
            if (fn.get().activeVersion().isEmpty()) return;
            Registry.Applied target = new Registry.Applied(fn.get().createdAt(), fn.get().activeVersion().getAsInt());
            if (target.equals(here)) return;
            Retry retry = retries.get(name);
            if (retry != null && retry.target().equals(target) && Instant.now().isBefore(retry.after())) return;
            if (here != null && !here.created().equals(target.created())) unload(name); // deleted and made again: not the same function
            load(name, target);
        } finally {
            lock.unlock();
        }
    }

    /** The store's split and tags route the function's calls here, under its deploy lock. */
    private void followTraffic(String name) {
        ReentrantLock lock = registry.lockOf(name);
        lock.lock();
        try {
            if (registry.isStopping()) return;
            ActiveFunction latest = registry.active.get(name);
            if (latest == null) return; // load() takes the store's traffic
            registry.serveStoredRoutes(name, latest.version());
            LOG.info("{}: traffic as another node set it: {}", name, registry.trafficHere(name));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Makes the store's version serve here: fetched, unpacked and prepared; a switch first starts an instance of it.
     * Then the store's split and tags route its calls (a rollback elsewhere unpinned the split).
     */
    private void load(String name, Registry.Applied target) {
        int v = target.version();
        ActiveFunction current = registry.active.get(name);
        if (current == null) registry.restoring.add(name); // 503 "starting" meanwhile, not 404
        try {
            VersionRow row = registry.store.findVersion(name, v).orElseThrow(() -> new IllegalStateException("version " + v + " is gone"));
            FunctionConfig config = Registry.configOf(row);
            registry.ensureUnpacked(row, registry.bundleDir(name, v));
            InstancePool pool = registry.preparedPool(name, v, config);
            if (current != null) {
                Optional<InstanceFailure> failure = pool.startFirstInstance(Registry.LOAD_TIMEOUT);
                if (failure.isPresent()) {
                    registry.discard(pool);
                    throw new DeployFailure("its first instance did not start: " + failure.get().message());
                }
            }
            registry.serve(name, v, config, pool, false);
            registry.serveStoredRoutes(name, v);
            retries.remove(name);
            LOG.info("{} v{} serves here, as another node made it serve", name, v);
        } catch (IOException | DeployFailure | RuntimeException e) {
            Retry before = retries.get(name);
            int failures = before != null && before.target().equals(target) ? before.failures() + 1 : 1;
            // 5 s, 10 s, 20 s, ... up to 5 minutes: a version that cannot serve here does not fill the log
            Duration wait = RETRY.multipliedBy(1L << Math.min(failures - 1, 6));
            if (wait.compareTo(RETRY_MAX) > 0) wait = RETRY_MAX;
            retries.put(name, new Retry(target, failures, Instant.now().plus(wait), e.getMessage()));
            LOG.error("{} v{} serves at another node but cannot serve here (tried again in {} s): {}", name, v,
                    wait.toSeconds(), e.getMessage());
        } finally {
            registry.restoring.remove(name);
        }
    }

    /** Another node deleted the function: it stops serving here at once (every version), as a delete here does, and its files go. */
    private void unload(String name) {
        registry.applied.remove(name);
        retries.remove(name);
        registry.stopServing(name);
        Registry.deleteTree(registry.versionsRoot.resolve(name)); // before a function made again under the name unpacks its versions here
        Set<String> bundles = registry.bundlesUsed.remove(name);
        for (String digest : bundles == null ? Set.<String>of() : bundles) {
            if (registry.store.listFunctions().stream().noneMatch(f -> registry.usesBlob(f.name(), digest))) {
                try {
                    registry.blobs.evict(digest);
                } catch (IOException e) {
                    LOG.warn("could not delete the cached bundle {}: {}", digest, e.toString());
                }
            }
        }
        LOG.info("{} was deleted by another node; it no longer serves here", name);
    }

    /** Why the version serving at another node cannot serve on this one, if it cannot (see {@link Registry#cannotServeHere}). */
    Optional<String> cannotServeHere(String name) {
        Retry retry = retries.get(name);
        return retry == null || registry.active.containsKey(name) ? Optional.empty()
                : Optional.of("version " + retry.target().version() + " serves at another node but cannot serve on this one: " + retry.reason());
    }
}
