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
        return new Peers.Peer(id, URI.create("http://127.0.0.1:1/" + id), Map.of(Peers.key("f", 1), free));
    }

    @Property(tries = 50)
    void concurrentCallersNeverTakeMoreSlotsFromAPeerThanItAdvertised(@ForAll @IntRange(max = 6) int peerCount,
                                                                         @ForAll @IntRange(max = 20) int freeEach,
                                                                         @ForAll @IntRange(min = 1, max = 8) int callers)
            throws InterruptedException {
        Peers peers = new Peers("self", "c");
        List<Peers.Peer> list = new ArrayList<>();
        for (int i = 0; i < peerCount; i++) list.add(peer("p" + i, freeEach));
        peers.update(list);
        Map<String, AtomicInteger> taken = new ConcurrentHashMap<>();
        var start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            threads.add(Thread.startVirtualThread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int k = 0; k < 30; k++) {
                    peers.takeFree("f", 1).ifPresent(p -> taken.computeIfAbsent(p.id(), x -> new AtomicInteger()).incrementAndGet());
                }
            }));
        }
        start.countDown();
        for (Thread t : threads) t.join();

        int total = taken.values().stream().mapToInt(AtomicInteger::get).sum();
        assertThat(total).isEqualTo(Math.min(peerCount * freeEach, callers * 30));
        taken.values().forEach(n -> assertThat(n.get()).isLessThanOrEqualTo(freeEach));
    }

    @Test
    void callsGoToThePeerWithTheMostFreeSlotsAndNeverToThisNode() {
        Peers peers = new Peers("self", "c");
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
        Peers peers = new Peers("self", credential);

        assertThat(credential).hasSize(64).doesNotContain("gale_token").isEqualTo(Peers.credential("gale_token"));
        assertThat(Peers.credential("another")).isNotEqualTo(credential);
        assertThat(peers.isPeerCall(credential)).isTrue();
        assertThat(peers.isPeerCall(credential.substring(1))).isFalse();
        assertThat(peers.isPeerCall(null)).isFalse();
        assertThat(Peers.NONE.isPeerCall("")).isFalse();
    }

    @Test
    void aForgottenPeerGetsNoCallsUntilItsNextHeartbeat() {
        Peers peers = new Peers("self", "c");
        peers.update(List.of(peer("p", 2)));
        peers.forget("p");
        assertThat(peers.takeFree("f", 1)).isEmpty();
        peers.update(List.of(peer("p", 2)));
        assertThat(peers.takeFree("f", 1)).map(Peers.Peer::id).hasValue("p");
    }
}
