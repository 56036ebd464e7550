package gale.logs;

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
        try (Store store = Store.openSqlite(tmp.resolve("gale.db"))) {
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
}
