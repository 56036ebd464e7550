package gale.runtime;

import java.util.concurrent.CompletableFuture;

/**
 * What an instance's code runs as: a local operating-system process ({@link SocketInstance.OsProcess}),
 * or a pod on another machine (gale-kubernetes). {@link SocketInstance} speaks the instance protocol
 * to either and learns from this how it ended.
 */
public interface InstanceProcess {

    /**
     * Completes once it has ended, saying how ("instance exited with code 3"); fails with
     * {@link InstanceFailedException} when the cause is known more exactly (its zygote died, the
     * kernel killed it for memory), carrying that failure.
     */
    CompletableFuture<String> exit();

    /** Stops it and what it started, at once. Safe to call any number of times. */
    void destroy();

    /** Resident memory in bytes, measured now; 0 once gone or where it cannot be measured from here. */
    long rssBytes();

    /** True when something outside Gale holds it to its memory limit (a container's cgroup), so Gale's watchdog need not. */
    default boolean limitsMemory() {
        return false;
    }

    /**
     * True when its end may be reported a while after its connection closed: a forked process
     * whose zygote is busy, a pod whose status the cluster updates later. The instance then waits
     * longer for the exit before it says the connection closed on its own.
     */
    boolean mayReportExitLate();

    /** How logs and errors name it: "pid 4242", "pod gale-hello-3-1a2b". */
    String describe();

    /** What a local process that closed its connection but runs on did, most likely. */
    String CLOSED_ITS_CONNECTION = "the instance closed its connection to Gale but kept running (did the function close a file "
            + "descriptor it did not open?); instance killed";

    /** Why its connection closed while it still runs, as far as Gale can tell; the instance is then killed. */
    default String connectionClosedWhileRunning() {
        return CLOSED_ITS_CONNECTION;
    }
}
