package gale.util;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class DeadlinesTest {

    @Test
    void anActionRunsOnceItsDeadlineHasPassedAndNotBefore() {
        var ran = new CompletableFuture<Instant>();
        Instant deadline = Instant.now().plusMillis(30);

        Deadlines.shared().at(deadline, () -> ran.complete(Instant.now()));

        assertThat(ran.orTimeout(10, TimeUnit.SECONDS).join()).isAfterOrEqualTo(deadline);
    }

    @Test
    void aCancelledDeadlineNeverRunsItsAction() {
        var ran = new AtomicBoolean();
        var timer = Deadlines.shared().at(Instant.now().plusMillis(20), () -> ran.set(true));
        var later = new CompletableFuture<Void>();
        Deadlines.shared().at(Instant.now().plusMillis(40), () -> later.complete(null));

        timer.cancel();
        later.orTimeout(10, TimeUnit.SECONDS).join(); // a deadline after the cancelled one has run: so would the cancelled one have

        assertThat(ran).isFalse();
    }

    @Test
    void theCheckerWakesForADeadlineArmedWhileItWasIdle() {
        await().atMost(10, TimeUnit.SECONDS).until(() -> Deadlines.shared().armed() == 0);
        var ran = new CompletableFuture<Void>();

        Deadlines.shared().at(Instant.now(), () -> ran.complete(null));

        assertThat(ran.orTimeout(10, TimeUnit.SECONDS)).succeedsWithin(java.time.Duration.ofSeconds(10));
    }
}
