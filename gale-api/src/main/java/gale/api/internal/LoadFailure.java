package gale.api.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The function could not be loaded; becomes a LOAD_FAILED frame and the deploy's reason.
 *
 * @param kind      docs/protocol.md: {@code entry_point}, {@code dependency} or {@code error}
 * @param error     one line saying what is wrong and what to do
 * @param traceback the stack trace, when user code threw
 */
record LoadFailure(String kind, String error, String traceback) {

    static LoadFailure entryPoint(String error) {
        return new LoadFailure("entry_point", error, "");
    }

    Map<String, Object> header() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("kind", kind);
        h.put("error", error);
        h.put("traceback", traceback);
        return h;
    }

    /** Thrown inside the loader to carry the failure out. */
    static final class Exception extends java.lang.Exception {
        final transient LoadFailure failure;

        Exception(LoadFailure failure) {
            super(failure.error(), null, false, false);
            this.failure = failure;
        }
    }
}
