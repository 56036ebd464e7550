package gale.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.blob.BlobStore;
import gale.config.KeepWarm;
import gale.config.ConfigResolver;
import gale.config.FunctionConfig;
import gale.config.InvalidConfigException;
import gale.logs.LogSink;
import gale.pool.InstancePool;
import gale.runtime.DeployFailure;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceSpec;
import gale.runtime.Runtime;
import gale.store.FunctionRow;
import gale.store.LogEntry;
import gale.store.Store;
import gale.store.TrafficStore.TrafficRow;
import gale.store.VersionRow;
import gale.store.VersionState;
import gale.usage.UsageMeter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Functions and their versions: deploys, activation, rollback, deletion, and the map
 * from function name to the pool that serves it. The gateway reads that map on every
 * call ({@link #active}); it is a concurrent map replaced one entry at a time, so
 * serving never waits for a deploy.
 *
 * <p>A deploy stores the bundle, creates an immutable version (DEPLOYING), then in the
 * background prepares requirements and loads user code in a first instance. Only when
 * that instance is READY does the version become ACTIVE and take over; otherwise it is
 * FAILED with the reason and the previous version keeps serving.
 *
 * <p>Traffic (docs/traffic.md): a function may pin a split of its calls between versions and give versions
 * tags. The versions they name serve beside the ACTIVE one, each from its own pool ({@link Routes}); a deploy
 * makes the new version ACTIVE, and it takes the calls only while the split is not pinned.
 */
public final class Registry implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Registry.class);
    /** Loading user code (imports, model files) may take long, but not forever. */
    static final Duration LOAD_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration MAINTENANCE_PERIOD = Duration.ofMillis(200);
    /** Functions restored at once after a restart: preparing reads files and may run a requirements check. */
    private static final int RESTORE_PARALLELISM = 4;
    private static final ObjectMapper JSON = new ObjectMapper();

    final Store store;
    final BlobStore blobs;
    final Path versionsRoot;
    private final BundleLimits bundleLimits;
    private final Map<String, Runtime> runtimes;
    private final LogSink logs;
    private final Duration drainTimeout;
    private final UsageMeter usage;
    private final String node;
    final Map<String, ActiveFunction> active = new ConcurrentHashMap<>();
    /** Functions with a pinned split or tags: how their calls reach versions beside the ACTIVE one. */
    final Map<String, Routes> routes = new ConcurrentHashMap<>();
    private final Map<String, ReentrantLock> deployLocks = new ConcurrentHashMap<>();
    final ExecutorService deployer = Executors.newVirtualThreadPerTaskExecutor();
    /** Functions known to the store whose active version is not serving again yet after a restart. */
    final Set<String> restoring = ConcurrentHashMap.newKeySet();
    /** Per function, the store's row this node last made serve: another node's deploy, rollback or delete changes it. */
    final Map<String, Applied> applied = new ConcurrentHashMap<>();
    /** Bundles this node fetched or unpacked per function: what it drops from its cache when another node deletes one. */
    final Map<String, Set<String>> bundlesUsed = new ConcurrentHashMap<>();
    private ScheduledExecutorService maintenance;
    /** What follows the other nodes of a shared store; null until {@link #followOtherNodes}. */
    private volatile Follower follower;
    private volatile boolean stopping;

    /** Which function (its row's creation: a name deleted and made again is another function) at which version. */
    record Applied(java.time.Instant created, int version) {
    }

    /**
     * @param usage measures what each version's instances use (docs/cost.md)
     * @param node  this node's id: the deploys it runs carry it, so other nodes of a shared store leave them to it
     */
    public Registry(Store store, BlobStore blobs, Path versionsRoot, BundleLimits bundleLimits, List<Runtime> runtimes,
                    LogSink logs, Duration drainTimeout, UsageMeter usage, String node) {
        this.node = node;
        this.store = store;
        this.blobs = blobs;
        this.versionsRoot = versionsRoot;
        this.bundleLimits = bundleLimits;
        this.runtimes = runtimes.stream().collect(java.util.stream.Collectors.toUnmodifiableMap(Runtime::name, r -> r));
        this.logs = logs;
        this.drainTimeout = drainTimeout;
        this.usage = usage;
    }

    /** Starts the upkeep of pools and runtimes (idle instances, memory limits, idle zygotes), a few times a second. */
    public void start() {
        maintenance = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("gale-pool-maintenance").daemon().factory());
        maintenance.scheduleWithFixedDelay(this::maintainPools, MAINTENANCE_PERIOD.toMillis(),
                MAINTENANCE_PERIOD.toMillis(), TimeUnit.MILLISECONDS);
    }

    // ---- serving

    /** The ACTIVE version of {@code name}: what map jobs run on, and what its calls reach unless a split is pinned. */
    public Optional<ActiveFunction> active(String name) {
        return Optional.ofNullable(active.get(name));
    }

    /**
     * The version that serves one call of {@code name} (docs/traffic.md): the one {@code target} names ({@code v4},
     * or a tag), else the one the pinned split picks for {@code bucket}, else the ACTIVE one. The gateway's only
     * lookup. Empty when no such version serves.
     *
     * @param target what followed {@code @} in the call's URL; "" for none
     * @param bucket from 0 to 99: {@link TrafficSplit#randomBucket}, or a sticky key's {@link TrafficSplit#bucketOf}
     */
    public Optional<ActiveFunction> route(String name, String target, int bucket) {
        ActiveFunction latest = active.get(name);
        Routes r = routes.getOrDefault(name, Routes.NONE);
        int version;
        if (!target.isEmpty()) {
            Integer named = TrafficTag.version(target).orElse(r.tags().get(target));
            if (named == null) return Optional.empty();
            version = named;
        } else if (r.pinned().isPresent()) {
            version = r.pinned().get().pick(bucket);
        } else {
            return Optional.ofNullable(latest);
        }
        if (latest != null && latest.version() == version) return Optional.of(latest);
        ActiveFunction other = r.others().get(version);
        if (other != null) return Optional.of(other);
        return target.isEmpty() ? Optional.ofNullable(latest) : Optional.empty(); // a version that could not be restored
    }

    /** True once {@link #drainAll} began: the server is stopping and takes no new calls. */
    public boolean isStopping() {
        return stopping;
    }

    /**
     * The server is stopping: no pool takes new calls, calls in flight may finish until
     * {@code grace} has passed, then every instance is killed. Returns when all are gone.
     */
    public void drainAll(Duration grace) {
        stopping = true;
        maintenance.shutdownNow();
        List<InstancePool> pools = servingFunctions().stream().map(ActiveFunction::pool).toList();
        try {
            CompletableFuture.allOf(pools.stream().map(InstancePool::drain).toArray(CompletableFuture[]::new))
                    .get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            LOG.warn("calls still running after the shutdown grace of {}; their instances are killed", gale.config.Durations.format(grace));
        } catch (java.util.concurrent.ExecutionException e) {
            LOG.warn("draining the pools failed: {}", e.getCause().toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pools.forEach(InstancePool::close);
    }

    /** How many functions do not serve again yet after a restart. */
    public int restoringCount() {
        return restoring.size();
    }

    /** True while {@code name} has an active version that does not serve again yet after a restart. */
    public boolean isRestoring(String name) {
        return restoring.contains(name);
    }

    public List<ActiveFunction> activeFunctions() {
        return List.copyOf(active.values());
    }

    /** Every version with a pool: the ACTIVE ones and those a split or a tag names beside them. */
    public List<ActiveFunction> servingFunctions() {
        List<ActiveFunction> out = new ArrayList<>(active.values());
        routes.values().forEach(r -> out.addAll(r.others().values()));
        return out;
    }

    // ---- reads

    public List<FunctionRow> functions() {
        return store.listFunctions();
    }

    public Optional<FunctionRow> function(String name) {
        return store.findFunction(name);
    }

    public List<VersionRow> versions(String name) {
        return store.listVersions(name);
    }

    public Optional<VersionRow> version(String name, int version) {
        return store.findVersion(name, version);
    }

    public BundleLimits bundleLimits() {
        return bundleLimits;
    }

    /** The data dir the functions' folders are in (what a full disk message names). */
    public Path dataDir() {
        return versionsRoot.toAbsolutePath().getParent();
    }

    public static FunctionConfig configOf(VersionRow row) {
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> wire = JSON.readValue(row.configJson(), Map.class);
            return ConfigResolver.fromMap(row.function(), wire);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored config of " + row.function() + " v" + row.version() + " is corrupt", e);
        }
    }

    // ---- deploy

    /**
     * Stores a bundle as a new version and starts deploying it in the background.
     *
     * @param flags settings given at deploy (they win over the bundle's gale.toml)
     * @return the new version, DEPLOYING
     * @throws DeployRejected when the name, bundle or settings are unusable ({@link BundleTooLarge} past the
     *                         upload limit), or the data dir's disk is full ({@link StorageFull}); nothing is
     *                         stored then: no blob, no version, no folder
     */
    public VersionRow deploy(String name, InputStream bundle, Map<String, ?> flags) throws DeployRejected {
        return deployProject(name, bundle, flags).row();
    }

    /** A stored version and what its bundle's project file asks of the function beyond the version (a Zappa keep_warm). */
    public record Deployed(VersionRow row, Optional<KeepWarm> keepWarm) {
    }

    /** As {@link #deploy}, answering also the bundle's keep_warm, which the caller turns into a schedule. */
    public Deployed deployProject(String name, InputStream bundle, Map<String, ?> flags) throws DeployRejected {
        FunctionName.check(name);
        // Beside the function folders, not in one: a refused deploy of a new name leaves no folder behind.
        Path staging = versionsRoot.resolve(".staging-" + UUID.randomUUID());
        FunctionConfig config;
        List<String> notes;
        Optional<KeepWarm> keepWarm;
        BlobStore.Blob blob;
        VersionRow created = null;
        try (BlobStore.Incoming upload = blobs.receive(bundle, bundleLimits.upload().bytes())) {
            BundleArchive.unpack(upload.path(), staging, bundleLimits);
            ConfigResolver.Resolved resolved = ConfigResolver.resolveWithNotes(name, staging, flags);
            config = resolved.config();
            notes = resolved.notes();
            keepWarm = resolved.keepWarm();
            blob = upload.blob();
            // The version before the blob is kept: when the store cannot take it (its disk is full), the upload is deleted.
            created = store.createVersion(name, toJson(config), blob.digest(), blob.bytes(), Instant.now(), node);
            upload.keep();
        } catch (BlobStore.TooLargeException e) {
            throw new BundleTooLarge(bundleLimits);
        } catch (BundleArchive.InvalidBundleException | InvalidConfigException e) {
            deleteTree(staging);
            throw new DeployRejected(e.getMessage());
        } catch (IOException | RuntimeException e) {
            deleteTree(staging);
            if (created != null) recordFailed(name, created.version(), "could not store the bundle: " + e.getMessage());
            if (StorageFull.isDiskFull(e)) throw new StorageFull(dataDir(), "storing the deploy of '" + name + "'", e);
            if (e instanceof RuntimeException re) throw re;
            throw new UncheckedIOException("could not store the bundle of " + name + ": " + e.getMessage(), (IOException) e);
        }
        VersionRow row = created;
        bundlesUsed.computeIfAbsent(name, n -> ConcurrentHashMap.newKeySet()).add(row.bundleDigest());
        try {
            Path bundleDir = bundleDir(name, row.version());
            deleteTree(bundleDir.getParent());
            Files.createDirectories(bundleDir.getParent());
            Files.move(staging, bundleDir);
        } catch (IOException e) {
            store.failVersion(name, row.version(), "could not unpack the bundle: " + e.getMessage());
            deleteTree(staging);
            return new Deployed(store.findVersion(name, row.version()).orElseThrow(), Optional.empty());
        }
        platformLog(name, row.version(), "deploying version " + row.version() + " (" + blob.bytes() + " bytes, "
                + blob.digest().substring(0, 19) + ")");
        notes.forEach(note -> platformLog(name, row.version(), note));
        deployer.submit(() -> finishDeploy(name, row.version(), config));
        return new Deployed(row, keepWarm);
    }

    private void finishDeploy(String name, int version, FunctionConfig config) {
        ReentrantLock lock = lockOf(name);
        lock.lock();
        try {
            long started = System.nanoTime();
            Path bundleDir = bundleDir(name, version);
            Runtime runtime = runtimeFor(config);
            runtime.checkIsolation(config);
            Optional<Path> environment = runtime.prepare(bundleDir, bundleDir.getParent());
            var pool = new InstancePool(new InstanceSpec(name, version, config, bundleDir, environment), runtime::start, usage);
            Optional<InstanceFailure> failure = pool.startFirstInstance(LOAD_TIMEOUT.compareTo(config.timeout()) > 0 ? LOAD_TIMEOUT : config.timeout());
            if (failure.isPresent()) {
                discard(pool);
                throw new DeployFailure(failure.get().message());
            }
            if (store.findFunction(name).isEmpty()) { // deleted while deploying
                discard(pool);
                return;
            }
            try {
                activate(name, version, config, pool, false);
            } catch (RuntimeException e) {
                discard(pool); // the store did not take the activation: the version's instance must not linger
                throw e;
            }
            if (!config.prewarm()) runtime.retire(pool.spec()); // its zygote is made again by the first cold start
            platformLog(name, version, "version " + version + " is ACTIVE (ready in "
                    + Duration.ofNanos(System.nanoTime() - started).toMillis() + " ms)"
                    + routes.getOrDefault(name, Routes.NONE).pinned().map(split -> "; the traffic split is pinned to " + split
                            + ", so it takes no calls until you give it a share (gale traffic " + name + " --to ...) or all of "
                            + "them (gale traffic " + name + " --to-latest); /fn/" + name + "@v" + version + " reaches it now").orElse(""));
        } catch (DeployFailure | RuntimeException e) {
            if (stopping) {
                // Not the version's fault: it stays DEPLOYING, and resumeDeploys() finishes it at the next start.
                platformLog(name, version, "the server stopped during the deploy of version " + version
                        + "; it resumes when the server starts again");
                return;
            }
            String reason = e instanceof DeployFailure ? e.getMessage()
                    : StorageFull.isDiskFull(e) ? "no space left on the disk of Gale's data dir " + dataDir() + " (" + e.getMessage()
                            + "); free space there, then deploy again"
                    : "internal error while deploying: " + e;
            if (!(e instanceof DeployFailure)) LOG.error("deploy of {} v{} failed unexpectedly", name, version, e);
            recordFailed(name, version, reason);
        } finally {
            lock.unlock();
        }
    }

    /** FAILED with the reason; should the store not take even that, the version stays DEPLOYING and resumes at the next start. */
    private void recordFailed(String name, int version, String reason) {
        try {
            store.failVersion(name, version, reason);
            platformLog(name, version, "version " + version + " FAILED: " + reason);
        } catch (RuntimeException e) {
            LOG.error("{} v{} failed ({}), and the store cannot record it ({}); it stays DEPLOYING and is deployed again "
                    + "at the next start", name, version, reason, e.toString());
        }
    }

    /**
     * Makes {@code version} ACTIVE with {@code pool}. A deploy leaves a pinned split as it is; a rollback unpins it, so
     * all calls go to the version at once. A version the split or a tag still names keeps serving; the others retire.
     */
    private void activate(String name, int version, FunctionConfig config, InstancePool pool, boolean rollback) {
        // Calls find the version here before the store says ACTIVE: a client that sees ACTIVE and calls at once is
        // served, never told the function has no version (a call in between is served by the version a little early).
        Installed before = install(name, version, config, pool, rollback);
        try {
            if (rollback) {
                store.rollBackTo(name, version, Instant.now());
            } else {
                store.activateVersion(name, version, Instant.now());
            }
        } catch (RuntimeException e) {
            undo(name, before);
            throw e;
        }
        served(name, version, before);
    }

    /**
     * Makes the pool serve the function, as the store says it should (after a change here or at another node), and
     * remembers which row of the store that follows; a rollback unpins the split.
     */
    void serve(String name, int version, FunctionConfig config, InstancePool pool, boolean rollback) {
        served(name, version, install(name, version, config, pool, rollback));
    }

    /** What served a function before {@link #install}: put back if the store does not take the change. */
    private record Installed(ActiveFunction previous, Routes old) {
    }

    /** Points calls at the pool (and the split's or tags' versions beside it); the pools that no longer serve stay up. */
    private Installed install(String name, int version, FunctionConfig config, InstancePool pool, boolean rollback) {
        Routes old = routes.getOrDefault(name, Routes.NONE);
        Optional<TrafficSplit> pinned = rollback ? Optional.empty() : old.pinned();
        Set<Integer> named = new Routes(pinned, old.tags(), Map.of()).named();
        ActiveFunction previous = active.get(name);
        Map<Integer, ActiveFunction> others = new HashMap<>();
        for (int v : named) {
            if (v == version) continue;
            ActiveFunction kept = previous != null && previous.version() == v ? previous : old.others().get(v);
            if (kept != null) others.put(v, kept);
        }
        Routes next = new Routes(pinned, old.tags(), others);
        // The routes first: a call the split sends to the previous version finds its pool there once it is no longer ACTIVE.
        if (next.isEmpty()) routes.remove(name); else routes.put(name, next);
        active.put(name, new ActiveFunction(name, version, config, pool));
        return new Installed(previous, old);
    }

    /** The store took the change: remembers the row it follows, and retires the pools that serve no longer. */
    private void served(String name, int version, Installed before) {
        store.findFunction(name).ifPresent(fn -> applied.put(name, new Applied(fn.createdAt(), version)));
        retireUnused(name, before.previous(), before.old());
    }

    /** The store refused the change: calls go where they went before. */
    private void undo(String name, Installed before) {
        if (before.previous() != null) active.put(name, before.previous()); else active.remove(name);
        if (before.old().isEmpty()) routes.remove(name); else routes.put(name, before.old());
    }

    /** Retires the pools of {@code previous} and {@code old}'s versions that serve no longer. */
    private void retireUnused(String name, ActiveFunction previous, Routes old) {
        Set<InstancePool> serving = Collections.newSetFromMap(new IdentityHashMap<>());
        ActiveFunction now = active.get(name);
        if (now != null) serving.add(now.pool());
        routes.getOrDefault(name, Routes.NONE).others().values().forEach(f -> serving.add(f.pool()));
        if (previous != null && serving.add(previous.pool())) retire(previous.pool());
        old.others().values().forEach(f -> {
            if (serving.add(f.pool())) retire(f.pool());
        });
    }

    /** Lets the old pool finish its in-flight calls, then stops it; kills what is left after the drain timeout. */
    private void retire(InstancePool pool) {
        pool.drain().orTimeout(drainTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((ok, timeout) -> discard(pool));
    }

    /** Stops a pool now and lets its runtime free what it keeps for the version (a zygote). */
    void discard(InstancePool pool) {
        pool.close();
        Runtime runtime = runtimes.get(pool.spec().config().runtime());
        if (runtime != null) runtime.retire(pool.spec());
    }

    // ---- rollback and delete

    /**
     * Makes an earlier version serve again: {@code version}, or else the one that was
     * ACTIVE before the current one. It takes all calls at once: a pinned split is unpinned (its tags stay).
     */
    public ActiveFunction rollback(String name, OptionalInt version) throws DeployRejected, NotFoundException {
        FunctionRow fn = store.findFunction(name).orElseThrow(() -> new NotFoundException("function '" + name + "' not found"));
        ReentrantLock lock = lockOf(name);
        lock.lock();
        try {
            VersionRow target = version.isPresent()
                    ? store.findVersion(name, version.getAsInt()).orElseThrow(() -> new NotFoundException(
                            "function '" + name + "' has no version " + version.getAsInt()))
                    : previousActive(name, fn).orElseThrow(() -> new DeployRejected(
                            "function '" + name + "' has no earlier version to roll back to; name one: gale rollback " + name + " VERSION"));
            if (target.state() == VersionState.FAILED || target.state() == VersionState.DEPLOYING) {
                throw new DeployRejected("version " + target.version() + " of '" + name + "' is " + target.state()
                        + " and cannot serve; pick an ACTIVE or INACTIVE version (gale versions " + name + ")");
            }
            ActiveFunction current = active.get(name);
            Routes r = routes.getOrDefault(name, Routes.NONE);
            if (fn.activeVersion().orElse(-1) == target.version() && current != null) {
                if (r.pinned().isPresent()) { // serving already, beside others: all calls go to it now
                    activate(name, target.version(), current.config(), current.pool(), true);
                    platformLog(name, target.version(), "rolled back to version " + target.version() + ": it takes all calls");
                }
                return active.get(name);
            }
            ActiveFunction serving = r.others().get(target.version()); // a version with a share or a tag: its pool is warm
            FunctionConfig config = serving != null ? serving.config() : configOf(target);
            InstancePool pool;
            if (serving != null) {
                pool = serving.pool();
            } else {
                try {
                    ensureUnpacked(target, bundleDir(name, target.version())); // deployed at another node: its bundle is fetched
                    pool = preparedPool(name, target.version(), config);
                } catch (IOException e) {
                    throw new DeployRejected("version " + target.version() + " of '" + name + "' cannot be unpacked on this node: "
                            + e.getMessage());
                } catch (DeployFailure e) {
                    throw new DeployRejected("version " + target.version() + " of '" + name + "' cannot be prepared: " + e.getMessage());
                }
                Optional<InstanceFailure> failure = pool.startFirstInstance(LOAD_TIMEOUT);
                if (failure.isPresent()) {
                    discard(pool);
                    throw new DeployRejected("version " + target.version() + " of '" + name + "' no longer loads: " + failure.get().message());
                }
            }
            activate(name, target.version(), config, pool, true);
            platformLog(name, target.version(), "rolled back to version " + target.version());
            return active.get(name);
        } finally {
            lock.unlock();
        }
    }

    // ---- traffic

    /**
     * A change to a function's traffic (docs/traffic.md); a part left empty stays as it is.
     *
     * @param pin      a split to pin, which holds across deploys
     * @param toLatest unpin: all calls go to the ACTIVE version, and to each new one a deploy makes ACTIVE
     * @param tags     the function's tags, tag to version, replacing the ones it had
     */
    public record TrafficChange(Optional<TrafficSplit> pin, boolean toLatest, Optional<Map<String, Integer>> tags) {
        public TrafficChange {
            if (toLatest && pin.isPresent()) throw new IllegalArgumentException("a split to pin, or to latest: not both");
        }
    }

    /**
     * Changes how the function's calls are shared between its versions, and its tags. A version that takes a share
     * or a tag and has no pool yet gets one, whose first instance must load (as for a rollback); the versions no
     * longer named stop serving once their calls in flight end. Nothing changes when a version cannot serve.
     *
     * @return the function's split (empty: not pinned) and tags now
     * @throws InvalidTrafficException a version that does not exist, is FAILED or still deploying, no longer loads,
     *                                 or a tag that is not a DNS label
     */
    public TrafficRow setTraffic(String name, TrafficChange change) throws NotFoundException, InvalidTrafficException {
        if (store.findFunction(name).isEmpty()) throw new NotFoundException("function '" + name + "' not found");
        ReentrantLock lock = lockOf(name);
        lock.lock();
        try {
            TrafficRow current = store.traffic().find(name);
            Map<Integer, Integer> split = change.toLatest() ? Map.of()
                    : change.pin().map(TrafficSplit::percents).orElse(current.split());
            Map<String, Integer> tags = change.tags().orElse(current.tags());
            for (String tag : tags.keySet()) TrafficTag.check(tag);
            ActiveFunction latest = active.get(name);
            if (latest == null) {
                throw InvalidTrafficException.conflict(restoring.contains(name)
                        ? "function '" + name + "' is starting after a restart of Gale; retry in a moment"
                        : "function '" + name + "' has no ACTIVE version yet; wait for its deploy (gale versions " + name + ")");
            }
            Set<Integer> named = new TreeSet<>(split.keySet());
            named.addAll(tags.values());
            Map<Integer, VersionRow> rows = new HashMap<>();
            for (int v : named) rows.put(v, servable(name, v));
            Optional<TrafficSplit> pinned = split.isEmpty() ? Optional.empty() : Optional.of(TrafficSplit.of(split));
            Routes old = routes.getOrDefault(name, Routes.NONE);
            Map<Integer, ActiveFunction> others = new HashMap<>();
            List<InstancePool> started = new ArrayList<>();
            try {
                for (int v : named) {
                    if (v == latest.version()) continue;
                    ActiveFunction kept = old.others().get(v);
                    others.put(v, kept != null ? kept : startVersion(rows.get(v), started));
                }
                store.traffic().put(name, new TrafficRow(split, tags));
            } catch (InvalidTrafficException | RuntimeException e) {
                started.forEach(this::discard);
                throw e;
            }
            Routes next = new Routes(pinned, tags, others);
            if (next.isEmpty()) routes.remove(name); else routes.put(name, next);
            retireUnused(name, null, old);
            platformLog(name, latest.version(), "traffic: " + pinned.map(p -> "pinned to " + p)
                    .orElse("all calls to the ACTIVE version v" + latest.version()) + (tags.isEmpty() ? "" : "; tags "
                    + tags.entrySet().stream().map(e -> e.getKey() + "=v" + e.getValue()).collect(java.util.stream.Collectors.joining(","))));
            return new TrafficRow(split, tags);
        } finally {
            lock.unlock();
        }
    }

    /** A version that may take calls: it exists and is ACTIVE or INACTIVE. */
    private VersionRow servable(String name, int version) throws InvalidTrafficException {
        VersionRow row = store.findVersion(name, version).orElseThrow(() -> new InvalidTrafficException(
                "function '" + name + "' has no version " + version + "; gale versions " + name + " lists them"));
        if (row.state() == VersionState.FAILED || row.state() == VersionState.DEPLOYING) {
            throw InvalidTrafficException.conflict("version " + version + " of '" + name + "' is " + row.state()
                    + row.reason().map(r -> " (" + r + ")").orElse("") + " and cannot take calls; pick an ACTIVE or INACTIVE "
                    + "version (gale versions " + name + ")");
        }
        return row;
    }

    /** A pool for a version that is to take calls beside the ACTIVE one, once its first instance loaded. */
    private ActiveFunction startVersion(VersionRow row, List<InstancePool> started) throws InvalidTrafficException {
        String name = row.function();
        FunctionConfig config = configOf(row);
        InstancePool pool;
        try {
            ensureUnpacked(row, bundleDir(name, row.version()));
            pool = preparedPool(name, row.version(), config);
        } catch (IOException | DeployFailure e) {
            throw InvalidTrafficException.conflict("version " + row.version() + " of '" + name + "' cannot be prepared: " + e.getMessage());
        }
        started.add(pool);
        Optional<InstanceFailure> failure = pool.startFirstInstance(LOAD_TIMEOUT);
        if (failure.isPresent()) {
            throw InvalidTrafficException.conflict("version " + row.version() + " of '" + name + "' no longer loads: "
                    + failure.get().message() + "; nothing changed");
        }
        return new ActiveFunction(name, row.version(), config, pool);
    }

    private Optional<VersionRow> previousActive(String name, FunctionRow fn) {
        int current = fn.activeVersion().orElse(-1);
        return store.listVersions(name).stream()
                .filter(v -> v.version() != current && v.state() == VersionState.INACTIVE && v.activatedAt().isPresent())
                .max(Comparator.comparing(v -> v.activatedAt().get()));
    }

    /** Stops the function's instances and deletes it with its versions, logs and bundles. */
    public boolean delete(String name) {
        if (store.findFunction(name).isEmpty()) return false;
        ReentrantLock lock = lockOf(name);
        lock.lock();
        try {
            stopServing(name);
            applied.remove(name);
            bundlesUsed.remove(name);
            List<VersionRow> versions = store.listVersions(name);
            store.deleteFunction(name);
            deleteTree(versionsRoot.resolve(name));
            for (VersionRow v : versions) {
                if (store.listFunctions().stream().noneMatch(f -> usesBlob(f.name(), v.bundleDigest()))) {
                    try {
                        blobs.delete(v.bundleDigest());
                    } catch (IOException e) {
                        LOG.warn("could not delete bundle {}: {}", v.bundleDigest(), e.toString());
                    }
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Stops every pool of the function now: the ACTIVE version's and those its split or tags serve. */
    void stopServing(String name) {
        ActiveFunction current = active.remove(name);
        if (current != null) discard(current.pool());
        Routes others = routes.remove(name);
        if (others != null) others.others().values().forEach(f -> discard(f.pool()));
    }

    boolean usesBlob(String function, String digest) {
        return store.listVersions(function).stream().anyMatch(v -> v.bundleDigest().equals(digest));
    }

    // ---- other nodes of a shared store

    /**
     * Follows what other nodes of a shared store do ({@link Follower}): at each round of {@code follower} the functions
     * table is read, and a function whose serving version another node changed (deploy, rollback) serves that version
     * here too, one deleted there stops serving here; when the traffic tables changed, the splits and tags set there
     * route calls here the same way. Call once, after {@link #restore}, before the follower starts.
     */
    public void followOtherNodes(gale.nodes.StoreFollower follower) {
        Follower f = new Follower(this);
        this.follower = f;
        follower.every(f::lookForChanges).on(gale.store.StoreChanges.TRAFFIC, f::lookForTrafficChanges);
    }

    /**
     * Why the function's version that serves at another node cannot serve on this one (its runtime is missing here,
     * its bundle cannot be fetched, its first instance failed), if it cannot.
     */
    public Optional<String> cannotServeHere(String name) {
        Follower f = follower;
        return f == null ? Optional.empty() : f.cannotServeHere(name);
    }

    // ---- start and stop

    /**
     * After a restart: every function's active version serves again, and interrupted deploys
     * resume. Returns at once; the server answers meanwhile, with 503 for a function not back
     * yet ({@link #isRestoring}). A few functions are restored at a time. Then, once every
     * function serves, the versions most recently used (or with min-instances) get their runtime
     * ready ahead of the first call (a Python zygote), most recent first, as many as the runtime
     * keeps: a function whose zygote is not back yet is served all the same, by a cold start.
     *
     * @return completes when every function is back (the prewarming may still go on)
     */
    public CompletableFuture<Void> restore() {
        List<FunctionRow> functions = store.listFunctions().stream().filter(f -> f.activeVersion().isPresent()).toList();
        functions.forEach(f -> restoring.add(f.name()));
        var restored = new CompletableFuture<Void>();
        Thread.ofVirtual().name("gale-restore").start(() -> {
            long started = System.nanoTime();
            try {
                restoreAll(functions);
                resumeDeploys();
                if (!functions.isEmpty()) {
                    LOG.info("restored {} functions in {} ms", functions.size(), Duration.ofNanos(System.nanoTime() - started).toMillis());
                }
            } catch (RuntimeException e) {
                LOG.error("restoring the functions after a restart failed", e);
            } finally {
                restoring.clear();
                restored.complete(null);
            }
            try {
                prewarmRecentlyUsed();
            } catch (RuntimeException e) {
                LOG.warn("getting the recently used functions ready after the restart failed: {}", e.toString());
            }
        });
        return restored;
    }

    private void restoreAll(List<FunctionRow> functions) {
        var slots = new java.util.concurrent.Semaphore(RESTORE_PARALLELISM);
        try (var workers = Executors.newVirtualThreadPerTaskExecutor()) {
            for (FunctionRow fn : functions) {
                slots.acquireUninterruptibly();
                workers.submit(() -> {
                    try {
                        restore(fn.name());
                    } finally {
                        restoring.remove(fn.name());
                        slots.release();
                    }
                });
            }
        }
    }

    /** Serves the function's active version again, unless a deploy or rollback made another one serve meanwhile. */
    private void restore(String name) {
        ReentrantLock lock = lockOf(name);
        lock.lock();
        try {
            if (active.containsKey(name)) return;
            Optional<FunctionRow> fn = store.findFunction(name);
            if (fn.isEmpty() || fn.get().activeVersion().isEmpty()) return;
            int v = fn.get().activeVersion().getAsInt();
            VersionRow row = store.findVersion(name, v).orElseThrow();
            FunctionConfig config = configOf(row);
            try {
                ensureUnpacked(row, bundleDir(name, v));
                ActiveFunction latest = new ActiveFunction(name, v, config, preparedPool(name, v, config));
                serveStoredRoutes(name, v);
                active.put(name, latest);
                applied.put(name, new Applied(fn.get().createdAt(), v));
            } catch (IOException | DeployFailure e) {
                LOG.error("cannot serve {} v{} after the restart: {}", name, v, e.getMessage());
                platformLog(name, v, "version " + v + " cannot serve after the restart: " + e.getMessage());
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The function's split and tags as the store has them (after a restart, or set by another node), with a pool for
     * each version they name beside the ACTIVE one: the pool it had here, else a new one (its first call starts an
     * instance). The pools of versions no longer named retire. Under the function's deploy lock.
     */
    void serveStoredRoutes(String name, int activeVersion) {
        TrafficRow traffic = store.traffic().find(name);
        Routes old = routes.getOrDefault(name, Routes.NONE);
        Optional<TrafficSplit> pinned = Optional.empty();
        try {
            if (!traffic.split().isEmpty()) pinned = Optional.of(TrafficSplit.of(traffic.split()));
        } catch (InvalidTrafficException e) {
            LOG.error("the stored traffic split of {} is not valid ({}); all its calls go to v{}", name, e.getMessage(), activeVersion);
        }
        Map<Integer, ActiveFunction> others = new HashMap<>();
        for (int v : new Routes(pinned, traffic.tags(), Map.of()).named()) {
            if (v == activeVersion) continue;
            ActiveFunction kept = old.others().get(v);
            if (kept != null) {
                others.put(v, kept);
                continue;
            }
            try {
                VersionRow row = store.findVersion(name, v).orElseThrow(() -> new IOException("version " + v + " is gone"));
                FunctionConfig config = configOf(row);
                ensureUnpacked(row, bundleDir(name, v));
                others.put(v, new ActiveFunction(name, v, config, preparedPool(name, v, config)));
            } catch (IOException | DeployFailure e) {
                LOG.error("cannot serve {} v{} here: {}", name, v, e.getMessage());
                platformLog(name, v, "version " + v + " cannot serve on this node (its share goes to the ACTIVE version): "
                        + e.getMessage());
            }
        }
        Routes next = new Routes(pinned, traffic.tags(), others);
        if (next.isEmpty()) routes.remove(name); else routes.put(name, next);
        retireUnused(name, null, old);
    }

    /** The function's split (empty: not pinned) and tags as this node routes its calls. */
    TrafficRow trafficHere(String name) {
        Routes r = routes.getOrDefault(name, Routes.NONE);
        return new TrafficRow(r.pinned().map(TrafficSplit::percents).orElse(Map.of()), r.tags());
    }

    /**
     * Gets the runtimes ready for the versions used within their keep-alive window (or kept
     * warm with min-instances), most recently used first; a runtime keeps what its budget allows.
     */
    private void prewarmRecentlyUsed() {
        Map<String, Instant> lastCalls = store.lastCalls();
        Map<Runtime, List<InstanceSpec>> wanted = new java.util.LinkedHashMap<>();
        active.values().stream()
                .filter(f -> f.config().prewarm())
                .sorted(Comparator.comparing((ActiveFunction f) -> lastUsed(f, lastCalls)).reversed())
                .forEach(f -> {
                    Runtime runtime = runtimes.get(f.config().runtime());
                    if (runtime != null) wanted.computeIfAbsent(runtime, r -> new java.util.ArrayList<>()).add(f.pool().spec());
                });
        wanted.forEach((runtime, specs) -> {
            List<InstanceSpec> recent = specs.stream()
                    .filter(spec -> spec.config().minInstances() > 0
                            || lastUsed(active.get(spec.function()), lastCalls).isAfter(Instant.now().minus(runtime.keepAlive())))
                    .toList();
            if (!recent.isEmpty()) runtime.prewarm(recent);
        });
    }

    /** When the function was last called, or its version activated, whichever is later. */
    private Instant lastUsed(ActiveFunction f, Map<String, Instant> lastCalls) {
        if (f == null) return Instant.EPOCH;
        Instant called = lastCalls.getOrDefault(f.name(), Instant.EPOCH);
        Instant activated = store.findVersion(f.name(), f.version()).flatMap(VersionRow::activatedAt).orElse(Instant.EPOCH);
        return called.isAfter(activated) ? called : activated;
    }

    /** At start: the deploys this node's stop cut off, and those of nodes that are gone, are finished here. */
    private void resumeDeploys() {
        resume(store.claimOrphanedDeploys(node));
    }

    /** With other nodes on the store: a deploy whose node died is finished here (one node claims each). */
    void resumeDeploysOfDeadNodes() {
        if (!stopping) resume(store.claimDeploysOfDeadNodes(node));
    }

    private void resume(List<VersionRow> deploys) {
        for (VersionRow row : deploys) {
            try {
                ensureUnpacked(row, bundleDir(row.function(), row.version()));
                platformLog(row.function(), row.version(), "resuming the deploy of version " + row.version()
                        + (row.deployingNode().filter(n -> !n.equals(node)).map(n -> ", left by node " + n + ", which is gone")
                                .orElse(" after a restart")));
                deployer.submit(() -> finishDeploy(row.function(), row.version(), configOf(row)));
            } catch (IOException e) {
                store.failVersion(row.function(), row.version(), "the server restarted during the deploy and the bundle is gone; deploy again");
            }
        }
    }

    /**
     * A pool for a version that was prepared before (rollback, restart). Preparing again is
     * cheap when nothing is missing: the requirement check finds the version's environment.
     */
    InstancePool preparedPool(String name, int version, FunctionConfig config) throws DeployFailure {
        Runtime runtime = runtimeFor(config);
        Path bundleDir = bundleDir(name, version);
        Optional<Path> environment = runtime.prepare(bundleDir, bundleDir.getParent());
        return new InstancePool(new InstanceSpec(name, version, config, bundleDir, environment), runtime::start, usage);
    }

    private Runtime runtimeFor(FunctionConfig config) throws DeployFailure {
        Runtime runtime = runtimes.get(config.runtime());
        if (runtime == null) {
            throw new DeployFailure("runtime '" + config.runtime() + "' is not available on this server; available: "
                    + String.join(", ", runtimes.keySet()));
        }
        return runtime;
    }

    /** Unpacks the version's bundle unless it is; a bundle another node stored is fetched from the store first. */
    void ensureUnpacked(VersionRow row, Path bundleDir) throws IOException {
        bundlesUsed.computeIfAbsent(row.function(), n -> ConcurrentHashMap.newKeySet()).add(row.bundleDigest());
        if (Files.isDirectory(bundleDir)) return;
        BundleArchive.unpack(blobs.fetch(row.bundleDigest()), bundleDir, bundleLimits);
    }

    private void maintainPools() {
        for (ActiveFunction f : servingFunctions()) {
            try {
                f.pool().maintain();
            } catch (RuntimeException e) {
                LOG.warn("maintenance of {} v{} failed: {}", f.name(), f.version(), e.toString());
            }
        }
        for (Runtime runtime : runtimes.values()) {
            try {
                runtime.maintain();
            } catch (RuntimeException e) {
                LOG.warn("maintenance of the {} runtime failed: {}", runtime.name(), e.toString());
            }
        }
    }

    @Override
    public void close() {
        stopping = true; // a deploy interrupted now resumes at the next start
        if (maintenance != null) maintenance.shutdownNow();
        deployer.shutdownNow();
        servingFunctions().forEach(f -> f.pool().close());
        active.clear();
        routes.clear();
    }

    // ---- helpers

    /** The function's deploy lock: deploys, rollbacks, traffic changes and follow-ups of other nodes, one at a time. */
    ReentrantLock lockOf(String name) {
        return deployLocks.computeIfAbsent(name, n -> new ReentrantLock());
    }

    Path bundleDir(String name, int version) {
        return versionsRoot.resolve(name).resolve(Integer.toString(version)).resolve("bundle");
    }

    /** A line in the version's log from Gale itself (what a deploy did beside the version, say). */
    public void note(String name, int version, String message) {
        platformLog(name, version, message);
    }

    private void platformLog(String name, int version, String message) {
        logs.log(new LogEntry(0, Instant.now(), name, version, Optional.empty(), Optional.empty(), "gale", message));
    }

    private static String toJson(FunctionConfig config) {
        try {
            return JSON.writeValueAsString(config.toMap());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static void deleteTree(Path dir) {
        if (!gale.util.FileTrees.deleteQuietly(dir)) LOG.warn("could not delete all of {}", dir);
    }
}
