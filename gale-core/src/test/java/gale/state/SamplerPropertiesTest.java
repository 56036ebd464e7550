package gale.state;

import gale.store.TestStores;
import gale.util.ManualClock;
import gale.store.Store;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Many respondents drawing at once from one sampler, confirming, releasing, dropping out, and
 * confirming after their lease ran out, while the clock jumps past leases: no respondent is shown
 * an item twice, no item goes past its target, and the counts add up to what respondents did.
 */
class SamplerPropertiesTest {

    private static final Duration LEASE = Duration.ofMinutes(5);
    private static final AtomicInteger SAMPLERS = new AtomicInteger();
    private static Path dir;
    private static ManualClock clock;
    private static Store store;

    @BeforeContainer
    static void open() throws Exception {
        dir = Files.createTempDirectory("gale-sampler-test");
        clock = new ManualClock();
        store = TestStores.open(dir, clock);
    }

    @AfterContainer
    static void close() {
        store.close();
        gale.util.FileTrees.deleteQuietly(dir);
    }

    @Property(tries = 30)
    void concurrentRespondentsNeverSeeAnItemTwiceNeverPushOnePastItsTargetAndCountsAddUp(
            @ForAll @IntRange(min = 1, max = 12) int itemCount,
            @ForAll @IntRange(min = 1, max = 4) int target,
            @ForAll @IntRange(min = 2, max = 24) int respondents,
            @ForAll @IntRange(min = 1, max = 4) int k,
            @ForAll long seed) throws Exception {
        SamplerStore samplers = store.samplers();
        String name = "prop-" + SAMPLERS.incrementAndGet();
        List<Sampler.Item> items = new ArrayList<>();
        for (int i = 0; i < itemCount; i++) items.add(new Sampler.Item("item-" + i, "{\"n\":" + i + "}"));
        samplers.create(name, items, target, LEASE);

        Map<String, AtomicInteger> confirmedByModel = new ConcurrentHashMap<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int r = 0; r < respondents; r++) {
            String respondent = "r" + r;
            Random random = new Random(seed + r);
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    respond(samplers, name, respondent, k, random, confirmedByModel);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        Random clockRandom = new Random(seed);
        Thread clockMover = Thread.ofPlatform().start(() -> {
            try {
                start.await();
                for (int i = 0; i < 3; i++) {
                    Thread.sleep(clockRandom.nextInt(5));
                    clock.advance(LEASE.plusSeconds(1)); // every live lease runs out
                    assertWithinTargets(samplers.stats(name), target);
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        });
        start.countDown();
        for (Thread t : threads) t.join();
        clockMover.join();
        assertThat(failure.get()).isNull();

        clock.advance(LEASE.plusSeconds(1)); // the drop-outs' leases run out
        Sampler.Stats stats = samplers.stats(name);
        assertWithinTargets(stats, target);
        assertThat(stats.leased()).isZero();
        for (Sampler.ItemCount item : stats.items()) {
            int confirmed = Optional.ofNullable(confirmedByModel.get(item.id())).map(AtomicInteger::get).orElse(0);
            assertThat(item.confirmed()).as("confirmations of " + item.id()).isEqualTo(confirmed);
        }
        assertThat(stats.confirmed()).isEqualTo(confirmedByModel.values().stream().mapToInt(AtomicInteger::get).sum());
        assertThat(stats.full()).isEqualTo((int) stats.items().stream().filter(i -> i.confirmed() == target).count());
    }

    /** A few rounds of draw, then confirm all, some, late, or release, or drop out. */
    private static void respond(SamplerStore samplers, String name, String respondent, int k, Random random,
                                Map<String, AtomicInteger> confirmed) {
        Set<String> seen = new HashSet<>();
        for (int round = 0; round < 3; round++) {
            Sampler.Draw draw = samplers.draw(name, respondent, k, Optional.empty());
            assertThat(draw.items().size()).isLessThanOrEqualTo(k);
            List<String> ids = draw.items().stream().map(Sampler.Item::id).toList();
            for (String id : ids) {
                assertThat(seen.add(id)).as(respondent + " was shown " + id + " twice").isTrue();
            }
            if (ids.isEmpty()) return;
            int choice = random.nextInt(100);
            List<String> done;
            if (choice < 40) {
                done = tryConfirm(samplers, name, respondent, List.of());
            } else if (choice < 60) {
                done = tryConfirm(samplers, name, respondent, ids.subList(0, 1 + random.nextInt(ids.size())));
            } else if (choice < 75) {
                samplers.release(name, respondent, random.nextBoolean() ? List.of() : ids);
                done = List.of();
            } else {
                return; // dropped out: the lease runs out when the clock moves
            }
            for (String id : done) confirmed.computeIfAbsent(id, x -> new AtomicInteger()).incrementAndGet();
        }
    }

    /** The ids confirmed, or none when the confirmation was refused (a lease ran out and the item filled up). */
    private static List<String> tryConfirm(SamplerStore samplers, String name, String respondent, List<String> ids) {
        try {
            return samplers.confirm(name, respondent, ids);
        } catch (StateRefused e) {
            assertThat(e.reason()).isEqualTo(StateRefused.Reason.CONFLICT);
            assertThat(e.getMessage()).contains("ran out and the item has reached its target");
            return List.of();
        }
    }

    private static void assertWithinTargets(Sampler.Stats stats, int target) {
        for (Sampler.ItemCount item : stats.items()) {
            assertThat(item.confirmed() + item.leased()).as(item.id() + " shown").isLessThanOrEqualTo(target);
            assertThat(item.leased()).isNotNegative();
        }
    }

    @Example
    void drawsGoToTheLeastShownItemsFirst() {
        SamplerStore samplers = store.samplers();
        String name = "least-" + SAMPLERS.incrementAndGet();
        samplers.create(name, List.of(new Sampler.Item("a", "\"a\""), new Sampler.Item("b", "\"b\""), new Sampler.Item("c", "\"c\"")),
                2, LEASE);

        Set<String> first = ids(samplers.draw(name, "r1", 2, Optional.empty()));
        Set<String> second = ids(samplers.draw(name, "r2", 2, Optional.empty()));

        // r2 gets the item r1 did not, then one of r1's: every item shown once before any twice
        Set<String> all = new HashSet<>(first);
        all.addAll(second);
        assertThat(all).containsExactlyInAnyOrder("a", "b", "c");
        assertThat(samplers.draw(name, "r3", 3, Optional.empty()).items()).hasSize(2); // one item is at its target
        assertThat(samplers.draw(name, "r4", 3, Optional.empty()).items()).isEmpty(); // all are
    }

    @Example
    void aLeaseThatRunsOutReturnsItsItemsAndALateConfirmationCountsWhileThereIsRoom() {
        SamplerStore samplers = store.samplers();
        String name = "lease-" + SAMPLERS.incrementAndGet();
        samplers.create(name, List.of(new Sampler.Item("only", "1")), 1, LEASE);
        assertThat(samplers.draw(name, "slow", 1, Optional.empty()).items()).hasSize(1);
        assertThat(samplers.draw(name, "other", 1, Optional.empty()).items()).isEmpty(); // leased: at its target

        clock.advance(LEASE.plusSeconds(1));
        assertThat(samplers.stats(name).leased()).isZero();
        assertThat(samplers.confirm(name, "slow", List.of())).isEmpty(); // nothing leased any more
        assertThat(samplers.confirm(name, "slow", List.of("only"))).containsExactly("only"); // late, but there is room

        assertThat(samplers.draw(name, "other", 1, Optional.empty()).items()).isEmpty();
        assertThat(samplers.stats(name).full()).isEqualTo(1);
    }

    @Example
    void aReleasedItemGoesBackToThePoolButNotToTheRespondent() {
        SamplerStore samplers = store.samplers();
        String name = "release-" + SAMPLERS.incrementAndGet();
        samplers.create(name, List.of(new Sampler.Item("x", "1")), 1, LEASE);
        samplers.draw(name, "r1", 1, Optional.empty());

        assertThat(samplers.release(name, "r1", List.of())).containsExactly("x");
        assertThat(samplers.draw(name, "r1", 1, Optional.empty()).items()).isEmpty();
        assertThat(ids(samplers.draw(name, "r2", 1, Optional.empty()))).containsExactly("x");
        assertThatThrownBy(() -> samplers.confirm(name, "r1", List.of("x"))).hasMessageContaining("released item 'x'");
        assertThatThrownBy(() -> samplers.confirm(name, "r3", List.of("x"))).hasMessageContaining("never drew item 'x'");
    }

    @Example
    void badSamplersAndDrawsAreRefusedWithWhatToDo() {
        SamplerStore samplers = store.samplers();
        assertThatThrownBy(() -> samplers.create("empty", List.of(), 1, LEASE)).hasMessageContaining("at least one item");
        assertThatThrownBy(() -> samplers.create("dup", List.of(new Sampler.Item("a", "1"), new Sampler.Item("a", "2")), 1, LEASE))
                .hasMessageContaining("appears twice");
        assertThatThrownBy(() -> samplers.create("zero", List.of(new Sampler.Item("a", "1")), 0, LEASE)).hasMessageContaining("target must be");
        assertThatThrownBy(() -> samplers.draw("nope", "r", 1, Optional.empty())).hasMessageContaining("no sampler named 'nope'");
        samplers.create("taken", List.of(new Sampler.Item("a", "1")), 1, LEASE);
        assertThatThrownBy(() -> samplers.create("taken", List.of(new Sampler.Item("a", "1")), 1, LEASE)).hasMessageContaining("exists");
        assertThatThrownBy(() -> samplers.draw("taken", "", 1, Optional.empty())).hasMessageContaining("a respondent is");
        assertThatThrownBy(() -> samplers.draw("taken", "r", 0, Optional.empty())).hasMessageContaining("k must be between");
        assertThat(samplers.delete("taken")).isTrue();
        assertThat(samplers.delete("taken")).isFalse();
    }

    private static Set<String> ids(Sampler.Draw draw) {
        Set<String> ids = new HashSet<>();
        draw.items().forEach(i -> ids.add(i.id()));
        return ids;
    }
}
