package gale.gateway;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * The other nodes sharing this node's store, as far as their last heartbeats tell: where each listens and how many
 * calls its warm instances could take at once, per function version. The gateway sends a call to a peer with a free
 * warm instance rather than cold-starting one itself (Knative's activator does the same with its endpoint
 * snapshot). A heartbeat is a few seconds old, so each call sent to a peer counts against what it advertised until
 * the next heartbeat replaces the count: a burst never sends a peer more calls than it said it could take; a call
 * that meets a peer busier than advertised waits in the peer's own queue, as any call there would.
 *
 * <p>When no node has a free warm instance, a new one starts where there is most room: here, unless a peer that
 * serves the version carries at least {@link #PLACEMENT_MARGIN} less load (instances and calls in flight, from its
 * heartbeat) than this node, in which case the call goes there and starts its instance there. Calls placed on a peer
 * count as load on it until its next heartbeat, so a burst that reaches one node spreads over the others.
 *
 * <p>Node-to-node calls carry {@link #CREDENTIAL_HEADER}, derived from the admin token every node shares, never the
 * token itself: a peer's call is already authenticated, so the receiving node neither checks keys again nor
 * forwards it further.
 */
public final class Peers {

    /** The node-to-node credential: HMAC-SHA256 of a fixed label under the admin token. */
    public static final String CREDENTIAL_HEADER = "X-Gale-Node-Credential";
    /** On a forwarded call: the node that forwarded it and the call's request id, "NODE REQUEST-ID". */
    public static final String FORWARDED_HEADER = "X-Gale-Forwarded-By";
    /** On every response of a node with peers: which node served the call. */
    public static final String NODE_HEADER = "X-Gale-Node";

    /**
     * One node as its heartbeat describes it.
     *
     * @param free "function@version" → calls its warm instances could take at once, for every version it serves (0: none free)
     * @param load its instances (starting ones too) and calls in flight
     */
    public record Peer(String id, URI url, Map<String, Integer> free, int load) {
        public Peer {
            free = Map.copyOf(free);
        }
    }

    /** How much more load this node must carry than a peer before a cold start goes to that peer. */
    public static final int PLACEMENT_MARGIN = 2;

    /** A single node's: no peers, no forwarding. */
    public static final Peers NONE = new Peers("", "", () -> 0);

    private final String self;
    private final byte[] credential;
    private final IntSupplier localLoad;
    private volatile Map<String, Advertised> peers = Map.of();

    /**
     * @param credential {@link #credential(String)} of the admin token
     * @param localLoad  this node's instances and calls in flight now, measured as its heartbeat measures them
     */
    public Peers(String self, String credential, IntSupplier localLoad) {
        this.self = self;
        this.credential = credential.getBytes(StandardCharsets.US_ASCII);
        this.localLoad = localLoad;
    }

    /** The node-to-node credential every node of one store derives from the admin token they share. */
    public static String credential(String adminToken) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(adminToken.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal("gale node-to-node calls v1".getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** The key a function version's free slots are advertised under. */
    public static String key(String function, int version) {
        return function + "@" + version;
    }

    public boolean enabled() {
        return credential.length > 0;
    }

    public String self() {
        return self;
    }

    /** The credential to send on calls to peers. */
    public String credential() {
        return new String(credential, StandardCharsets.US_ASCII);
    }

    /** Whether a request's credential header is this store's node credential (compared in constant time). */
    public boolean isPeerCall(String presented) {
        return enabled() && presented != null
                && MessageDigest.isEqual(presented.getBytes(StandardCharsets.US_ASCII), credential);
    }

    /** Replaces what is known of the peers with their latest heartbeats; this node's own row is left out. */
    public void update(Collection<Peer> current) {
        Map<String, Advertised> next = new LinkedHashMap<>();
        for (Peer p : current) {
            if (!p.id().equals(self)) next.put(p.id(), new Advertised(p));
        }
        peers = Map.copyOf(next);
    }

    /** Stops sending calls to a peer that could not be reached, until its next heartbeat brings it back. */
    public void forget(String id) {
        Map<String, Advertised> next = new LinkedHashMap<>(peers);
        if (next.remove(id) != null) peers = Map.copyOf(next);
    }

    /** A peer with a free warm instance of the version, the one with the most left; that slot counts as taken. */
    public Optional<Peer> takeFree(String function, int version) {
        String key = key(function, version);
        while (true) {
            Advertised best = null;
            int bestLeft = 0;
            for (Advertised a : peers.values()) {
                AtomicInteger left = a.left.get(key);
                int n = left == null ? 0 : left.get();
                if (n > bestLeft) {
                    best = a;
                    bestLeft = n;
                }
            }
            if (best == null) return Optional.empty();
            AtomicInteger left = best.left.get(key);
            if (left.compareAndSet(bestLeft, bestLeft - 1)) return Optional.of(best.peer);
        }
    }

    /**
     * Where a new instance of the version should start when no node has a free warm one: the least loaded peer that
     * serves the version, if it carries at least {@link #PLACEMENT_MARGIN} less load than this node; empty for here.
     * The call placed there counts as load on that peer until its next heartbeat.
     */
    public Optional<Peer> placeColdStart(String function, int version) {
        String key = key(function, version);
        int here = -1;
        while (true) {
            Advertised best = null;
            int bestPlaced = 0;
            int bestLoad = Integer.MAX_VALUE;
            for (Advertised a : peers.values()) {
                if (!a.peer.free().containsKey(key)) continue; // not serving it (yet): its call would wait for a deploy
                int placed = a.placed.get();
                if (a.peer.load() + placed < bestLoad) {
                    best = a;
                    bestPlaced = placed;
                    bestLoad = a.peer.load() + placed;
                }
            }
            if (best == null) return Optional.empty();
            if (here < 0) here = localLoad.getAsInt(); // only measured when a peer could take it
            if (bestLoad + PLACEMENT_MARGIN > here) return Optional.empty();
            if (best.placed.compareAndSet(bestPlaced, bestPlaced + 1)) return Optional.of(best.peer);
        }
    }

    /**
     * What this node tells its peers in its heartbeat: for each function version it serves, how many calls its warm
     * instances could take at once (0 when none is free: it still serves the version, so a cold start may go there).
     */
    public static Map<String, Integer> freeSlots(Collection<gale.registry.ActiveFunction> serving) {
        Map<String, Integer> free = new LinkedHashMap<>();
        for (var fn : serving) free.put(key(fn.name(), fn.version()), fn.pool().freeSlots());
        return free;
    }

    /** The peers known now, for `gale nodes` and tests. */
    public List<Peer> known() {
        List<Peer> list = new ArrayList<>();
        peers.values().forEach(a -> list.add(a.peer));
        return list;
    }

    /** A peer's heartbeat, what is left of its advertised slots after the calls sent to it since, and the cold starts placed there. */
    private static final class Advertised {
        final Peer peer;
        final Map<String, AtomicInteger> left = new ConcurrentHashMap<>();
        /** Cold starts placed on it since this heartbeat. */
        final AtomicInteger placed = new AtomicInteger();

        Advertised(Peer peer) {
            this.peer = peer;
            peer.free().forEach((k, n) -> {
                if (n > 0) left.put(k, new AtomicInteger(n));
            });
        }
    }
}
