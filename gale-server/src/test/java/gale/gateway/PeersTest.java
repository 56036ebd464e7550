package gale.gateway;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class PeersTest {

    static Peers.Peer peer(String id, int free) {
        return loaded(id, free, 0);
    }

    static Peers.Peer loaded(String id, int free, int load) {
        return new Peers.Peer(id, URI.create("http://127.0.0.1:1/" + id), Map.of(Peers.key("f", 1), free), load);
    }

    @Property(tries = 50)
    void concurrentCallersNeverTakeMoreSlotsFromAPeerThanItAdvertised(@ForAll @IntRange(max = 6) int peerCount,
                                                                         @ForAll @IntRange(max = 20) int freeEach,
                                                                         @ForAll @IntRange(min = 1, max = 8) int callers)
            throws InterruptedException {
        Peers peers = new Peers("self", "c", () -> 0);
        List<Peers.Peer> list = new ArrayList<>();
        for (int i = 0; i < peerCount; i++) list.add(peer("p" + i, freeEach));
        peers.update(list);
        Map<String, Integer> taken = fromManyThreads(callers, 30, () -> peers.takeFree("f", 1));

        int total = taken.values().stream().mapToInt(Integer::intValue).sum();
        assertThat(total).isEqualTo(Math.min(peerCount * freeEach, callers * 30));
        taken.values().forEach(n -> assertThat(n).isLessThanOrEqualTo(freeEach));
    }

    @Test
    void callsGoToThePeerWithTheMostFreeSlotsAndNeverToThisNode() {
        Peers peers = new Peers("self", "c", () -> 0);
        peers.update(List.of(peer("self", 9), peer("small", 1), peer("big", 3)));

        List<String> seen = new ArrayList<>();
        peers.takeFree("f", 1).ifPresent(p -> seen.add(p.id()));
        peers.takeFree("f", 1).ifPresent(p -> seen.add(p.id()));
        peers.takeFree("f", 1).ifPresent(p -> seen.add(p.id()));

        assertThat(seen.subList(0, 2)).containsExactly("big", "big");
        assertThat(peers.takeFree("f", 2)).isEmpty();
        assertThat(peers.known()).extracting(Peers.Peer::id).containsExactlyInAnyOrder("small", "big");
    }

    @Test
    void theNodeCredentialIsDerivedFromTheTokenAndComparedWhole() {
        String credential = Peers.credential("gale_token");
        Peers peers = new Peers("self", credential, () -> 0);

        assertThat(credential).hasSize(64).doesNotContain("gale_token").isEqualTo(Peers.credential("gale_token"));
        assertThat(Peers.credential("another")).isNotEqualTo(credential);
        assertThat(peers.isPeerCall(credential)).isTrue();
        assertThat(peers.isPeerCall(credential.substring(1))).isFalse();
        assertThat(peers.isPeerCall(null)).isFalse();
        assertThat(Peers.NONE.isPeerCall("")).isFalse();
    }

    @Test
    void aForgottenPeerGetsNoCallsUntilItsNextHeartbeat() {
        Peers peers = new Peers("self", "c", () -> 0);
        peers.update(List.of(peer("p", 2)));
        peers.forget("p");
        assertThat(peers.takeFree("f", 1)).isEmpty();
        peers.update(List.of(peer("p", 2)));
        assertThat(peers.takeFree("f", 1)).map(Peers.Peer::id).hasValue("p");
    }

    @Test
    void aColdStartGoesToTheLeastLoadedPeerServingTheVersionOnlyWhenItCarriesClearlyLessThanThisNode() {
        AtomicInteger here = new AtomicInteger(5);
        Peers peers = new Peers("self", "c", here::get);
        peers.update(List.of(loaded("busy", 0, 9), loaded("idle", 0, 1), loaded("quiet", 0, 2),
                new Peers.Peer("other", URI.create("http://127.0.0.1:1/other"), Map.of(Peers.key("g", 1), 0), 0)));

        Map<String, Integer> placed = new java.util.TreeMap<>();
        for (int i = 0; i < 6; i++) peers.placeColdStart("f", 1).ifPresent(p -> placed.merge(p.id(), 1, Integer::sum));

        // a peer takes cold starts while its load, counting those placed since its heartbeat, is at most 5 - 2:
        // idle at 1, 2, 3 and quiet at 2, 3; busy never; "other" does not serve f
        assertThat(placed).isEqualTo(Map.of("idle", 3, "quiet", 2));
        assertThat(peers.placeColdStart("f", 1)).isEmpty();
        assertThat(peers.placeColdStart("f", 2)).as("a version no peer serves").isEmpty();
        here.set(100);
        assertThat(peers.placeColdStart("f", 1)).map(Peers.Peer::id).get().isIn("idle", "quiet");
        peers.update(List.of(loaded("idle", 0, 1)));
        here.set(2);
        assertThat(peers.placeColdStart("f", 1)).as("a heartbeat resets the count; 1 + 2 > 2").isEmpty();
        here.set(3);
        assertThat(peers.placeColdStart("f", 1)).map(Peers.Peer::id).hasValue("idle");
    }

    @Property(tries = 50)
    void concurrentColdStartsNeverLoadAPeerBeyondThisNodeLessTheMargin(@ForAll @IntRange(max = 5) int peerCount,
                                                                        @ForAll @IntRange(max = 20) int peerLoad,
                                                                        @ForAll @IntRange(max = 30) int localLoad,
                                                                        @ForAll @IntRange(min = 1, max = 8) int callers)
            throws InterruptedException {
        Peers peers = new Peers("self", "c", () -> localLoad);
        List<Peers.Peer> list = new ArrayList<>();
        for (int i = 0; i < peerCount; i++) list.add(loaded("p" + i, 0, peerLoad));
        peers.update(list);
        Map<String, Integer> placed = fromManyThreads(callers, 20, () -> peers.placeColdStart("f", 1));

        int room = Math.max(0, localLoad - Peers.PLACEMENT_MARGIN - peerLoad + 1); // placements each peer can take
        placed.values().forEach(n -> assertThat(peerLoad + n).isLessThanOrEqualTo(localLoad - Peers.PLACEMENT_MARGIN + 1));
        assertThat(placed.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(Math.min(peerCount * room, callers * 20));
    }

    /** {@code callers} threads released at once, each asking {@code times}; how many answers named each peer. */
    private static Map<String, Integer> fromManyThreads(int callers, int times, java.util.function.Supplier<java.util.Optional<Peers.Peer>> ask)
            throws InterruptedException {
        Map<String, AtomicInteger> named = new ConcurrentHashMap<>();
        var start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            threads.add(Thread.startVirtualThread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int k = 0; k < times; k++) {
                    ask.get().ifPresent(p -> named.computeIfAbsent(p.id(), x -> new AtomicInteger()).incrementAndGet());
                }
            }));
        }
        start.countDown();
        for (Thread t : threads) t.join();
        Map<String, Integer> counts = new java.util.HashMap<>();
        named.forEach((id, n) -> counts.put(id, n.get()));
        return counts;
    }
}
