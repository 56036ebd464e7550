package gale.runtime;

/**
 * Why an instance stopped serving. The first reason recorded wins, so a call that
 * fails because of it reports the cause rather than a symptom ("connection reset").
 *
 * @param kind    what happened
 * @param message one line for users, e.g. "memory limit exceeded (512 MB)"
 */
public record InstanceFailure(Kind kind, String message) {

    public enum Kind {
        /** User code could not load: syntax, import, missing entry point. */
        LOAD_FAILED,
        /** The process exited or the connection broke unexpectedly. */
        CRASHED,
        /** Gone with the process it was forked from (its zygote died): not the function's doing, so starting another is safe. */
        LOST,
        /** Above the memory limit; killed by Gale. */
        MEMORY,
        /** A call ran past its deadline; killed by Gale. */
        TIMEOUT,
        /** Stopped on purpose: scale-down, redeploy, shutdown. */
        STOPPED
    }
}
