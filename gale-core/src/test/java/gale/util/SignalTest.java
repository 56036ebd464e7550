package gale.util;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class SignalTest {

    @Test
    void aFireBetweenTakingNextAndWaitingIsNotMissed() {
        Signal signal = new Signal();
        Signal.Next next = signal.next();
        signal.fire(); // after the condition was checked, before the wait starts

        var waited = CompletableFuture.runAsync(() -> {
            try {
                next.await(Duration.ofHours(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });

        await().atMost(Duration.ofSeconds(30)).until(waited::isDone);
    }

    @Test
    void aWaitTakenAfterAFireWaitsForTheNextOne() throws InterruptedException {
        Signal signal = new Signal();
        signal.fire();
        Signal.Next next = signal.next();
        var waited = CompletableFuture.runAsync(() -> {
            try {
                next.await(Duration.ofHours(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });

        Thread.sleep(100);
        assertThat(waited).isNotDone();
        signal.fire();
        await().atMost(Duration.ofSeconds(30)).until(waited::isDone);
    }
}
