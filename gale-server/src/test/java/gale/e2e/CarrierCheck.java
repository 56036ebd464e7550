package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.management.HotSpotDiagnosticMXBean;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds virtual threads that block in a way that holds their carrier: a read of a process
 * pipe or file, a wait for a process. On a 2-CPU server two of those leave nothing to run
 * requests (seen: every zygote's pipe readers pinned the scheduler's carriers and the server
 * answered nothing, not even SIGTERM). Reads a JSON thread dump of this JVM, which lists
 * virtual threads with their stacks.
 */
final class CarrierCheck {

    /** Frames a virtual thread must never be blocked in. */
    static final List<String> BLOCKING_FRAMES = List.of(
            "java.io.FileInputStream.readBytes",
            "java.io.FileInputStream.read(",
            "java.lang.Process$PipeInputStream",
            "java.lang.ProcessImpl.waitFor",
            "java.lang.ProcessHandleImpl.waitForProcessExit0",
            "java.lang.UNIXProcess.waitFor");

    private CarrierCheck() {
    }

    /** The virtual threads now blocked in one of {@link #BLOCKING_FRAMES}, each as "name: frame". */
    static List<String> virtualThreadsHoldingCarriers() {
        List<String> found = new ArrayList<>();
        for (JsonNode container : threadDump().path("threadDump").path("threadContainers")) {
            for (JsonNode thread : container.path("threads")) {
                if (!thread.path("virtual").asBoolean()) continue;
                for (JsonNode frame : thread.path("stack")) {
                    String text = frame.asText().replace("\\/", "/");
                    if (BLOCKING_FRAMES.stream().anyMatch(text::contains)) {
                        found.add(thread.path("name").asText() + ": " + text);
                        break;
                    }
                }
            }
        }
        return found;
    }

    /** Every thread of this JVM, virtual or not, that has a frame containing {@code text}, each as "name: frame". */
    static List<String> threadsIn(String text) {
        List<String> found = new ArrayList<>();
        for (JsonNode container : threadDump().path("threadDump").path("threadContainers")) {
            for (JsonNode thread : container.path("threads")) {
                for (JsonNode frame : thread.path("stack")) {
                    String shown = frame.asText().replace("\\/", "/");
                    if (shown.contains(text)) {
                        found.add(thread.path("name").asText() + ": " + shown);
                        break;
                    }
                }
            }
        }
        return found;
    }

    private static JsonNode threadDump() {
        try {
            Path dump = Files.createTempFile("gale-threads-", ".json");
            Files.delete(dump); // dumpThreads refuses to overwrite
            ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                    .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
            JsonNode root = new ObjectMapper().readTree(dump.toFile());
            Files.deleteIfExists(dump);
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException("could not take a thread dump: " + e.getMessage(), e);
        }
    }

    /** Fails, naming the threads, when a virtual thread holds its carrier in a blocking call. */
    static void assertNoVirtualThreadHoldsItsCarrier() {
        List<String> found = virtualThreadsHoldingCarriers();
        if (!found.isEmpty()) {
            throw new AssertionError("virtual threads blocked holding their carrier (use a platform thread, or a socket): " + found);
        }
    }
}
