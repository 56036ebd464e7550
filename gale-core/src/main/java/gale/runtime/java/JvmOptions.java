package gale.runtime.java;

import gale.config.DataSize;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The JVM flags of a Java function instance. Chosen for starting fast and staying inside
 * --memory (measured in bench/java_coldstart.sh): the serial collector (no GC threads to
 * start, least memory), no perf-data file, a heap that leaves room for what a JVM holds
 * outside it (metaspace, code, thread stacks, the mapped archive), and, as AWS Lambda does
 * for Java by default, only the C1 compiler: quicker to start, less peak speed. A function
 * whose JAVA_TOOL_OPTIONS or JDK_JAVA_OPTIONS mention tiered compilation decides that itself.
 */
final class JvmOptions {

    /** A JVM does not fit in less: Gale would kill it for exceeding --memory before it served. */
    static final long MIN_MEMORY_MB = 64;
    /** What a small JVM holds outside the heap, at most; up to half of --memory. */
    private static final long NON_HEAP_MB = 96;

    private JvmOptions() {
    }

    /**
     * The flags that are the same for every instance of a version (a class-data archive is made for exactly these).
     *
     * @param env the function's environment variables
     */
    static List<String> forVersion(DataSize memory, Map<String, String> env) {
        List<String> options = new ArrayList<>(List.of(
                "-XX:+UseSerialGC",
                "-Xmx" + heapMegabytes(memory) + "m",
                "-XX:-UsePerfData", // no hsperfdata file to create at start; class-data sharing (-Xshare:auto) is the default
                "-XX:+ExitOnOutOfMemoryError", // a JVM out of heap may be broken anywhere; Gale replaces it
                "-Xlog:disable", "-Xlog:all=warning:stderr")); // JVM warnings to stderr (logged), never into stdout
        // Command-line flags beat JAVA_TOOL_OPTIONS, so the default is left out when the function sets its own.
        if (!mentionsTieredCompilation(env)) options.add("-XX:TieredStopAtLevel=1");
        return List.copyOf(options);
    }

    /** --memory minus what the JVM needs besides the heap (at most half of --memory). */
    static long heapMegabytes(DataSize memory) {
        long mb = memory.megabytes();
        return mb - Math.min(mb / 2, NON_HEAP_MB);
    }

    private static boolean mentionsTieredCompilation(Map<String, String> env) {
        for (String name : List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")) {
            if (env.getOrDefault(name, "").contains("Tiered")) return true;
        }
        return false;
    }
}
