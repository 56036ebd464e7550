package gale.triggers;

import gale.config.ConfigResolver;
import gale.config.FunctionConfig;
import gale.config.InvalidConfigException;
import gale.config.TriggerSpec;
import gale.registry.ActiveFunction;
import gale.registry.Registry;
import gale.store.TriggerRow;
import gale.store.TriggerStore;
import gale.store.VersionRow;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Functions' subscriptions to state and blob changes (docs/triggers.md), and the {@link Outbox} the state
 * and blob stores report their writes to. Each change a subscription follows becomes an event: an async call
 * of the function (a CloudEvent, {@link TriggerEvents}), stored in the write's own transaction, so an
 * acknowledged write never loses its event; the {@link AsyncQueue} delivers it with the function's async
 * retries, backoff and dead letters, one event of a key at a time, in order.
 *
 * <p>Matching reads an immutable copy of the subscriptions, replaced after each change of them is stored:
 * a subscription follows the writes that commit after its add answered. An event is stored only while its
 * subscription's row exists, so a removed one gets none, whatever copy a writer read.
 */
public final class Triggers implements Outbox, AsyncQueue.Guard {

    /** A subscription with its events' counts. */
    public record View(TriggerRow row, TriggerStore.Counts counts) {
    }

    /** A subscription the server cannot take, with the status that says why (404, 403). */
    public static final class Refused extends RuntimeException {
        private final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    private final TriggerStore store;
    private final Registry registry;
    private final Runnable deliver;
    private final Clock clock;
    private final ReentrantLock changes = new ReentrantLock();
    /** Subscriptions by "state:NS" / "blob:BUCKET". */
    private volatile Map<String, List<TriggerRow>> following = Map.of();

    /** @param deliver called once events are committed (the async queue's wake-up) */
    public Triggers(TriggerStore store, Registry registry, Runnable deliver, Clock clock) {
        this.store = store;
        this.registry = registry;
        this.deliver = deliver;
        this.clock = clock;
    }

    /** Reads the subscriptions; call before the stores report to this. */
    public void start() {
        reload();
    }

    /**
     * Reads the subscriptions again: another node of a shared store added or removed one (docs/postgresql.md), so
     * this node's writes give events to the ones it added and to none it removed.
     */
    public void refresh() {
        reload();
    }

    private void reload() {
        changes.lock();
        try {
            Map<String, List<TriggerRow>> bySource = new HashMap<>();
            for (TriggerRow t : store.all()) {
                bySource.computeIfAbsent(t.spec().source() + ":" + t.spec().name(), k -> new ArrayList<>()).add(t);
            }
            bySource.replaceAll((k, v) -> List.copyOf(v));
            following = Map.copyOf(bySource);
        } finally {
            changes.unlock();
        }
    }

    // ---- subscriptions

    /** What {@link #add} did: the subscription, and whether it is new (the same one again adds none). */
    public record Added(View view, boolean created) {
    }

    /**
     * Subscribes the function: the same function, source, prefix and events again is the same subscription.
     *
     * @throws Refused 404 when the function is not deployed, 403 when it may not read the source
     */
    public Added add(String function, TriggerSpec spec) {
        FunctionConfig config = configOf(function).orElseThrow(() -> new Refused(404, "function '" + function
                + "' not found; deploy it first (gale deploy " + function + " --source DIR), then add its trigger"));
        try {
            ConfigResolver.checkGranted(function, config, spec);
        } catch (InvalidConfigException e) {
            throw new Refused(403, e.getMessage());
        }
        TriggerRow row = new TriggerRow(idOf(function, spec), function, spec, clock.instant());
        boolean created = store.insert(row);
        if (created) reload();
        TriggerRow stored = store.ofFunction(function).stream().filter(t -> t.id().equals(row.id())).findFirst().orElse(row);
        return new Added(view(stored, store.counts(function)), created);
    }

