package gale.triggers;

import gale.store.TestStores;
import gale.util.ManualClock;
import gale.store.FiringRow;
import gale.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The scheduler against a real store and an injected clock: no test waits for a slot in wall-clock time. */
class SchedulerTest {

    private static final Instant T0 = Instant.parse("2026-03-01T10:00:30Z");
    private static final Duration MIN = Duration.ofMinutes(1);

    @TempDir
    Path dir;
    private Store store;
    private final ManualClock clock = new ManualClock(T0);
    /** Every call any scheduler made, in order. */
    private final List<Scheduler.ScheduledCall> calls = new CopyOnWriteArrayList<>();
    private final Scheduler.Caller answersOk = call -> {
        calls.add(call);
        return CompletableFuture.completedFuture(new Scheduler.CallOutcome(Optional.of(200), "ok", Optional.of("req-" + calls.size()), Optional.empty()));
    };
    private Schedules schedules;

    @BeforeEach
    void open() {
        store = TestStores.open(dir);
        store.createVersion("report", "{}", "sha256:x", 1, T0); // the function exists
        schedules = new Schedules(store.schedules(), clock, f -> store.findFunction(f).isPresent(), () -> { }, MIN);
    }

    @AfterEach
    void close() {
        store.close();
    }

    private Scheduler scheduler(Scheduler.Caller caller) {
        return new Scheduler(store.schedules(), caller, clock, Scheduler.DEFAULT_LATE_LIMIT, "node-a");
    }

    private ScheduleSpec every(String name, String interval, String catchUp) {
        return ScheduleSpec.of(name, "report", Optional.empty(), Optional.of(interval), Optional.empty(), Optional.of(catchUp),
                Optional.empty(), MIN);
    }

    private List<Instant> firedSlots() {
        return calls.stream().map(Scheduler.ScheduledCall::slot).toList();
    }

    @Test
    void aScheduleFiresOnceAtEachSlotAndNotBefore() {
        schedules.put(every("report", "1m", "last"));
        Scheduler scheduler = scheduler(answersOk);

        assertThat(scheduler.runDue()).isZero(); // 10:00:30, the first slot is 10:01
        clock.set(Instant.parse("2026-03-01T10:01:00Z"));
        assertThat(scheduler.runDue()).isEqualTo(1);
        assertThat(scheduler.runDue()).isZero(); // the same slot again: already claimed
        clock.set(Instant.parse("2026-03-01T10:01:59Z"));
        assertThat(scheduler.runDue()).isZero();
        clock.set(Instant.parse("2026-03-01T10:02:00.004Z"));
        assertThat(scheduler.runDue()).isEqualTo(1);

        assertThat(firedSlots()).containsExactly(Instant.parse("2026-03-01T10:01:00Z"), Instant.parse("2026-03-01T10:02:00Z"));
        Schedules.View view = schedules.find("report").orElseThrow();
        assertThat(view.row().nextFire()).contains(Instant.parse("2026-03-01T10:03:00Z"));
        FiringRow last = view.lastFiring().orElseThrow();
        assertThat(last.slot()).isEqualTo(Instant.parse("2026-03-01T10:02:00Z"));
        assertThat(last.outcome()).contains("ok");
        assertThat(last.status()).contains(200);
        assertThat(last.requestId()).contains("req-2");
    }

    @Test
    void theCallCarriesTheScheduleTheFunctionTheSlotAndThePayload() {
        schedules.put(ScheduleSpec.of("nightly", "report", Optional.of("0 3 * * *"), Optional.empty(), Optional.of("Europe/Berlin"),
                Optional.empty(), Optional.of("{\"kind\":\"full\"}"), MIN));
        clock.set(Instant.parse("2026-03-02T02:00:00Z")); // 03:00 in Berlin (CET)
        scheduler(answersOk).runDue();
        assertThat(calls).containsExactly(new Scheduler.ScheduledCall("nightly", "report", Instant.parse("2026-03-02T02:00:00Z"),
                Optional.of("{\"kind\":\"full\"}")));
    }

