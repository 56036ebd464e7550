package gale.server;

import gale.util.InPlace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class JettyThreadsTest {

    JettyThreads pool;

    @BeforeEach
    void start() throws Exception {
        pool = new JettyThreads();
        pool.start();
    }

    @AfterEach
    void stop() throws Exception {
        pool.stop();
    }

    @Test
    void aTaskFromAThreadThatNeverBlocksRunsInPlace() throws Exception {
        var ranOn = new CompletableFuture<Thread>();
        var submitter = Thread.ofPlatform().start(() -> {
            InPlace.allowOnThisThread();
            pool.execute(() -> ranOn.complete(Thread.currentThread()));
        });
        submitter.join();

        assertThat(ranOn.get(10, TimeUnit.SECONDS)).isSameAs(submitter);
    }

    @Test
    void aTaskFromAnyOtherThreadRunsOnThePool() throws Exception {
        var ranOn = new CompletableFuture<Thread>();

        pool.execute(() -> ranOn.complete(Thread.currentThread()));

        assertThat(ranOn.get(10, TimeUnit.SECONDS)).isNotSameAs(Thread.currentThread());
        assertThat(ranOn.get().getName()).startsWith("gale-http");
    }
}