    /** At deploy: subscribes the function to what its config lists (the config checked the grants); never removes one. */
    public void ensure(String function, List<TriggerSpec> specs) {
        boolean any = false;
        for (TriggerSpec spec : specs) any |= store.insert(new TriggerRow(idOf(function, spec), function, spec, clock.instant()));
        if (any) reload();
    }

    public List<View> list(String function) {
        Map<String, TriggerStore.Counts> counts = store.counts(function);
        return store.ofFunction(function).stream().map(t -> view(t, counts)).toList();
    }

    /** Every function's subscriptions. */
    public List<TriggerRow> all() {
        return store.all();
    }

    /** Removes a subscription; events already stored are still delivered. False if the function has none of that id. */
    public boolean remove(String function, String id) {
        boolean removed = store.delete(function, id);
        if (removed) reload();
        return removed;
    }

    /** The function was deleted (its subscriptions with it, in the store): forget them. */
    public void functionDeleted(String function) {
        reload();
    }

    private static View view(TriggerRow row, Map<String, TriggerStore.Counts> counts) {
        return new View(row, counts.getOrDefault(row.id(), TriggerStore.Counts.NONE));
    }

    /** The config of the version serving, else of the latest one; empty when the function is not deployed. */
    private Optional<FunctionConfig> configOf(String function) {
        Optional<ActiveFunction> active = registry.active(function);
        if (active.isPresent()) return Optional.of(active.get().config());
        if (registry.function(function).isEmpty()) return Optional.empty();
        List<VersionRow> versions = registry.versions(function);
        return versions.isEmpty() ? Optional.empty() : Optional.of(Registry.configOf(versions.getFirst()));
    }

    /** A short id that the same subscription always gets: adding it again is idempotent. */
    static String idOf(String function, TriggerSpec spec) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update((function + "\n" + spec.sourceText() + "\n" + String.join(",", spec.events())).getBytes(StandardCharsets.UTF_8));
            return "tr-" + HexFormat.of().formatHex(sha.digest(), 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    // ---- at delivery

    /**
     * An event runs only while the function may still read its source: a deploy that dropped the grant makes the
     * function's events dead letters saying so (redeploy with the grant, then redrive), not a leak.
     */
    @Override
    public Optional<String> refusal(gale.store.AsyncInvocationRow call, ActiveFunction fn) {
        if (call.triggerId().isEmpty()) return Optional.empty();
        Optional<TriggerSpec> source = TriggerEvents.sourceOf(call.headersJson());
        if (source.isEmpty()) return Optional.empty();
        try {
            ConfigResolver.checkGranted(fn.name(), fn.config(), source.get());
            return Optional.empty();
        } catch (InvalidConfigException e) {
            return Optional.of("function '" + fn.name() + "' v" + fn.version() + " may no longer get this event: "
                    + e.getMessage() + "; then gale dead-letters " + fn.name() + " redrive");
        }
    }

    // ---- the outbox

    @Override
    public boolean follows(String source, String name) {
        return following.containsKey(source + ":" + name);
    }

    @Override
    public void record(Connection connection, List<? extends Change> changes, long nowMillis) throws SQLException {
        Map<String, List<TriggerRow>> subscriptions = following;
        List<Map.Entry<TriggerRow, Change>> matched = new ArrayList<>();
        for (Change change : changes) {
            String source = change instanceof Change.State ? "state" : "blob";
            for (TriggerRow t : subscriptions.getOrDefault(source + ":" + change.name(), List.of())) {
                if (t.spec().matches(change.key(), change.kind())) matched.add(Map.entry(t, change));
            }
        }
        if (matched.isEmpty()) return;
        long seq = TriggerStore.reserve(connection, matched.size());
        List<TriggerStore.Event> events = new ArrayList<>(matched.size());
        for (Map.Entry<TriggerRow, Change> m : matched) events.add(TriggerEvents.of(m.getKey(), m.getValue(), seq++, nowMillis));
        TriggerStore.insertEvents(connection, events, nowMillis);
    }

    @Override
    public void committed() {
        deliver.run();
    }
}