    @Test
    void twoSchedulersOnOneStoreNeverFireASlotTwice() throws Exception {
        schedules.put(every("report", "1m", "last"));
        schedules.put(every("second", "2m", "last"));
        Scheduler a = scheduler(answersOk);
        Scheduler b = scheduler(answersOk);
        int expected = 0;
        for (int minute = 1; minute <= 40; minute++) {
            clock.set(Instant.parse("2026-03-01T10:00:00Z").plus(Duration.ofMinutes(minute)));
            expected += minute % 2 == 0 ? 2 : 1;
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (Scheduler s : List.of(a, b, a, b)) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        s.runDue();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
            }
            go.countDown();
            for (Thread t : threads) t.join();
        }
        assertThat(calls).hasSize(expected);
        assertThat(calls.stream().map(c -> c.schedule() + "@" + c.slot()).distinct().count()).isEqualTo(expected);
    }

    @Test
    void afterADowntimeCatchUpLastRunsTheMostRecentMissedSlotOnce() {
        schedules.put(every("report", "1m", "last"));
        clock.set(Instant.parse("2026-03-01T10:01:00Z"));
        scheduler(answersOk).runDue();

        clock.set(Instant.parse("2026-03-01T10:12:20Z")); // down from 10:01:01 to 10:12:20: ten slots passed
        Scheduler afterRestart = scheduler(answersOk);
        afterRestart.start();
        try {
            afterRestart.runDue();
            afterRestart.runDue();
        } finally {
            afterRestart.close();
        }
        assertThat(firedSlots()).containsExactly(Instant.parse("2026-03-01T10:01:00Z"), Instant.parse("2026-03-01T10:12:00Z"));
        assertThat(schedules.find("report").orElseThrow().row().nextFire()).contains(Instant.parse("2026-03-01T10:13:00Z"));
    }

    @Test
    void afterADowntimeCatchUpNoneSkipsToTheNextSlot() {
        schedules.put(every("report", "1m", "none"));
        clock.set(Instant.parse("2026-03-01T10:12:20Z"));
        Scheduler scheduler = scheduler(answersOk);
        assertThat(scheduler.runDue()).isZero();
        assertThat(schedules.find("report").orElseThrow().row().nextFire()).contains(Instant.parse("2026-03-01T10:13:00Z"));
        clock.set(Instant.parse("2026-03-01T10:13:00.250Z"));
        assertThat(scheduler.runDue()).isEqualTo(1);
        assertThat(firedSlots()).containsExactly(Instant.parse("2026-03-01T10:13:00Z"));
    }

    @Test
    void catchUpNoneStillFiresASlotThatIsOnlyALittleLate() {
        schedules.put(every("report", "1m", "none"));
        clock.set(Instant.parse("2026-03-01T10:01:10Z")); // 10 s late: within the late limit
        assertThat(scheduler(answersOk).runDue()).isEqualTo(1);
    }

    @Test
    void aPausedScheduleDoesNotFireAndResumesFromTheNextSlotAfterNow() {
        schedules.put(every("report", "1m", "last"));
        Scheduler scheduler = scheduler(answersOk);
        assertThat(schedules.pause("report").orElseThrow().row().paused()).isTrue();
        clock.set(Instant.parse("2026-03-01T10:05:00Z"));
        assertThat(scheduler.runDue()).isZero();

        clock.set(Instant.parse("2026-03-01T10:05:30Z"));
        Schedules.View resumed = schedules.resume("report").orElseThrow();
        assertThat(resumed.row().paused()).isFalse();
        assertThat(resumed.row().nextFire()).contains(Instant.parse("2026-03-01T10:06:00Z"));
        assertThat(scheduler.runDue()).isZero(); // slots passed while paused are not run
        clock.set(Instant.parse("2026-03-01T10:06:00Z"));
        assertThat(scheduler.runDue()).isEqualTo(1);
        assertThat(firedSlots()).containsExactly(Instant.parse("2026-03-01T10:06:00Z"));
    }

    @Test
    void aCallCutOffByAStopIsRecordedInterruptedAndNeverFiredAgain() {
        schedules.put(every("report", "1m", "last"));
        clock.set(Instant.parse("2026-03-01T10:01:00Z"));
        Scheduler before = scheduler(call -> {
            calls.add(call);
            return new CompletableFuture<>(); // still running when Gale stops
        });
        assertThat(before.runDue()).isEqualTo(1);

        Scheduler after = scheduler(answersOk);
        after.start();
        try {
            after.runDue();
        } finally {
            after.close();
        }
        assertThat(calls).hasSize(1);
        assertThat(schedules.find("report").orElseThrow().lastFiring().orElseThrow().outcome()).contains("interrupted");
    }

    @Test
    void aCallThatCannotBeMadeIsRecordedUnreachable() {
        schedules.put(every("report", "1m", "last"));
        clock.set(Instant.parse("2026-03-01T10:01:00Z"));
        scheduler(call -> CompletableFuture.failedFuture(new java.net.ConnectException("refused"))).runDue();
        FiringRow last = schedules.find("report").orElseThrow().lastFiring().orElseThrow();
        assertThat(last.outcome()).contains("unreachable");
        assertThat(last.error().orElseThrow()).contains("refused");
    }

    @Test
    void theTimerThreadFiresWhenTheClockReachesTheSlot() {
        schedules.put(every("report", "1m", "last"));
        Scheduler scheduler = scheduler(answersOk);
        scheduler.start();
        try {
            clock.set(Instant.parse("2026-03-01T10:01:00Z"));
            scheduler.poke();
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.size() == 1);
        } finally {
            scheduler.close();
        }
    }

    @Test
    void replacingAScheduleWithTheSameTimingKeepsItsNextSlotAndAChangedOneStartsAfresh() {
        schedules.put(every("report", "5m", "last"));
        assertThat(schedules.find("report").orElseThrow().row().nextFire()).contains(Instant.parse("2026-03-01T10:05:00Z"));
        clock.set(Instant.parse("2026-03-01T10:07:00Z")); // 10:05 is due, not yet fired
        schedules.put(every("report", "5m", "none"));
        assertThat(schedules.find("report").orElseThrow().row().nextFire()).contains(Instant.parse("2026-03-01T10:05:00Z"));
        schedules.put(every("report", "2m", "last"));
        assertThat(schedules.find("report").orElseThrow().row().nextFire()).contains(Instant.parse("2026-03-01T10:08:00Z"));
    }

    @Test
    void firingHistoryKeepsTheNewestHundred() {
        schedules.put(every("report", "1m", "last"));
        Scheduler scheduler = scheduler(answersOk);
        for (int minute = 1; minute <= 105; minute++) {
            clock.set(Instant.parse("2026-03-01T10:00:00Z").plus(Duration.ofMinutes(minute)));
            scheduler.runDue();
        }
        List<FiringRow> kept = schedules.firings("report", 1000);
        assertThat(kept).hasSize(100);
        assertThat(kept.getFirst().slot()).isEqualTo(Instant.parse("2026-03-01T11:45:00Z"));
    }

    @Test
    void aScheduleForAFunctionThatIsNotDeployedIsRefused() {
        assertThatThrownBy(() -> schedules.put(ScheduleSpec.of("x", "nosuch", Optional.empty(), Optional.of("5m"),
                Optional.empty(), Optional.empty(), Optional.empty(), MIN)))
                .isInstanceOf(Schedules.FunctionNotFound.class).hasMessageContaining("function 'nosuch' not found; deploy it first");
    }

    @Test
    void deletingTheFunctionDeletesItsSchedulesAndTheirFirings() {
        schedules.put(every("report", "1m", "last"));
        clock.set(Instant.parse("2026-03-01T10:01:00Z"));
        scheduler(answersOk).runDue();
        store.deleteFunction("report");
        assertThat(schedules.list(Optional.empty())).isEmpty();
        assertThat(schedules.firings("report", 10)).isEmpty();
    }

    @Test
    void listingIsByNameAndCanBeLimitedToOneFunction() {
        store.createVersion("other", "{}", "sha256:x", 1, T0);
        schedules.put(every("zeta", "1m", "last"));
        schedules.put(every("alpha", "1m", "last"));
        schedules.put(ScheduleSpec.of("beta", "other", Optional.empty(), Optional.of("1h"), Optional.empty(), Optional.empty(),
                Optional.empty(), MIN));
        assertThat(schedules.list(Optional.empty())).extracting(v -> v.row().name()).containsExactly("alpha", "beta", "zeta");
        assertThat(schedules.list(Optional.of("other"))).extracting(v -> v.row().name()).containsExactly("beta");
    }
}
