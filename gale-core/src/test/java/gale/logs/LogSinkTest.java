package gale.logs;

import gale.store.TestStores;
import gale.store.LogEntry;
import gale.store.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class LogSinkTest {

    @TempDir
    Path tmp;

    @Test
    void linesBeyondWhatMayWaitAreDroppedAndEachFunctionsLogsSayHowManyOfItsOwn() {
        try (Store store = TestStores.open(tmp)) {
            LogSink sink = new LogSink(store); // not started: nothing is written until flush(), as when the writer falls behind
            String megabyte = "x".repeat(1 << 20);
            for (int i = 0; i < 70; i++) sink.log(line("chatty", megabyte));
            sink.log(line("quiet", "still here"));

            sink.flush();

            List<LogEntry> chatty = store.readLogs("chatty", 0, 1000);
            assertThat(chatty).filteredOn(e -> e.stream().equals("stdout")).as("64 MB may wait").hasSize(64);
            assertThat(chatty.getLast().stream()).isEqualTo("gale");
            assertThat(chatty.getLast().message()).startsWith("6 lines of output were dropped: they came faster than Gale could store them");
            assertThat(store.readLogs("quiet", 0, 10)).as("the bound is for all functions together").extracting(LogEntry::message)
                    .singleElement().asString().startsWith("1 line of output was dropped");
            assertThat(sink.dropped()).isEqualTo(7);
        }
    }

    private static LogEntry line(String function, String message) {
        return new LogEntry(0, Instant.now(), function, 1, Optional.of(function + "-1-a"), Optional.empty(), "stdout", message);
    }

    @Test
    void recordsArrivingWhileABatchIsWrittenWaitForTheNextTickInsteadOfATransactionOfTheirOwn() throws InterruptedException {
        var transactions = new java.util.concurrent.atomic.AtomicInteger();
        var written = new java.util.concurrent.atomic.AtomicInteger();
        LogStore slowStore = new LogStore() {
            @Override
            public void appendLogs(List<LogEntry> entries) {
            }

            @Override
            public void appendInvocations(List<gale.store.InvocationRecord> records) {
                transactions.incrementAndGet();
                written.addAndGet(records.size());
                try {
                    Thread.sleep(2); // a commit takes time; records keep arriving meanwhile
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        LogSink sink = new LogSink(slowStore);
        sink.start();
        long started = System.nanoTime();
        int records = 0;
        while (System.nanoTime() - started < 300_000_000L) { // a steady trickle for 300 ms
            sink.record(new gale.store.InvocationRecord("r" + records++, "fn", 1, Optional.empty(), 200,
                    gale.store.InvocationRecord.Outcome.OK, 1.0, false, Optional.empty(), Instant.now()));
            Thread.sleep(0, 200_000);
        }
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;
        sink.close();

        assertThat(written.get()).isEqualTo(records);
        assertThat(transactions.get()).as("one transaction per 50 ms tick at most, plus the final flush")
                .isLessThanOrEqualTo((int) (elapsedMs / 50) + 3);
    }
}
