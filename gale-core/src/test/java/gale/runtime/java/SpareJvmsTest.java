package gale.runtime.java;

import gale.config.ConfigResolver;
import gale.runtime.InstanceSpec;
import gale.runtime.SocketInstance;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The spare JVMs' bookkeeping, with instances whose process never comes (the real JVMs are
 * tested end to end in gale.e2e.JavaFunctionTest).
 */
class SpareJvmsTest {

    private static final Duration SHORT_GAP = Duration.ofMillis(20);
    private final List<SocketInstance> launched = new CopyOnWriteArrayList<>();
    private SpareJvms spares;

    @AfterEach
    void close() {
        if (spares != null) spares.close();
    }

    private SpareJvms spares(int max, Duration idleTimeout) {
        spares = new SpareJvms(new SpareJvms.Budget(max, idleTimeout), SHORT_GAP, Duration.ZERO, spec -> {
            var instance = SocketInstance.launching("spare-" + launched.size(), spec, new CompletableFuture<>(),
                    new CompletableFuture<>(), (i, request, stream, line) -> { }, Optional.empty());
            launched.add(instance);
            return instance;
        });
        return spares;
    }

    private static InstanceSpec version(String function, boolean prewarm) {
        var config = ConfigResolver.fromMap(function, Map.of("runtime", "java21", "entryPoint", "example.Hello", "prewarm", prewarm));
        return new InstanceSpec(function, 1, config, Path.of("/bundles", function), Optional.of(Path.of("/java", function)));
    }

    @Test
    void aColdStartTakesTheSpareOnceAndTheNextFindsNone() {
        var spares = spares(4, Duration.ofMinutes(10));
        var hello = version("hello", true);

        spares.refill(hello);
        await().until(() -> spares.kept().size() == 1);

        assertThat(spares.take(hello)).containsSame(launched.getFirst());
        assertThat(spares.take(hello)).isEmpty();
        assertThat(launched.getFirst().failure()).as("a taken spare belongs to its taker").isEmpty();
    }

    @Test
    void aVersionGetsOneSpareHoweverOftenItAsks() {
        var spares = spares(4, Duration.ofMinutes(10));
        var hello = version("hello", true);

        for (int i = 0; i < 5; i++) spares.refill(hello);
        await().until(() -> spares.kept().size() == 1);
        spares.refill(hello);

        await().during(Duration.ofMillis(200)).until(() -> launched.size() == 1);
    }

    @Test
    void overTheBudgetTheLeastRecentlyWantedSpareIsKilled() {
        var spares = spares(2, Duration.ofMinutes(10));
        var a = version("a", true);
        var b = version("b", true);
        var c = version("c", true);

        spares.refill(a);
        spares.refill(b);
        await().until(() -> spares.kept().size() == 2);
        spares.refill(c);
        await().until(() -> launched.size() == 3 && spares.kept().contains(launched.get(2)));

        assertThat(spares.kept()).containsExactly(launched.get(1), launched.get(2));
        assertThat(launched.getFirst().failure()).hasValueSatisfying(f -> assertThat(f.message()).contains("not needed"));
    }

    @Test
    void aSpareNoColdStartTookWithinTheIdleTimeoutIsKilled() {
        var spares = spares(4, Duration.ofMillis(50));
        spares.refill(version("hello", true));
        await().until(() -> spares.kept().size() == 1);

        await().pollDelay(Duration.ofMillis(60)).until(() -> {
            spares.expire();
            return spares.kept().isEmpty();
        });

        assertThat(launched.getFirst().failure()).hasValueSatisfying(f -> assertThat(f.message()).contains("unused"));
    }

    @Test
    void aRetiredVersionsSpareIsKilledAndItGetsNoneAfterwards() {
        var spares = spares(4, Duration.ofMinutes(10));
        var hello = version("hello", true);
        spares.refill(hello);
        await().until(() -> spares.kept().size() == 1);

        spares.retire(hello);

        assertThat(spares.kept()).isEmpty();
        assertThat(launched.getFirst().failure()).hasValueSatisfying(f -> assertThat(f.message()).contains("retired"));
        assertThat(spares.take(hello)).isEmpty();
    }

    @Test
    void aSpareThatDiedWhileWaitingIsNeverHandedOut() {
        var spares = spares(4, Duration.ofMinutes(10));
        var hello = version("hello", true);
        spares.refill(hello);
        await().until(() -> spares.kept().size() == 1);

        launched.getFirst().kill(new gale.runtime.InstanceFailure(gale.runtime.InstanceFailure.Kind.CRASHED, "exited with code 137"));

        assertThat(spares.take(hello)).isEmpty();
    }

    @Test
    void aSpareStartsOnlyAfterTheDelaySoItDoesNotSlowTheFirstCallsOfTheOneTaken() {
        spares = new SpareJvms(new SpareJvms.Budget(4, Duration.ofMinutes(10)), SHORT_GAP, Duration.ofHours(1), spec -> {
            var instance = SocketInstance.launching("spare-" + launched.size(), spec, new CompletableFuture<>(),
                    new CompletableFuture<>(), (i, request, stream, line) -> { }, Optional.empty());
            launched.add(instance);
            return instance;
        });

        spares.refill(version("hello", true));

        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(10)).until(launched::isEmpty);
        assertThat(spares.kept()).isEmpty();
    }

    @Test
    void aVersionDeployedWithoutPrewarmGetsNoSpare() {
        var spares = spares(4, Duration.ofMinutes(10));

        spares.refill(version("lazy", false));

        await().during(Duration.ofMillis(200)).until(() -> launched.isEmpty());
    }

    @Test
    void closingKillsEverySpare() {
        var spares = spares(4, Duration.ofMinutes(10));
        spares.refill(version("a", true));
        spares.refill(version("b", true));
        await().until(() -> spares.kept().size() == 2);

        spares.close();

        assertThat(launched).allSatisfy(i -> assertThat(i.failure()).isPresent());
        spares.refill(version("c", true));
        assertThat(launched).hasSize(2);
    }
}
