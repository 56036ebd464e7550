package gale.util;

/**
 * Marks threads that never block, so that an executor handed a short task on one of them may
 * run it in place instead of waking another thread for it. An instance's reader thread is one:
 * when it has written a response, the HTTP server's next step for that connection (look for the
 * next request) runs right there, saving a thread wake-up per call.
 */
public final class InPlace {

    private static final ThreadLocal<Boolean> ALLOWED = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private InPlace() {
    }

    /** Declares that the current thread runs only non-blocking work from now on. */
    public static void allowOnThisThread() {
        ALLOWED.set(Boolean.TRUE);
    }

    /** True on a thread that {@linkplain #allowOnThisThread allowed} it. */
    public static boolean allowed() {
        return ALLOWED.get();
    }
}
