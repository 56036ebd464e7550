package gale.e2e;

import gale.runtime.python.ZygoteBudget;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The zygote budget ({@code --max-zygotes}): a server keeps at most that many version zygotes
 * without running instances, retiring the least recently used first, and after a restart it
 * prewarms the most recently used ones, so that those are the ones it keeps.
 */
class ZygoteBudgetTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path tmp;
    GaleHarness gale;

    @BeforeEach
    void startGale() {
        gale = new GaleHarness(tmp, c -> c.withZygotes(new ZygoteBudget(2, Duration.ofMinutes(10))));
    }

    @AfterEach
    void stopGale() {
        if (gale != null) gale.close();
    }

    @Test
    void afterARestartTheBudgetKeepsTheZygotesOfTheMostRecentlyUsedFunctions() throws Exception {
        for (String name : List.of("other", "older", "newer")) {
            gale.deployActive(name, gale.bundle(name, "main.py", "def " + name + "(request):\n    return '" + name + "'\n"),
                    "entryPoint", name, "idleTimeout", "1s");
        }
        assertThat(text(gale.get("older", ""))).isEqualTo("older");
        Thread.sleep(50); // the calls' records order them: "newer" is the most recently used
        assertThat(text(gale.get("newer", ""))).isEqualTo("newer");

        gale.restart();

        // Prewarmed, most recent first, as many as the budget keeps: "other" was last used at its deploy.
        ProcessHandle newer = zygoteOf("newer");
        ProcessHandle older = zygoteOf("older");
        assertThat(ZygoteProcesses.versionZygoteOf(gale, "other")).isEmpty();
        // Ready once each has forked its spare child: a zygote still starting is never retired, whatever its rank.
        await().atMost(WAIT).until(() -> newer.children().findAny().isPresent() && older.children().findAny().isPresent());

        // A cold start of "other" needs room: the least recently used of the two goes, not the most.
        assertThat(text(gale.get("other", ""))).isEqualTo("other");
        await().atMost(WAIT).until(() -> !older.isAlive());
        assertThat(newer.isAlive()).as("the most recently used function keeps its zygote").isTrue();
        assertThat(zygoteOf("newer").pid()).isEqualTo(newer.pid());
        assertThat(zygoteOf("other").pid()).isNotIn(newer.pid(), older.pid());

        // "older" is served all the same, by a new zygote (the budget then retires the least recently used again).
        assertThat(text(gale.get("older", ""))).isEqualTo("older");
        assertThat(zygoteOf("older").pid()).isNotEqualTo(older.pid());
    }

    private ProcessHandle zygoteOf(String name) {
        return await().atMost(WAIT).until(() -> ZygoteProcesses.versionZygoteOf(gale, name), Optional::isPresent).orElseThrow();
    }
}
